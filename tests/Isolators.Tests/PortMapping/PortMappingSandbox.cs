using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Mesos;
using Mesos.Slave;
using NetIsolator.Isolators.PortMappingIsolation;
using NetIsolator.Linux;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>
/// A throwaway world for one root test: a "host" network namespace whose eth0 (a veth, 10.78.N.2/24) leads to a
/// "peer" namespace (10.78.N.1, the default gateway), a temp dir for the bind-mount and symlink roots, and
/// containers started as <c>unshare --net --mount sleep</c>. The machine's own namespace is never touched. Dispose
/// kills the containers, deletes both namespaces and fails the test if the isolator left a <c>mesos*</c> link, a
/// pin or a symlink.
/// </summary>
internal sealed class PortMappingSandbox : IDisposable
{
    private static int s_subnet = Random.Shared.Next(0, 200);
    private readonly List<Process> _containers = [];

    public PortMappingSandbox()
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        HostNetns = $"netiso-pm-h{id}";
        PeerNetns = $"netiso-pm-p{id}";
        Directory = System.IO.Directory.CreateTempSubdirectory("netiso-pm-").FullName;
        var third = Interlocked.Increment(ref s_subnet) % 250;
        HostIp = IPAddress.Parse($"10.78.{third}.2");
        PeerIp = IPAddress.Parse($"10.78.{third}.1");
        Run("ip", "netns", "add", HostNetns);
        Run("ip", "netns", "add", PeerNetns);
        Run("ip", "-n", HostNetns, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0", "netns", PeerNetns);
        Run("ip", "-n", HostNetns, "addr", "add", $"{HostIp}/24", "dev", "eth0");
        Run("ip", "-n", HostNetns, "link", "set", "eth0", "up");
        Run("ip", "-n", HostNetns, "link", "set", "lo", "up");
        Run("ip", "-n", HostNetns, "route", "add", "default", "via", PeerIp.ToString());
        Run("ip", "-n", PeerNetns, "addr", "add", $"{PeerIp}/24", "dev", "peer0");
        Run("ip", "-n", PeerNetns, "link", "set", "peer0", "up");
        Run("ip", "-n", PeerNetns, "link", "set", "lo", "up");
        // The host's automatic ports must stay out of the ephemeral pool, as on a real agent.
        Run("ip", "netns", "exec", HostNetns, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=50000 60999");
    }

    public string HostNetns { get; }

    public string PeerNetns { get; }

    public string HostNetnsPath => $"/run/netns/{HostNetns}";

    public string PeerNetnsPath => $"/run/netns/{PeerNetns}";

    public string Directory { get; }

    public IPAddress HostIp { get; }

    public IPAddress PeerIp { get; }

    public List<(PortMappingLogLevel Level, string Message)> Log { get; } = [];

    public PortMappingOptions Options(string resources = "cpus:4;ephemeral_ports:[32768-33791];ports:[31000-32000]", int perContainer = 256) => new()
    {
        Resources = AgentResources.Parse(resources),
        EphemeralPortsPerContainer = perContainer,
        HostNetworkNamespace = HostNetnsPath,
        BindMountRoot = Path.Join(Directory, "netns"),
        SymlinkRoot = Path.Join(Directory, "symlinks"),
    };

    public PortMappingIsolator CreateIsolator(PortMappingOptions? options = null) =>
        new(options ?? Options(), (level, message) => { lock (Log) { Log.Add((level, message)); } });

    /// <summary>A process in new NET and MNT namespaces, as the launcher clones it.</summary>
    public int StartContainer()
    {
        var process = Process.Start(new ProcessStartInfo("unshare", ["--net", "--mount", "--propagation", "private", "sleep", "300"]))!;
        _containers.Add(process);
        var self = new FileInfo("/proc/self/ns/net").LinkTarget;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (new FileInfo($"/proc/{process.Id}/ns/net").LinkTarget == self)
        {
            Assert.True(DateTime.UtcNow < deadline, "unshare did not enter new namespaces");
            Thread.Sleep(10);
        }

        return process.Id;
    }

    public static ContainerConfig Config(string? ports = null, double cpus = 1)
    {
        var config = new ContainerConfig { CommandInfo = new CommandInfo(), Directory = "/tmp" };
        config.Resources.Add(new Resource { Name = "cpus", Type = Value.Types.Type.Scalar, Scalar = new Value.Types.Scalar { Value = cpus } });
        if (ports is not null)
        {
            config.Resources.Add(PortsResource(ports));
        }

        return config;
    }

    public static Resource PortsResource(string ports)
    {
        var resource = new Resource { Name = "ports", Type = Value.Types.Type.Ranges, Ranges = new Value.Types.Ranges() };
        foreach (var interval in PortSet.Parse(ports).Intervals)
        {
            resource.Ranges.Range.Add(new Value.Types.Range { Begin = (ulong)interval.Begin, End = (ulong)interval.End });
        }

        return resource;
    }

    /// <summary>prepare, start, isolate: the agent's launch. Returns the pid.</summary>
    public async Task<int> LaunchAsync(PortMappingIsolator isolator, ContainerID id, string? ports = null)
    {
        var launch = await isolator.PrepareAsync(id, Config(ports));
        Assert.NotNull(launch);
        var pid = StartContainer();
        await isolator.IsolateAsync(id, pid);
        return pid;
    }

    /// <summary>A TCP listener on 0.0.0.0:<paramref name="port"/> inside the namespace at <paramref name="netnsPath"/>.</summary>
    public static Socket Listen(string netnsPath, int port)
    {
        using var ns = NetworkNamespace.Open(netnsPath);
        return ns.Run(() =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            socket.Listen(16);
            return socket;
        });
    }

    /// <summary>
    /// Connects from the namespace to <paramref name="target"/>, sends a line and returns what the accepting side of
    /// <paramref name="listener"/> got and the client's local port, or null if no connection came within the timeout.
    /// </summary>
    public static (string Received, int ClientPort)? Exchange(string fromNetnsPath, IPEndPoint target, Socket listener, int timeoutMs = 3000)
    {
        using var ns = NetworkNamespace.Open(fromNetnsPath);
        using var client = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        // Accept only once connected: an accept left pending by a failed probe would swallow the next connection.
        var connect = client.ConnectAsync(target);
        try
        {
            if (!connect.Wait(timeoutMs))
            {
                return null;
            }
        }
        catch (AggregateException e) when (e.InnerException is SocketException)
        {
            return null;
        }

        var accept = listener.AcceptAsync();
        if (!accept.Wait(timeoutMs))
        {
            throw new TimeoutException($"connected to {target} but the listener accepted nothing");
        }

        using var accepted = accept.Result;
        client.Send("hello\n"u8);
        var buffer = new byte[64];
        accepted.ReceiveTimeout = timeoutMs;
        var read = accepted.Receive(buffer);
        return (System.Text.Encoding.ASCII.GetString(buffer, 0, read), ((IPEndPoint)client.LocalEndPoint!).Port);
    }

    /// <summary><c>mesos*</c> links in the host namespace.</summary>
    public List<string> VethLinks() =>
        [.. Run("ip", "-n", HostNetns, "-o", "link", "show").Split('\n')
            .Select(l => l.Split(':', 3)).Where(p => p.Length > 1).Select(p => p[1].Trim().Split('@')[0])
            .Where(n => n.StartsWith("mesos", StringComparison.Ordinal))];

    /// <summary>The u32 filters on a host link's ingress, as <c>tc</c> lists them (one "filter … fh 800::…" line each).</summary>
    public List<string> HostFilters(string device) =>
        [.. Run("tc", "-n", HostNetns, "filter", "show", "dev", device, "ingress").Split('\n').Where(l => l.Contains("fh ", StringComparison.Ordinal) && !l.Contains("ht divisor", StringComparison.Ordinal))];

    public List<string> Pins() =>
        [.. MountInfo.ReadSelf().Where(m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal) && m.FilesystemType == "nsfs").Select(m => m.MountPoint)];

    public void Dispose()
    {
        var vethLinks = VethLinks();
        var pins = Pins();
        var symlinks = System.IO.Directory.Exists(Path.Join(Directory, "symlinks")) ? System.IO.Directory.GetFileSystemEntries(Path.Join(Directory, "symlinks")) : [];
        foreach (var process in _containers)
        {
            try
            {
                process.Kill();
                process.WaitForExit();
            }
            catch (InvalidOperationException)
            {
            }

            process.Dispose();
        }

        foreach (var pin in pins)
        {
            PersistentNetworkNamespace.Remove(pin);
        }

        Run("ip", "netns", "del", HostNetns);
        Run("ip", "netns", "del", PeerNetns);
        for (var i = 0; i < 8 && MountInfo.ReadSelf().Any(m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal)); i++)
        {
            Run("umount", "-l", MountInfo.ReadSelf().Last(m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal)).MountPoint);
        }

        Assert.DoesNotContain(MountInfo.ReadSelf(), m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal));
        System.IO.Directory.Delete(Directory, recursive: true);
        Assert.False(File.Exists(HostNetnsPath));
        Assert.Empty(vethLinks);
        Assert.Empty(pins);
        Assert.Empty(symlinks);
    }

    public static string Run(string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {process.ExitCode}: {stderr}");
        return stdout.Result;
    }
}
