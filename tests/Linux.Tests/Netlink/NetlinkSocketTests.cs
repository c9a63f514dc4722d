using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NetIsolator.Linux.Netlink;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Linux.Tests.Netlink;

/// <summary>Link dumps over a real NETLINK_ROUTE socket, in a namespace of each test's own. Never touches the host's netns.</summary>
public sealed class NetlinkSocketTests : IDisposable
{
    private readonly Sandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [RootFact]
    public void DumpLinks_InAFreshNamespace_ListsOnlyLo_WithCounters()
    {
        using var pin = new Pin(_sandbox);
        using var socket = NetlinkSocket.OpenIn(pin.Namespace);

        var links = socket.DumpLinks();

        var lo = Assert.Single(links);
        Assert.Equal("lo", lo.Name);
        Assert.Equal(1, lo.Index);
        Assert.NotNull(lo.Counters);
        Assert.Equal(0UL, lo.Counters.Value.RxPackets);
    }

    [RootFact]
    public void DumpLinks_FromTheTestThread_KeepsReportingTheNamespaceItWasOpenedIn()
    {
        var before = Netns.CurrentThreadLink();
        using var pin = new Pin(_sandbox);
        using var socket = NetlinkSocket.OpenIn(pin.Namespace);
        Assert.Equal(before, Netns.CurrentThreadLink());
        RunIn(pin.Path, "ip", "link", "add", "nltest0", "type", "veth", "peer", "name", "nltest1");

        Assert.Equal(["lo", "nltest0", "nltest1"], socket.DumpLinks().Select(l => l.Name).Order(StringComparer.Ordinal));
        // The test thread's own namespace has no such link.
        using var here = NetlinkSocket.Open();
        Assert.DoesNotContain(here.DumpLinks(), l => l.Name == "nltest0");
        Assert.Equal(Netns.CurrentThreadInterfaces().Order(StringComparer.Ordinal), here.DumpLinks().Select(l => l.Name).Order(StringComparer.Ordinal));

        // Used from other threads too, repeatedly and concurrently.
        var counts = Enumerable.Range(0, 8).AsParallel().Select(_ => socket.DumpLinks().Count).ToList();
        Assert.All(counts, c => Assert.Equal(3, c));
    }

    [RootFact]
    public void DumpLinks_CountsUdpDatagramsSentOverLo()
    {
        using var pin = new Pin(_sandbox);
        using var socket = NetlinkSocket.OpenIn(pin.Namespace);
        RunIn(pin.Path, "ip", "link", "set", "lo", "up");
        var before = Lo(socket);
        const int Datagrams = 10;

        pin.Namespace.Run(() =>
        {
            using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            for (var i = 0; i < Datagrams; i++)
            {
                sender.SendTo(new byte[100], receiver.LocalEndPoint!);
            }
        });

        var after = Lo(socket);
        Assert.True(after.TxPackets - before.TxPackets >= Datagrams, $"tx {before.TxPackets} -> {after.TxPackets}");
        Assert.True(after.RxPackets - before.RxPackets >= Datagrams, $"rx {before.RxPackets} -> {after.RxPackets}");
        Assert.True(after.TxBytes - before.TxBytes >= Datagrams * 100UL, $"tx bytes {before.TxBytes} -> {after.TxBytes}");
    }

    [RootFact]
    public void OpenIn_ANamespaceWhosePinIsGone_StillWorks_UntilDisposed_AndDisposeClosesTheFd()
    {
        var pin = new Pin(_sandbox);
        var socket = NetlinkSocket.OpenIn(pin.Namespace);
        var fd = $"/proc/self/fd/{socket.Handle.FileDescriptor}";
        var inode = new FileInfo(fd).LinkTarget;
        Assert.StartsWith("socket:[", inode);
        pin.Dispose();

        // The socket keeps its namespace alive.
        Assert.Equal("lo", Assert.Single(socket.DumpLinks()).Name);
        socket.Dispose();
        Assert.True(socket.Handle.IsClosed);
        Assert.NotEqual(inode, File.Exists(fd) ? new FileInfo(fd).LinkTarget : null);
        Assert.Throws<ObjectDisposedException>(() => socket.DumpLinks());
    }

    private static LinkCounters Lo(NetlinkSocket socket) =>
        Assert.Single(socket.DumpLinks(), l => l.Name == "lo").Counters!.Value;

    /// <summary>Runs a command started inside the namespace (nsenter would do too) and checks it succeeded.</summary>
    private static void RunIn(string pin, string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo("nsenter", [$"--net={pin}", program, .. args]) { RedirectStandardError = true })!;
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)}: {stderr}");
    }

    /// <summary>A pinned namespace of the test's own, opened; dispose closes and unpins it.</summary>
    private sealed class Pin : IDisposable
    {
        public Pin(Sandbox sandbox)
        {
            Path = sandbox.PathOf("ns-" + Guid.NewGuid().ToString("N")[..6]);
            PersistentNetworkNamespace.Create(Path);
            Namespace = NetworkNamespace.Open(Path);
        }

        public string Path { get; }

        public NetworkNamespace Namespace { get; }

        public void Dispose()
        {
            Namespace.Dispose();
            PersistentNetworkNamespace.Remove(Path);
        }
    }
}
