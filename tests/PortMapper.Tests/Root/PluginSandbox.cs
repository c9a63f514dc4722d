using System.Diagnostics;
using System.Net;
using System.Text;
using NetIsolator.Cni.Invocation;
using NetIsolator.Cni.Requests;
using NetIsolator.PortMapper.Rules;
using Xunit;

namespace NetIsolator.PortMapper.Tests.Root;

/// <summary>What one plugin run answered.</summary>
internal sealed record PluginRun(int ExitCode, string Stdout, CniError? Error, string Stderr)
{
    public uint? Code => Error?.Code;
}

/// <summary>
/// A private little world for one test, all in namespaces it creates and deletes (the machine's own network
/// namespace is never touched):
/// <code>
///   client ns (pmt-k…)                host ns (pmt-h…)                         container ns (pmt-c…-N)
///   kc 172.30.n.2/24 ──veth── kh 172.30.n.1/24      bridge pmb… 10.218.n.1/24 ──veth── eth0 10.218.n.x/24
///                                  iptables of the plugin live here            (routes: 172.30.n.0/24 via .1)
/// </code>
/// The plugin runs inside the host namespace with Debian's bridge + host-local as its delegate. No default route
/// and no masquerading out exist anywhere. Dispose fails the test if rules, chains, veths or leases are left.
/// </summary>
internal sealed class PluginSandbox : IDisposable
{
    public const string CniPath = "/usr/lib/cni";
    private static int s_network = Random.Shared.Next(0, 250);
    private readonly List<string> _containers = [];
    private int _containerCount;

    public PluginSandbox(bool ipv6 = false)
    {
        Id = Guid.NewGuid().ToString("N")[..8];
        N = Interlocked.Increment(ref s_network) % 250;
        Ipv6 = ipv6;
        Directory = System.IO.Directory.CreateTempSubdirectory("pmt-").FullName;
        Run("ip", "netns", "add", HostNetns);
        Run("ip", "netns", "add", ClientNetns);
        Run("ip", "-n", HostNetns, "link", "set", "lo", "up");
        Run("ip", "-n", ClientNetns, "link", "set", "lo", "up");
        Run("ip", "-n", HostNetns, "link", "add", "kh", "type", "veth", "peer", "name", "kc", "netns", ClientNetns);
        Run("ip", "-n", HostNetns, "addr", "add", $"{HostIp}/24", "dev", "kh");
        Run("ip", "-n", ClientNetns, "addr", "add", $"{ClientIp}/24", "dev", "kc");
        if (ipv6)
        {
            Run("ip", "-n", HostNetns, "addr", "add", $"{HostIp6}/64", "dev", "kh", "nodad");
            Run("ip", "-n", ClientNetns, "addr", "add", $"fd30:{N:x}::2/64", "dev", "kc", "nodad");
        }

        Run("ip", "-n", HostNetns, "link", "set", "kh", "up");
        Run("ip", "-n", ClientNetns, "link", "set", "kc", "up");
    }

    public string Id { get; }

    public int N { get; }

    public bool Ipv6 { get; }

    public string Directory { get; }

    public string HostNetns => $"pmt-h{Id}";

    public string ClientNetns => $"pmt-k{Id}";

    public string HostNetnsPath => $"/run/netns/{HostNetns}";

    public string ClientNetnsPath => $"/run/netns/{ClientNetns}";

    public IPAddress HostIp => IPAddress.Parse($"172.30.{N}.1");

    public IPAddress HostIp6 => IPAddress.Parse($"fd30:{N:x}::1");

    public IPAddress ClientIp => IPAddress.Parse($"172.30.{N}.2");

    public IPAddress BridgeIp => IPAddress.Parse($"10.218.{N}.1");

    public string Chain => $"PMT-{Id}";

    public string IpamDir => Path.Join(Directory, "ipam");

    /// <summary>A port-mapper config wrapping bridge + host-local. <paramref name="mappings"/> is the portMappings JSON array.</summary>
    public string Config(string mappings = "[]", string cniVersion = "1.0.0", string extra = "")
    {
        var ranges = Ipv6
            ? $$"""[[{"subnet":"10.218.{{N}}.0/24"}],[{"subnet":"fd18:{{N:x}}::/64"}]]"""
            : $$"""[[{"subnet":"10.218.{{N}}.0/24"}]]""";
        var routes = Ipv6
            ? $$"""[{"dst":"172.30.{{N}}.0/24","gw":"10.218.{{N}}.1"},{"dst":"fd30:{{N:x}}::/64","gw":"fd18:{{N:x}}::1"}]"""
            : $$"""[{"dst":"172.30.{{N}}.0/24","gw":"10.218.{{N}}.1"}]""";
        var version = cniVersion.Length == 0 ? "" : $"\"cniVersion\":\"{cniVersion}\",";
        return $$$"""
            {{{{version}}}"name":"pmt","type":"mesos-cni-port-mapper","chain":"{{{Chain}}}"{{{extra}}},
             "delegate":{"type":"bridge","bridge":"pmb{{{Id[..6]}}}","isGateway":true,"ipMasq":false,"hairpinMode":true,
               "ipam":{"type":"host-local","dataDir":"{{{IpamDir}}}","ranges":{{{ranges}}},"routes":{{{routes}}}}},
             "runtimeConfig":{"portMappings":{{{mappings}}}}}
            """;
    }

    /// <summary>A new, empty container namespace (lo up); returns its path.</summary>
    public string NewContainer()
    {
        var name = $"pmt-c{Id}-{Interlocked.Increment(ref _containerCount)}";
        Run("ip", "netns", "add", name);
        lock (_containers)
        {
            _containers.Add(name);
        }

        Run("ip", "-n", name, "link", "set", "lo", "up");
        return $"/run/netns/{name}";
    }

    public void DeleteContainer(string path)
    {
        var name = Path.GetFileName(path);
        Run("ip", "netns", "del", name);
        lock (_containers)
        {
            _containers.Remove(name);
        }
    }

    /// <summary>Runs the AOT plugin in the host namespace, as a runtime would.</summary>
    public PluginRun Invoke(PluginCommand command, string containerId, string? netns, string config, string? pathPrefix = null)
    {
        IEnumerable<KeyValuePair<string, string>>? environment = null;
        if (pathPrefix is not null)
        {
            environment = PluginEnvironmentOf(pathPrefix);
        }

        var executor = new ProcessPluginExecutor(HostNetnsPath, environment);
        var invocation = new PluginInvocation
        {
            PluginPath = PluginBinary.Path,
            Command = command,
            ContainerId = containerId,
            NetNsPath = netns,
            IfName = "eth0",
            CniPath = CniPath,
            Stdin = Encoding.UTF8.GetBytes(config),
            TimeLimit = TimeSpan.FromSeconds(60),
        };
        try
        {
            var output = executor.ExecuteAsync(invocation).GetAwaiter().GetResult();
            return new PluginRun(0, Encoding.UTF8.GetString(output.Stdout), null, output.Stderr);
        }
        catch (CniPluginException e) when (e.Kind == PluginFailureKind.ExitedNonZero)
        {
            return new PluginRun(e.ExitCode ?? -1, e.RawStdout ?? "", e.Error, e.Stderr);
        }
    }

    public PluginRun Add(string containerId, string netns, string config)
    {
        var run = Invoke(PluginCommand.Add, containerId, netns, config);
        Assert.True(run.ExitCode == 0, $"ADD {containerId} failed: {run.Error} {run.Stdout} {run.Stderr}");
        return run;
    }

    public void Del(string containerId, string? netns, string config)
    {
        var run = Invoke(PluginCommand.Del, containerId, netns, config);
        Assert.True(run.ExitCode == 0, $"DEL {containerId} failed: {run.Error} {run.Stdout} {run.Stderr}");
    }

    /// <summary>The host namespace's tables of one family.</summary>
    public RulesetSnapshot Tables(IpFamily family = IpFamily.V4, string backend = "nft") =>
        RulesetSnapshot.Parse(Run("ip", "netns", "exec", HostNetns, $"{(family == IpFamily.V4 ? "iptables" : "ip6tables")}-{backend}-save"));

    /// <summary>Rules of ours anywhere (in our chains, jumping to them, or our guard), in both tables and families.</summary>
    public List<IptablesRule> OurRules(string backend = "nft")
    {
        var ours = new List<IptablesRule>();
        foreach (var family in new[] { IpFamily.V4, IpFamily.V6 })
        {
            var tables = Tables(family, backend);
            ours.AddRange(new[] { "nat", "raw" }.SelectMany(t => tables.Rules(t)).Where(r =>
                r.Chain.StartsWith(Chain, StringComparison.Ordinal) || (r.Target?.StartsWith(Chain, StringComparison.Ordinal) ?? false)
                || (r.Comment?.Contains(Chain, StringComparison.Ordinal) ?? false)
                || ContainerChains.IsContainerChain(r.Chain) || ContainerChains.IsContainerChain(r.Target)));
        }

        return ours;
    }

    /// <summary>Our user-defined chains that exist (the network's and the containers'), in both families.</summary>
    public List<string> OurChains(string backend = "nft") =>
        [.. new[] { IpFamily.V4, IpFamily.V6 }.SelectMany(f =>
        {
            var tables = Tables(f, backend);
            var containerChains = tables.Rules("nat").Select(r => r.Chain).Where(ContainerChains.IsContainerChain)
                .Concat(tables.Rules("nat").Select(r => r.Target).OfType<string>().Where(ContainerChains.IsContainerChain));
            return new[] { Chain, Chain + "-MASQ" }.Concat(containerChains).Distinct(StringComparer.Ordinal)
                .Where(c => tables.HasChain("nat", c)).Select(c => $"{f}:{c}");
        })];

    /// <summary>The rules of the containers' DNAT chains (the DNAT and RETURN rules), of one family.</summary>
    public List<IptablesRule> DnatRules(IpFamily family = IpFamily.V4) =>
        [.. Tables(family).Rules("nat").Where(r => r.Chain.StartsWith(ContainerChains.DnatPrefix, StringComparison.Ordinal))];

    public List<string> Leases() =>
        !System.IO.Directory.Exists(IpamDir)
            ? []
            : [.. System.IO.Directory.EnumerateFiles(IpamDir, "*", SearchOption.AllDirectories)
                .Where(f => Path.GetFileName(f) != "lock" && !Path.GetFileName(f).StartsWith("last_reserved_ip", StringComparison.Ordinal))];

    public int HostVeths() =>
        Run("ip", "-n", HostNetns, "-o", "link", "show", "type", "veth").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length - 1; // kh

    public void Dispose()
    {
        List<IptablesRule> rules = [];
        List<string> chains = [], leases = [];
        var veths = 0;
        try
        {
            (rules, chains, leases, veths) = (OurRules(), OurChains(), Leases(), HostVeths());
        }
        finally
        {
            foreach (var name in _containers.ToList())
            {
                Run("ip", "netns", "del", name);
            }

            Run("ip", "netns", "del", ClientNetns);
            Run("ip", "netns", "del", HostNetns);
            System.IO.Directory.Delete(Directory, recursive: true);
        }

        Assert.DoesNotContain(Run("ip", "netns", "list").Split('\n'), l => l.Contains(Id, StringComparison.Ordinal));
        Assert.Empty(rules);
        Assert.Empty(chains);
        Assert.Empty(leases);
        Assert.Equal(0, veths);
    }

    public static IEnumerable<KeyValuePair<string, string>> PluginEnvironmentOf(string pathPrefix)
    {
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            var name = (string)entry.Key;
            var value = (string?)entry.Value ?? "";
            yield return new(name, name == "PATH" ? $"{pathPrefix}:{value}" : value);
        }
    }

    public static string Run(string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(30_000), $"{program} {string.Join(' ', args)} did not finish in 30s");
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {process.ExitCode}: {stderr}");
        return stdout.Result;
    }
}
