using System.Diagnostics;
using System.Text;
using NetIsolator.Cni.Cache;
using NetIsolator.Cni.Config;
using NetIsolator.Cni.Invocation;
using NetIsolator.Cni.Requests;
using NetIsolator.Cni.Runtime;
using NetIsolator.Linux;

namespace NetIsolator.Bench.PortMapper;

/// <summary>
/// One side of the comparison: a fake host namespace (its own bridge and iptables), a conflist, and the CNI runtime
/// that runs it, with the container namespaces it created.
/// </summary>
internal sealed class Side
{
    private readonly CniRuntime _runtime;
    private readonly NetworkConfigList _list;
    private readonly string _prefix;
    private readonly Dictionary<string, (string Netns, RuntimeConf Conf)> _attached = new(StringComparer.Ordinal);

    public Side(string name, string hostNetns, string directory, string cniPath, string conflist, string prefix)
    {
        Name = name;
        HostNetns = hostNetns;
        IpamDir = Path.Join(directory, "ipam");
        _prefix = prefix;
        _list = NetworkConfigList.FromBytes(Encoding.UTF8.GetBytes(conflist.Replace("IPAM_DIR", IpamDir, StringComparison.Ordinal)), $"{name}.conflist");
        _runtime = new CniRuntime(cniPath, new ResultCache(Path.Join(directory, "cache"), durability: Durability.ProcessCrash),
            new ProcessPluginExecutor($"/run/netns/{hostNetns}"), TimeSpan.FromSeconds(60));
    }

    public string Name { get; }

    public string HostNetns { get; }

    public string IpamDir { get; }

    /// <summary>Creates the container's netns (untimed), then times the network list's ADD.</summary>
    public double Add(string id, int firstPort, int count)
    {
        var netns = $"{_prefix}-{id}";
        World.Run("ip", "netns", "add", netns);
        var conf = new RuntimeConf
        {
            ContainerId = id,
            NetNsPath = $"/run/netns/{netns}",
            IfName = "eth0",
            Inputs = new RuntimeInputs
            {
                Capabilities = CapabilityArgs.Empty.WithPortMappings(Enumerable.Range(firstPort, count).Select(p => new PortMapping(p, 80))),
            },
        };
        _attached[id] = (netns, conf);
        var t0 = Stopwatch.GetTimestamp();
        _runtime.AddNetworkListAsync(_list, conf).GetAwaiter().GetResult();
        return Ms(t0);
    }

    /// <summary>Times the network list's DEL, then deletes the container's netns (untimed).</summary>
    public double Del(string id)
    {
        var (netns, conf) = _attached[id];
        var t0 = Stopwatch.GetTimestamp();
        _runtime.DelNetworkListAsync(_list, conf).GetAwaiter().GetResult();
        var ms = Ms(t0);
        World.Run("ip", "netns", "del", netns);
        _attached.Remove(id);
        return ms;
    }

    /// <summary>What a side left behind after all its DELs: leases, veths, per-container chains and rules.</summary>
    public List<string> Leftovers()
    {
        var problems = new List<string>();
        if (Directory.Exists(IpamDir))
        {
            problems.AddRange(Directory.EnumerateFiles(IpamDir, "*", SearchOption.AllDirectories)
                .Where(f => Path.GetFileName(f) != "lock" && !Path.GetFileName(f).StartsWith("last_reserved_ip", StringComparison.Ordinal))
                .Select(f => $"lease {f}"));
        }

        var veths = World.Run("ip", "-n", HostNetns, "-o", "link", "show", "type", "veth").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        if (veths > 0)
        {
            problems.Add($"{veths} veth(s) in {HostNetns}");
        }

        // Per-container state only: portmap keeps its top-level CNI-HOSTPORT-* chains by design.
        var rules = World.Run("ip", "netns", "exec", HostNetns, "iptables-save").Split('\n')
            .Where(l => l.Contains("PMBENCH", StringComparison.Ordinal) || l.Contains("MCPM-", StringComparison.Ordinal) || l.Contains("CNI-DN-", StringComparison.Ordinal) || l.Contains("container_id", StringComparison.Ordinal))
            .ToList();
        problems.AddRange(rules.Select(r => $"iptables: {r}"));
        return problems;
    }

    private static double Ms(long t0) => (Stopwatch.GetTimestamp() - t0) * 1000.0 / Stopwatch.Frequency;
}

/// <summary>Everything the run creates outside its memory (temp dir, namespaces), and its removal.</summary>
internal sealed class World : IDisposable
{
    public const string NetnsPrefix = "pmbench-";
    private readonly string _binary;
    private int _count;

    public World(string binary)
    {
        _binary = binary;
        Id = Guid.NewGuid().ToString("N")[..6];
        Directory = System.IO.Directory.CreateTempSubdirectory("pmbench-").FullName;
        PluginsDir = Path.Join(Directory, "plugins");
        System.IO.Directory.CreateDirectory(PluginsDir);
        File.CreateSymbolicLink(Path.Join(PluginsDir, "mesos-cni-port-mapper"), _binary);
    }

    public string Id { get; }

    public string Directory { get; }

    public string PluginsDir { get; }

    /// <summary>Fresh host namespaces for both sides (lo up), each with its own directory.</summary>
    public (Side Ours, Side Ref) NewSides()
    {
        var k = _count++;
        Side Make(string name, string conflist)
        {
            var host = $"{NetnsPrefix}{Id}-{name}h{k}";
            Run("ip", "netns", "add", host);
            Run("ip", "-n", host, "link", "set", "lo", "up");
            var directory = Path.Join(Directory, $"{name}{k}");
            System.IO.Directory.CreateDirectory(directory);
            return new Side(name, host, directory, $"{PluginsDir}:/usr/lib/cni", conflist, $"{NetnsPrefix}{Id}-{name}{k}");
        }

        return (Make("ours", Ours), Make("ref", Reference));
    }

    public void DeleteHost(Side side) => Run("ip", "netns", "del", side.HostNetns);

    private const string Bridge = """
        {"type":"bridge","bridge":"BR","isGateway":true,"ipMasq":false,"hairpinMode":true,
         "ipam":{"type":"host-local","ranges":[[{"subnet":"SUBNET"}]],"dataDir":"IPAM_DIR"}}
        """;

    private static string Ours => $$"""
        {"cniVersion":"1.0.0","name":"pmbench","plugins":[{"type":"mesos-cni-port-mapper","chain":"PMBENCH","capabilities":{"portMappings":true},
         "delegate":{{Bridge.Replace("BR", "pmo0", StringComparison.Ordinal).Replace("SUBNET", "10.243.0.0/16", StringComparison.Ordinal)}}}]}
        """;

    private static string Reference => $$"""
        {"cniVersion":"1.0.0","name":"pmbench","plugins":[{{Bridge.Replace("BR", "pmr0", StringComparison.Ordinal).Replace("SUBNET", "10.244.0.0/16", StringComparison.Ordinal)}},
         {"type":"portmap","capabilities":{"portMappings":true},"snat":true}]}
        """;

    /// <summary>The machine's own network namespace: links, addresses, routes and both iptables.</summary>
    public static string RootSnapshot() =>
        Run("ip", "-o", "link", "show") + Run("ip", "-o", "addr", "show") + Run("ip", "route", "show", "table", "all")
        + string.Join('\n', (Run("iptables-save") + Run("ip6tables-save")).Split('\n').Where(l => !l.StartsWith('#')));

    public void Dispose()
    {
        foreach (var name in Run("ip", "netns", "list").Split('\n', StringSplitOptions.RemoveEmptyEntries)
                     .Select(l => l.Split(' ')[0]).Where(n => n.StartsWith($"{NetnsPrefix}{Id}-", StringComparison.Ordinal)))
        {
            Run("ip", "netns", "del", name);
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }

    public static string Run(string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(60_000))
        {
            process.Kill();
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} did not finish in 60s");
        }

        return process.ExitCode == 0
            ? stdout.Result
            : throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Trim()}");
    }
}
