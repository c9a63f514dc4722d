using System.Net;
using NetIsolator.Isolators.PortMappingIsolation;
using NetIsolator.Linux;
using NetIsolator.Testing;

namespace NetIsolator.Bench.PortMapping;

/// <summary>
/// One throwaway world per measured N: a "host" network namespace whose eth0 is a veth to a "peer" namespace (the
/// gateway), a temp dir for the bind-mount and symlink roots, and the containers: bare <c>unshare --net sleep</c>
/// processes. The machine's own namespace is only ever read (see <see cref="RootSnapshot"/>). Dispose kills the
/// containers, removes pins left in the temp dir, deletes both namespaces and the dir, and reports what was left.
/// </summary>
internal sealed class World : IDisposable
{
    private readonly List<ContainerProcess> _containers = [];

    public World()
    {
        Network = new FakeHostNetwork("pmbench-", "10.79");
        Directory = System.IO.Directory.CreateTempSubdirectory("pmbench-").FullName;
    }

    /// <summary>The fake host and its peer.</summary>
    public FakeHostNetwork Network { get; }

    public string HostNetns => Network.HostNetns;

    public string PeerNetns => Network.PeerNetns;

    public string HostNetnsPath => $"/run/netns/{HostNetns}";

    public string Directory { get; }

    public IPAddress HostIp => Network.HostIp;

    public IPAddress PeerIp => Network.PeerIp;

    public PortMappingOptions Options(string resources, int perContainer) => new()
    {
        Resources = AgentResources.Parse(resources),
        EphemeralPortsPerContainer = perContainer,
        HostNetworkNamespace = HostNetnsPath,
        BindMountRoot = Path.Join(Directory, "netns"),
        SymlinkRoot = Path.Join(Directory, "symlinks"),
    };

    /// <summary><paramref name="count"/> processes each in new network and UTS namespaces; their pids once all are in.</summary>
    public List<int> StartContainers(int count)
    {
        var started = new ContainerProcess[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
            started[i] = ContainerProcess.Start(mount: false, lifetime: TimeSpan.FromMinutes(10)));
        _containers.AddRange(started);
        return [.. started.Select(c => c.Pid)];
    }

    /// <summary><c>mesos*</c> links in the host namespace.</summary>
    public List<string> VethLinks() =>
        [.. Run("ip", "-n", HostNetns, "-o", "link", "show").Split('\n')
            .Select(l => l.Split(':', 3)).Where(p => p.Length > 1).Select(p => p[1].Trim().Split('@')[0])
            .Where(n => n.StartsWith("mesos", StringComparison.Ordinal))];

    /// <summary>Filters (one "fh" line each) on a host link's ingress.</summary>
    public int HostFilterCount(string device) =>
        Run("tc", "-n", HostNetns, "filter", "show", "dev", device, "ingress").Split('\n').Count(l => l.Contains("fh ", StringComparison.Ordinal) && !l.Contains("ht divisor", StringComparison.Ordinal));

    /// <summary>What the root namespace holds (links and qdiscs, as text), to show the run changed nothing there.</summary>
    public static string RootSnapshot() =>
        string.Join('\n', Run("ip", "-o", "link", "show").Split('\n').Select(l => l.Split(':', 3) is { Length: > 1 } p ? p[1].Trim() : "").Order(StringComparer.Ordinal))
        + "\n" + Run("tc", "qdisc", "show");

    /// <summary>Tears the world down; returns what the isolator or the command path left behind (empty = clean).</summary>
    public List<string> TearDown()
    {
        var problems = new List<string>();
        var vethLinks = VethLinks();
        if (vethLinks.Count > 0)
        {
            problems.Add($"{vethLinks.Count} mesos* link(s) left in {HostNetns}");
        }

        // Pins are nsfs mounts; the bind-mount root itself is a (shared) bind mount the isolator made, kept by design.
        var pins = MountInfo.ReadSelf().Where(m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal) && m.FilesystemType == "nsfs").Select(m => m.MountPoint).ToList();
        if (pins.Count > 0)
        {
            problems.Add($"{pins.Count} pin(s) left under {Directory}");
        }

        foreach (var container in _containers)
        {
            container.Dispose();
        }

        _containers.Clear();
        foreach (var pin in pins)
        {
            PersistentNetworkNamespace.Remove(pin);
        }

        Network.Delete();
        for (var i = 0; i < 8 && MountInfo.ReadSelf().LastOrDefault(m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal)) is { } mount; i++)
        {
            Run("umount", "-l", mount.MountPoint);
        }

        System.IO.Directory.Delete(Directory, recursive: true);
        return problems;
    }

    public void Dispose()
    {
        if (System.IO.Directory.Exists(Directory))
        {
            TearDown();
        }
    }

    public static string Run(string program, params string[] args) => FakeHostNetwork.Run(program, args);
}
