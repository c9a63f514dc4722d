using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using Mesos;
using Mesos.Slave;
using NetIsolator.Isolators.PortMappingIsolation;
using NetIsolator.Linux;
using NetIsolator.Testing;
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
    private readonly List<Process> _containers = [];
    private int _tornDown;

    public PortMappingSandbox()
    {
        Network = new FakeHostNetwork("netiso-pm-", "10.78");
        Directory = System.IO.Directory.CreateTempSubdirectory("netiso-pm-").FullName;
    }

    /// <summary>The fake host and its peer.</summary>
    public FakeHostNetwork Network { get; }

    public string HostNetns => Network.HostNetns;

    public string PeerNetns => Network.PeerNetns;

    public string HostNetnsPath => $"/run/netns/{HostNetns}";

    public string PeerNetnsPath => $"/run/netns/{PeerNetns}";

    public string Directory { get; }

    public IPAddress HostIp => Network.HostIp;

    public IPAddress PeerIp => Network.PeerIp;

    public List<(IsolatorLogLevel Level, string Message)> Log { get; } = [];

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
    public int StartContainer() => StartContainers(1, mount: true)[0];

    /// <summary>
    /// <paramref name="count"/> processes each in a new network namespace (and mount namespace if
    /// <paramref name="mount"/>), started a few at a time; returns their pids once every one is in its namespace.
    /// </summary>
    public List<int> StartContainers(int count, bool mount = false)
    {
        string[] arguments = mount ? ["--net", "--mount", "--propagation", "private", "sleep", "300"] : ["--net", "sleep", "300"];
        var started = new Process[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
            started[i] = Process.Start(new ProcessStartInfo("unshare", arguments))!);
        lock (_containers)
        {
            _containers.AddRange(started);
        }

        var self = new FileInfo("/proc/self/ns/net").LinkTarget;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        foreach (var process in started)
        {
            while (new FileInfo($"/proc/{process.Id}/ns/net").LinkTarget == self)
            {
                Assert.True(DateTime.UtcNow < deadline, $"unshare (pid {process.Id}) did not enter new namespaces within 30 s");
                Thread.Sleep(5);
            }
        }

        return [.. started.Select(p => p.Id)];
    }

    /// <summary>The checkpointed state the agent hands to recover for a container.</summary>
    public static ContainerState State(ContainerID id, int pid) => new() { ContainerId = id, Pid = (ulong)pid, Directory = "/tmp" };

    /// <summary>A UDP socket bound to 0.0.0.0:<paramref name="port"/> inside the namespace at <paramref name="netnsPath"/>.</summary>
    public static Socket UdpListen(string netnsPath, int port)
    {
        using var ns = NetworkNamespace.Open(netnsPath);
        return ns.Run(() =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            return socket;
        });
    }

    /// <summary>
    /// Sends one datagram from the namespace to <paramref name="target"/> and returns what <paramref name="receiver"/>
    /// got, or null if nothing arrived within the timeout.
    /// </summary>
    public static string? UdpExchange(string fromNetnsPath, IPEndPoint target, Socket receiver, int timeoutMs = 2000)
    {
        using var ns = NetworkNamespace.Open(fromNetnsPath);
        using var client = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        var payload = "datagram-" + Guid.NewGuid().ToString("N")[..8];
        var buffer = new byte[256];
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        // The first datagram may be lost while ARP resolves; resend a few times within the timeout.
        for (var attempt = 0; attempt < 10 && DateTime.UtcNow < deadline; attempt++)
        {
            client.SendTo(System.Text.Encoding.ASCII.GetBytes(payload), target);
            while (receiver.Poll(TimeSpan.FromMilliseconds(Math.Min(200, Math.Max(1, (deadline - DateTime.UtcNow).TotalMilliseconds))), SelectMode.SelectRead))
            {
                var text = System.Text.Encoding.ASCII.GetString(buffer, 0, receiver.Receive(buffer));
                if (text == payload)
                {
                    return text;
                }
            }
        }

        return null;
    }

    /// <summary>Runs a program inside the namespace at <paramref name="netnsPath"/> (<c>nsenter --net</c>) and returns its stdout.</summary>
    public static string RunIn(string netnsPath, string program, params string[] args) =>
        Run("nsenter", [$"--net={netnsPath}", program, .. args]);

    /// <summary>The namespace's IPv4 neighbour table: address → (MAC, state), from <c>ip -4 neigh show</c>.</summary>
    public static Dictionary<string, (string Mac, string State)> Neighbours(string netnsPath) =>
        RunIn(netnsPath, "ip", "-4", "neigh", "show").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Contains("lladdr"))
            .ToDictionary(f => f[0], f => (f[Array.IndexOf(f, "lladdr") + 1], f[^1]));

    /// <summary>The MAC of <paramref name="device"/> in the namespace (from <c>ip link</c>: sysfs shows the mounting namespace's links).</summary>
    public static string Mac(string netnsPath, string device)
    {
        var fields = RunIn(netnsPath, "ip", "-o", "link", "show", "dev", device).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields[Array.IndexOf(fields, "link/ether") + 1];
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
    public async Task<int> LaunchAsync(PortMappingIsolator isolator, ContainerID id, string? ports = null, double cpus = 1)
    {
        var launch = await isolator.PrepareAsync(id, Config(ports, cpus));
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

    /// <summary>
    /// Runs <paramref name="body"/> in a new sandbox and tears it down after. A failure of the body is never hidden by
    /// the teardown's findings: both are reported (the body's failure first); with a passing body, any leak fails the test.
    /// </summary>
    public static async Task RunAsync(Func<PortMappingSandbox, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var sandbox = new PortMappingSandbox();
        Exception? failure = null;
        try
        {
            await body(sandbox);
        }
        catch (Exception e)
        {
            failure = e;
        }

        var problems = sandbox.TearDown();
        if (failure is not null && problems.Count > 0)
        {
            throw new AggregateException($"the test failed, and its sandbox also found: {string.Join("; ", problems)}", failure, new LeakException(problems));
        }

        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }

        Assert.True(problems.Count == 0, $"the sandbox found: {string.Join("; ", problems)}");
    }

    /// <summary>Tears down and fails on leaks; for <c>using</c> (prefer <see cref="RunAsync"/>, which never hides the body's failure).</summary>
    public void Dispose()
    {
        var problems = TearDown();
        Assert.True(problems.Count == 0, $"the sandbox found: {string.Join("; ", problems)}");
    }

    /// <summary>
    /// Kills the containers, deletes both namespaces and the temp dir, and returns what the isolator left behind
    /// (<c>mesos*</c> links, pins, symlinks) and what could not be cleaned; never throws. Runs once.
    /// </summary>
    public List<string> TearDown()
    {
        var problems = new List<string>();
        if (Interlocked.Exchange(ref _tornDown, 1) != 0)
        {
            return problems;
        }

        void Attempt(string what, Action action)
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                problems.Add($"{what}: {e.Message}");
            }
        }

        List<string> vethLinks = [];
        List<string> pins = [];
        string[] symlinks = [];
        Attempt("listing mesos* links", () => vethLinks = VethLinks());
        Attempt("listing pins", () => pins = Pins());
        Attempt("listing symlinks", () => symlinks = System.IO.Directory.Exists(Path.Join(Directory, "symlinks")) ? System.IO.Directory.GetFileSystemEntries(Path.Join(Directory, "symlinks")) : []);
        if (vethLinks.Count > 0)
        {
            problems.Add($"leaked links: {string.Join(", ", vethLinks.Take(10))}{(vethLinks.Count > 10 ? $" (+{vethLinks.Count - 10})" : "")}");
        }

        if (pins.Count > 0)
        {
            problems.Add($"leaked pins: {string.Join(", ", pins.Take(10))}{(pins.Count > 10 ? $" (+{pins.Count - 10})" : "")}");
        }

        if (symlinks.Length > 0)
        {
            problems.Add($"leaked symlinks: {string.Join(", ", symlinks.Take(10))}");
        }

        foreach (var process in _containers)
        {
            Attempt($"killing container {process.Id}", () =>
            {
                try
                {
                    process.Kill();
                    process.WaitForExit();
                }
                catch (InvalidOperationException)
                {
                }
            });
            process.Dispose();
        }

        foreach (var pin in pins)
        {
            Attempt($"removing pin {pin}", () => PersistentNetworkNamespace.Remove(pin));
        }

        Attempt($"deleting {HostNetns}", () => Run("ip", "netns", "del", HostNetns));
        Attempt($"deleting {PeerNetns}", () => Run("ip", "netns", "del", PeerNetns));
        Attempt("unmounting what is left under the temp dir", () =>
        {
            for (var i = 0; i < 8 && MountInfo.ReadSelf().Any(m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal)); i++)
            {
                Run("umount", "-l", MountInfo.ReadSelf().Last(m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal)).MountPoint);
            }

            if (MountInfo.ReadSelf().Any(m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal)))
            {
                throw new IOException($"mounts remain under {Directory}");
            }
        });
        Attempt($"deleting {Directory}", () => System.IO.Directory.Delete(Directory, recursive: true));
        if (File.Exists(HostNetnsPath) || File.Exists(PeerNetnsPath))
        {
            problems.Add("a sandbox namespace pin survived 'ip netns del'");
        }

        return problems;
    }

    public static string Run(string program, params string[] args) => FakeHostNetwork.Run(program, args);
}

/// <summary>What a sandbox found at teardown (leaks, or cleanup that failed), reported beside the test's own failure.</summary>
internal sealed class LeakException(IReadOnlyList<string> problems) : Exception(string.Join("; ", problems));
