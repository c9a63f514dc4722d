using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Route;
using NetIsolator.Linux.Netlink.SockDiag;
using NetIsolator.Linux.Netlink.Tc;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Linux.Tests.Netlink;

/// <summary>The feature probe against the kernel's own config, and inet_diag against <c>ss</c>.</summary>
public sealed class KernelFeaturesAndDiagnosticsTests : IDisposable
{
    private readonly Scratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [RootFact]
    public void Probe_AgreesWithTheKernelConfig_AndLeavesNoNamespaceBehind()
    {
        var config = KernelConfig();
        var threadsBefore = Netns.ThreadLinks().Values.Distinct().Count();

        var features = KernelFeatures.Probe();

        Assert.Equal(
            new KernelFeatures(
                Ingress: config("NET_SCH_INGRESS"),
                Htb: config("NET_SCH_HTB"),
                FqCodel: config("NET_SCH_FQ_CODEL"),
                Sfq: config("NET_SCH_SFQ"),
                Prio: config("NET_SCH_PRIO"),
                Pfifo: config("NET_SCH_FIFO"),
                U32: config("NET_CLS_U32"),
                Basic: config("NET_CLS_BASIC"),
                Matchall: config("NET_CLS_MATCHALL"),
                Mirred: config("NET_ACT_MIRRED"),
                Gact: config("NET_ACT_GACT"),
                InetDiag: config("INET_DIAG")),
            features);
        Assert.Equal(features.Missing.Count == 0, features.ToString() == "all probed features present");
        // The probe's thread (and with it its namespace) is gone.
        Assert.Equal(threadsBefore, Netns.ThreadLinks().Values.Distinct().Count());
    }

    [RootFact]
    public void GetTcpSockets_ListenerAndConnection_WithRtt_AsSsShowsThem()
    {
        var ns = _scratch.NewNamespace();
        ns.Socket.SetLinkUp("lo");
        using var diag = NetlinkSocket.OpenIn(ns.Namespace, NetlinkFamily.SockDiag);
        var (listener, client, server) = ns.Namespace.Run(() =>
        {
            var l = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            l.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            l.Listen();
            var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            c.Connect(l.LocalEndPoint!);
            return (l, c, l.Accept());
        });
        using (listener)
        using (client)
        using (server)
        {
            client.Send(new byte[1000]);
            Assert.Equal(1000, server.Receive(new byte[2000]));
            var port = ((IPEndPoint)listener.LocalEndPoint!).Port;

            var sockets = diag.GetTcpSockets();

            var listening = Assert.Single(sockets, s => s.State == TcpState.Listen);
            Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), listening.Local);
            var established = sockets.Where(s => s.State == TcpState.Established).ToList();
            Assert.Equal(2, established.Count);
            var clientSide = Assert.Single(established, s => s.Remote.Port == port);
            Assert.Equal(client.LocalEndPoint, clientSide.Local);
            Assert.NotNull(clientSide.Info);
            Assert.True(clientSide.Info.RttMicroseconds > 0, $"rtt {clientSide.Info.RttMicroseconds}");
            Assert.True(clientSide.Info.CongestionWindow > 0);
            Assert.NotEqual(0u, clientSide.Inode);
            // Filtering by state happens in the kernel.
            Assert.Equal([TcpState.Listen], diag.GetTcpSockets(states: TcpState.Listen).Select(s => s.State));
            Assert.Empty(diag.GetTcpSockets(AddressFamily.InterNetworkV6));

            var ss = ns.Run("ss", "-tni", "state", "established");
            Assert.Contains($"127.0.0.1:{port}", ss, StringComparison.Ordinal);
            Assert.Matches(@"rtt:\d", ss);
        }
    }

    [RootFact]
    public void GetTcpSockets_OnARouteSocket_IsRefused()
    {
        var ns = _scratch.NewNamespace();
        Assert.Throws<InvalidOperationException>(() => ns.Socket.GetTcpSockets());
    }

    /// <summary>CONFIG_X=y or =m in /proc/config.gz (the kernel this runs on). Modules count as present: the kernel loads them on demand.</summary>
    private static Func<string, bool> KernelConfig()
    {
        Assert.True(File.Exists("/proc/config.gz"), "this test needs /proc/config.gz (CONFIG_IKCONFIG_PROC) as its oracle");
        using var gzip = new GZipStream(File.OpenRead("/proc/config.gz"), CompressionMode.Decompress);
        var lines = new StreamReader(gzip).ReadToEnd().Split('\n');
        var set = lines.Where(l => l.EndsWith("=y", StringComparison.Ordinal) || l.EndsWith("=m", StringComparison.Ordinal))
            .Select(l => l[..l.IndexOf('=', StringComparison.Ordinal)])
            .ToHashSet(StringComparer.Ordinal);
        return name => set.Contains("CONFIG_" + name);
    }
}
