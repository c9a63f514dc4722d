using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NetIsolator.Isolators.Cni;
using NetIsolator.Isolators.Tests.CniIsolator;
using NetIsolator.Linux;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapper;

/// <summary>
/// The port-mapper plugin (build/bin/mesos-cni-port-mapper, wrapping bridge + host-local) as a network of the CNI
/// isolator, inside a <see cref="CniSandbox"/>'s fake host namespace, plus a client namespace wired to that host by
/// a veth pair (172.29.n.1 host side, .2 client side; no default routes anywhere). Dispose deletes the client
/// namespace and fails the test if any rule or chain of the network is left in the fake host.
/// </summary>
internal sealed class PortMapperNetwork : IDisposable
{
    private static int s_n = Random.Shared.Next(0, 250);

    public PortMapperNetwork(CniSandbox sandbox, string name = "pmnet")
    {
        Sandbox = sandbox;
        Name = name;
        N = Interlocked.Increment(ref s_n) % 250;
        Id = Guid.NewGuid().ToString("N")[..8];
        PluginsDir = Path.Join(sandbox.Directory, "plugins");
        Directory.CreateDirectory(PluginsDir);
        File.CreateSymbolicLink(Path.Join(PluginsDir, "mesos-cni-port-mapper"), NetIsolator.Testing.BuildTree.PortMapper);
        CniSandbox.Run("ip", "netns", "add", ClientNetns);
        CniSandbox.Run("ip", "-n", sandbox.HostNetns, "link", "set", "lo", "up");
        CniSandbox.Run("ip", "-n", ClientNetns, "link", "set", "lo", "up");
        CniSandbox.Run("ip", "-n", sandbox.HostNetns, "link", "add", "ph", "type", "veth", "peer", "name", "pc", "netns", ClientNetns);
        CniSandbox.Run("ip", "-n", sandbox.HostNetns, "addr", "add", $"{HostIp}/24", "dev", "ph");
        CniSandbox.Run("ip", "-n", ClientNetns, "addr", "add", $"172.29.{N}.2/24", "dev", "pc");
        CniSandbox.Run("ip", "-n", sandbox.HostNetns, "link", "set", "ph", "up");
        CniSandbox.Run("ip", "-n", ClientNetns, "link", "set", "pc", "up");
        File.WriteAllText(Path.Join(sandbox.ConfigDir, name + ".conflist"), """
            {"cniVersion":"1.0.0","name":"NAME","plugins":[{"type":"mesos-cni-port-mapper","chain":"CHAIN","capabilities":{"portMappings":true},
             "delegate":{"type":"bridge","bridge":"BRIDGE","isGateway":true,"ipMasq":false,"hairpinMode":true,
               "ipam":{"type":"host-local","dataDir":"IPAM","ranges":[[{"subnet":"10.217.N.0/24"}]],"routes":[{"dst":"172.29.N.0/24","gw":"10.217.N.1"}]}}}]}
            """.Replace("NAME", name, StringComparison.Ordinal).Replace("CHAIN", Chain, StringComparison.Ordinal)
            .Replace("BRIDGE", $"pmi{Id[..6]}", StringComparison.Ordinal).Replace("IPAM", sandbox.IpamDir, StringComparison.Ordinal)
            .Replace(".N.", $".{N}.", StringComparison.Ordinal));
    }

    public CniSandbox Sandbox { get; }

    public string Name { get; }

    public int N { get; }

    public string Id { get; }

    public string PluginsDir { get; }

    public string Chain => $"PMI-{Id}";

    public string ClientNetns => $"pmi-k{Id}";

    public string ClientNetnsPath => $"/run/netns/{ClientNetns}";

    public IPAddress HostIp => IPAddress.Parse($"172.29.{N}.1");

    public IPAddress BridgeIp => IPAddress.Parse($"10.217.{N}.1");

    public NetIsolator.Isolators.Cni.CniIsolator CreateIsolator() =>
        new(new CniIsolatorOptions
        {
            ConfigDirectory = Sandbox.ConfigDir,
            PluginsDirectory = $"{PluginsDir}:/usr/lib/cni",
            RuntimeDirectory = Sandbox.RuntimeDir,
            HostNetworkNamespace = Sandbox.HostNetnsPath,
            PluginTimeout = TimeSpan.FromSeconds(30),
        }, (level, message) => { lock (Sandbox.Log) { Sandbox.Log.Add((level, message)); } });

    /// <summary>
    /// Lines of the fake host's iptables-save that belong to this network (chains, rules, jumps, guard), and to the
    /// containers' own chains (<c>MCPM-DN-*</c>, <c>MCPM-SN-*</c>; the fake host has no other network).
    /// </summary>
    public List<string> RuleLines() =>
        [.. (CniSandbox.Run("ip", "netns", "exec", Sandbox.HostNetns, "iptables-save") + CniSandbox.Run("ip", "netns", "exec", Sandbox.HostNetns, "ip6tables-save"))
            .Split('\n').Where(l => l.Contains(Chain, StringComparison.Ordinal) || l.Contains("MCPM-", StringComparison.Ordinal))];

    public void Dispose()
    {
        List<string> left;
        try
        {
            left = RuleLines();
        }
        finally
        {
            CniSandbox.Run("ip", "netns", "del", ClientNetns);
        }

        Assert.Empty(left);
    }

    // ---- traffic: each socket is created inside its namespace, then used from the test's threads ----

    public static string Tcp(string netnsPath, IPAddress address, int port, string message)
    {
        using var ns = NetworkNamespace.Open(netnsPath);
        using var socket = ns.Run(() => new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        using (var connect = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            socket.ConnectAsync(new IPEndPoint(address, port), connect.Token).AsTask().GetAwaiter().GetResult();
        }

        socket.ReceiveTimeout = 5000;
        socket.Send(Encoding.ASCII.GetBytes(message));
        var buffer = new byte[256];
        return Encoding.ASCII.GetString(buffer, 0, socket.Receive(buffer));
    }

    public static string? Udp(string netnsPath, IPAddress address, int port, string message)
    {
        using var ns = NetworkNamespace.Open(netnsPath);
        using var socket = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        socket.ReceiveTimeout = 5000;
        socket.SendTo(Encoding.ASCII.GetBytes(message), new IPEndPoint(address, port));
        var buffer = new byte[256];
        try
        {
            return Encoding.ASCII.GetString(buffer, 0, socket.Receive(buffer));
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>TCP and UDP echo on <paramref name="port"/> inside a namespace until disposed.</summary>
    public static IDisposable Echo(string netnsPath, int port)
    {
        using var ns = NetworkNamespace.Open(netnsPath);
        var (tcp, udp) = ns.Run(() =>
        {
            var t = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            t.Bind(new IPEndPoint(IPAddress.Any, port));
            t.Listen(64);
            var u = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            u.Bind(new IPEndPoint(IPAddress.Any, port));
            return (t, u);
        });
        var stop = new CancellationTokenSource();
        var loops = new[]
        {
            Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        using var c = await tcp.AcceptAsync(stop.Token);
                        var b = new byte[256];
                        var n = await c.ReceiveAsync(b, SocketFlags.None, stop.Token);
                        await c.SendAsync(Encoding.ASCII.GetBytes($"{Encoding.ASCII.GetString(b, 0, n)} from {c.RemoteEndPoint}"), SocketFlags.None, stop.Token);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                }
            }),
            Task.Run(async () =>
            {
                try
                {
                    var b = new byte[256];
                    while (true)
                    {
                        var r = await udp.ReceiveFromAsync(b, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), stop.Token);
                        await udp.SendToAsync(Encoding.ASCII.GetBytes($"{Encoding.ASCII.GetString(b, 0, r.ReceivedBytes)} from {r.RemoteEndPoint}"), SocketFlags.None, r.RemoteEndPoint, stop.Token);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                }
            }),
        };
        return new Stopper(() =>
        {
            stop.Cancel();
            tcp.Dispose();
            udp.Dispose();
            Task.WaitAll(loops, TimeSpan.FromSeconds(5));
            stop.Dispose();
        });
    }

    private sealed class Stopper(Action stop) : IDisposable
    {
        public void Dispose() => stop();
    }
}
