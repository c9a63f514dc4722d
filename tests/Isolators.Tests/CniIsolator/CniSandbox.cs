using System.Diagnostics;
using Mesos;
using NetIsolator.Bridge;
using Mesos.Slave;
using NetIsolator.Isolators.Cni;
using NetIsolator.Linux;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>
/// Everything a root test of the CNI isolator needs, private to the test and removed on dispose: a fake host network
/// namespace (<c>ip netns add netiso-i-h&lt;random&gt;</c>) in which the plugins run, a temp dir holding the CNI config
/// dir, host-local's data dir and the runtime dir (ROOT = runtime/isolators/network/cni), and "containers": real
/// <c>unshare --net --uts --mount</c> sleeps. The machine's own network namespace is never touched.
/// Dispose kills the containers, deletes the fake host (its bridge goes with it), unmounts ROOT, and fails the test
/// if the isolator left anything: an nsfs mount under ROOT, a container directory, or a host-local lease.
/// </summary>
internal sealed class CniSandbox : IDisposable
{
    private static int s_subnet = Random.Shared.Next(0, 200);
    private readonly List<ContainerProcess> _containers = [];

    public CniSandbox()
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        HostNetns = $"netiso-i-h{id}";
        Directory = System.IO.Directory.CreateTempSubdirectory("netiso-cni-iso-").FullName;
        ConfigDir = Path.Join(Directory, "conf");
        IpamDir = Path.Join(Directory, "ipam");
        RuntimeDir = Path.Join(Directory, "runtime");
        System.IO.Directory.CreateDirectory(ConfigDir);
        Run("ip", "netns", "add", HostNetns);
        BridgePrefix = $"nb{id[..6]}";
    }

    public string HostNetns { get; }

    public string HostNetnsPath => $"/run/netns/{HostNetns}";

    public string Directory { get; }

    public string ConfigDir { get; }

    public string IpamDir { get; }

    public string RuntimeDir { get; }

    public string BridgePrefix { get; }

    public string Root => Path.Join(RuntimeDir, CniIsolatorOptions.RootSuffix);

    public List<(IsolatorLogLevel Level, string Message)> Log { get; } = [];

    /// <summary>Writes a bridge + host-local conflist on a private /24 and returns its subnet prefix ("10.215.x.").</summary>
    public string AddNetwork(string name, string fileName = "")
    {
        var third = Interlocked.Increment(ref s_subnet) % 250;
        var prefix = $"10.215.{third}.";
        var bridge = $"{BridgePrefix}{third}";
        File.WriteAllText(Path.Join(ConfigDir, (fileName.Length > 0 ? fileName : name) + ".conflist"), $$$"""
            {"cniVersion":"1.0.0","name":"{{{name}}}","plugins":[{"type":"bridge","bridge":"{{{bridge}}}","isGateway":true,"ipMasq":false,
             "ipam":{"type":"host-local","dataDir":"{{{IpamDir}}}","ranges":[[{"subnet":"{{{prefix}}}0/24"}]]}}]}
            """);
        return prefix;
    }

    public NetIsolator.Isolators.Cni.CniIsolator CreateIsolator() =>
        new(new CniIsolatorOptions
        {
            ConfigDirectory = ConfigDir,
            PluginsDirectory = "/usr/lib/cni",
            RuntimeDirectory = RuntimeDir,
            HostNetworkNamespace = HostNetnsPath,
            PluginTimeout = TimeSpan.FromSeconds(30),
        }, (level, message) => { lock (Log) { Log.Add((level, message)); } });

    /// <summary>A container process (see <see cref="ContainerProcess.Start"/>), killed when the sandbox is disposed.</summary>
    public int StartContainer(bool network = true, bool mount = true, int? enterNamespacesOf = null)
    {
        var container = ContainerProcess.Start(network, mount, enterNamespacesOf);
        _containers.Add(container);
        return container.Pid;
    }

    /// <summary>What the agent does before isolate: prepare the container for <paramref name="networks"/>, then
    /// start its process. Returns the pid, for an isolate the test makes itself (one that must fail, say).</summary>
    public async Task<int> PrepareAndStartAsync(Isolator isolator, ContainerID id, params NetworkInfo[] networks)
    {
        await isolator.PrepareAsync(id, Config(networks));
        return StartContainer();
    }

    /// <summary>The agent's whole launch: prepare, start the process, isolate it. Returns the pid.</summary>
    public async Task<int> AttachAsync(Isolator isolator, ContainerID id, params NetworkInfo[] networks)
    {
        var pid = await PrepareAndStartAsync(isolator, id, networks);
        await isolator.IsolateAsync(id, pid);
        return pid;
    }

    public void KillContainer(int pid) => _containers.Single(c => c.Pid == pid).Kill();

    /// <summary>Interface names in the process's network namespace.</summary>
    public static List<string> Interfaces(int pid)
    {
        using var ns = NetworkNamespace.Open($"/proc/{pid}/ns/net");
        var netDev = ns.Run(() => File.ReadAllText("/proc/thread-self/net/dev"));
        return [.. netDev.Split('\n').Skip(2).Where(l => l.Contains(':')).Select(l => l[..l.IndexOf(':')].Trim()).Order(StringComparer.Ordinal)];
    }

    /// <summary><c>ip -4 -o addr show dev &lt;ifname&gt;</c> inside the process's network namespace.</summary>
    public static string Addresses(int pid, string ifName) =>
        Run("nsenter", $"--net=/proc/{pid}/ns/net", "ip", "-o", "addr", "show", "dev", ifName);

    /// <summary>host-local lease files (everything in its data dir but its lock and last-reserved files).</summary>
    public List<string> Leases() =>
        !System.IO.Directory.Exists(IpamDir)
            ? []
            : [.. System.IO.Directory.EnumerateFiles(IpamDir, "*", SearchOption.AllDirectories)
                .Where(f => Path.GetFileName(f) != "lock" && !Path.GetFileName(f).StartsWith("last_reserved_ip", StringComparison.Ordinal))];

    public List<string> NsfsMountsUnderRoot() =>
        [.. MountInfo.ReadSelf().Where(m => m.FilesystemType == "nsfs" && m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal)).Select(m => m.MountPoint)];

    public List<string> ContainerDirectories() =>
        System.IO.Directory.Exists(Root) ? [.. System.IO.Directory.EnumerateFileSystemEntries(Root)] : [];

    /// <summary>Links in the fake host namespace (the bridges and veth host ends the plugins made).</summary>
    public string HostLinks() => Run("ip", "-n", HostNetns, "-o", "link", "show");

    /// <summary>
    /// The host's links once no veth is left among them, or as they are after 10 s. A veth's host end goes when its
    /// peer's namespace is destroyed, and the kernel destroys a namespace in a work queue after its last reference
    /// is dropped, not in the call that drops it.
    /// </summary>
    public string HostLinksOnceVethsAreGone()
    {
        var links = HostLinks();
        for (var i = 0; i < 200 && links.Contains("veth", StringComparison.Ordinal); i++)
        {
            Thread.Sleep(50);
            links = HostLinks();
        }

        return links;
    }

    public static ContainerConfig Config(params NetworkInfo[] networks) => new()
    {
        CommandInfo = new CommandInfo(),
        Directory = "/tmp",
        ContainerInfo = new ContainerInfo { Type = ContainerInfo.Types.Type.Mesos, NetworkInfos = { networks } },
    };

    public static ContainerID NewId(ContainerID? parent = null) => new() { Value = Guid.NewGuid().ToString(), Parent = parent };

    public void Dispose()
    {
        var mounts = NsfsMountsUnderRoot();
        var directories = ContainerDirectories();
        var leases = Leases();
        foreach (var container in _containers)
        {
            container.Dispose();
        }

        foreach (var mount in mounts)
        {
            PersistentNetworkNamespace.Remove(mount);
        }

        Run("ip", "netns", "del", HostNetns);
        for (var i = 0; i < 8 && MountInfo.ReadSelf().Any(m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal)); i++)
        {
            var mount = MountInfo.ReadSelf().Last(m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal));
            Run("umount", "-l", mount.MountPoint);
        }

        Assert.DoesNotContain(MountInfo.ReadSelf(), m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal));
        System.IO.Directory.Delete(Directory, recursive: true);
        Assert.False(File.Exists(HostNetnsPath));
        Assert.Empty(mounts);
        Assert.Empty(directories);
        Assert.Empty(leases);
    }

    /// <summary>Runs a command that may fail; returns its exit status and output.</summary>
    public static (int ExitCode, string Stdout, string Stderr) RunAllowingFailure(string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
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
