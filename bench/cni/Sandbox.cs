using System.Diagnostics;
using NetIsolator.Linux;
using NetIsolator.Testing;

namespace NetIsolator.Bench.Cni;

/// <summary>
/// Everything the benchmark creates outside its own memory, and its removal: a temp directory (CNI config dir,
/// host-local data dirs, the isolator's runtime dir), fake host network namespaces (<c>ip netns add nibench-…</c>,
/// in which both sides run their plugins, so bridges and veth host ends never reach the machine's own namespace),
/// the reference's per-container namespaces, and the "container" processes (<c>unshare --net --uts --mount</c> sleeps).
/// </summary>
internal sealed class Sandbox : IDisposable
{
    public const string NetnsPrefix = "nibench-";
    public const string PluginsDirectory = "/usr/lib/cni";

    private readonly List<ContainerProcess> _containers = [];
    private readonly HashSet<string> _namespaces = new(StringComparer.Ordinal);
    private int _hostCount;

    public Sandbox()
    {
        Id = Guid.NewGuid().ToString("N")[..6];
        Directory = System.IO.Directory.CreateTempSubdirectory("nibench-cni-").FullName;
        System.IO.Directory.CreateDirectory(ConfigDir);
        System.IO.Directory.CreateDirectory(OursIpamDir);
        System.IO.Directory.CreateDirectory(RefIpamDir);
    }

    public string Id { get; }

    public string Directory { get; }

    public string ConfigDir => Path.Join(Directory, "conf");

    public string OursIpamDir => Path.Join(Directory, "ipam-ours");

    public string RefIpamDir => Path.Join(Directory, "ipam-ref");

    public string RuntimeDir => Path.Join(Directory, "runtime");

    /// <summary>Creates a fake host network namespace (lo up) and returns its name.</summary>
    public string NewHostNamespace(string side)
    {
        var name = $"{NetnsPrefix}{Id}-{side}h{_hostCount++}";
        Run("ip", "netns", "add", name);
        lock (_namespaces)
        {
            _namespaces.Add(name);
        }

        Run("ip", "-n", name, "link", "set", "lo", "up");
        return name;
    }

    public void DeleteNamespace(string name)
    {
        Run("ip", "netns", "del", name);
        lock (_namespaces)
        {
            _namespaces.Remove(name);
        }
    }

    /// <summary>Records a namespace created by the reference path (so a failed run still removes it).</summary>
    public void Track(string name, bool exists)
    {
        lock (_namespaces)
        {
            if (exists)
            {
                _namespaces.Add(name);
            }
            else
            {
                _namespaces.Remove(name);
            }
        }
    }

    /// <summary>Starts <paramref name="count"/> container processes, each in its own NET, UTS and MNT namespaces.</summary>
    public List<int> StartContainers(int count)
    {
        var started = new ContainerProcess[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
            started[i] = ContainerProcess.Start(lifetime: TimeSpan.FromMinutes(10)));
        _containers.AddRange(started);
        return [.. started.Select(c => c.Pid)];
    }

    public void KillContainers()
    {
        foreach (var container in _containers)
        {
            container.Dispose();
        }

        _containers.Clear();
    }

    /// <summary>host-local lease files left in either data dir (all but its lock and last-reserved files).</summary>
    public List<string> Leases() =>
        [.. new[] { OursIpamDir, RefIpamDir }.Where(System.IO.Directory.Exists)
            .SelectMany(d => System.IO.Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))
            .Where(f => Path.GetFileName(f) != "lock" && !Path.GetFileName(f).StartsWith("last_reserved_ip", StringComparison.Ordinal))];

    public List<string> NsfsMounts() =>
        [.. MountInfo.ReadSelf().Where(m => m.FilesystemType == "nsfs" && m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal)).Select(m => m.MountPoint)];

    public List<string> ContainerDirectories(string? root) =>
        root is not null && System.IO.Directory.Exists(root) ? [.. System.IO.Directory.EnumerateFileSystemEntries(root)] : [];

    /// <summary>veth links in a fake host namespace (the host ends the bridge plugin made).</summary>
    public static int VethCount(string hostNamespace) =>
        Run("ip", "-n", hostNamespace, "-o", "link", "show", "type", "veth").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    /// <summary>Names in <c>ip netns list</c> that this run created.</summary>
    public List<string> OurNetnsNames() =>
        [.. Run("ip", "netns", "list").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0]).Where(n => n.StartsWith($"{NetnsPrefix}{Id}-", StringComparison.Ordinal))];

    /// <summary>What the machine's own network namespace looks like (compared before and after).</summary>
    public static string RootNetworkSnapshot() =>
        Run("ip", "-o", "link", "show") + Run("ip", "-o", "addr", "show") + Run("ip", "route", "show", "table", "all");

    public void Dispose()
    {
        KillContainers();
        List<string> left;
        lock (_namespaces)
        {
            left = [.. _namespaces];
        }

        foreach (var name in left)
        {
            TryRun("ip", "netns", "del", name);
        }

        foreach (var mount in NsfsMounts())
        {
            PersistentNetworkNamespace.Remove(mount);
        }

        for (var i = 0; i < 8; i++)
        {
            var mounts = MountInfo.ReadSelf().Where(m => m.MountPoint.StartsWith(Directory + "/", StringComparison.Ordinal)).ToList();
            if (mounts.Count == 0)
            {
                break;
            }

            TryRun("umount", "-l", mounts[^1].MountPoint);
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"bench: could not remove {Directory}: {e.Message}");
        }
    }

    public static string Run(string program, params string[] args)
    {
        var (code, stdout, stderr) = Exec(program, args);
        if (code != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {code}: {stderr.Trim()}");
        }

        return stdout;
    }

    private static void TryRun(string program, params string[] args)
    {
        var (code, _, stderr) = Exec(program, args);
        if (code != 0)
        {
            Console.Error.WriteLine($"bench: {program} {string.Join(' ', args)} exited {code}: {stderr.Trim()}");
        }
    }

    private static (int Code, string Stdout, string Stderr) Exec(string program, string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }
}
