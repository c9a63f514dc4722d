using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Invocation;
using NetIsolator.PortMapper.Host;
using NetIsolator.PortMapper.Plugin;
using NetIsolator.PortMapper.Rules;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.PortMapper.Tests.Root;

/// <summary>
/// The AOT plugin run as a runtime runs it, inside a throwaway host namespace, with bridge + host-local as its
/// delegate; real TCP and UDP from a client namespace. Each test's sandbox checks that no rule, chain, veth or
/// lease is left.
/// </summary>
[Collection("PortMapperRoot")]
public sealed class PortMapperPluginTests : IDisposable
{
    private const string TcpAndUdp = """[{"hostPort":8080,"containerPort":80,"protocol":"tcp"},{"hostPort":5353,"containerPort":53,"protocol":"udp"}]""";
    private readonly PluginSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [RootFact]
    public void Add_TcpAndUdp_FromAClient_ReachTheContainer_AndDelRemovesEveryRuleAndChain()
    {
        var netns = _sandbox.NewContainer();
        var config = _sandbox.Config(TcpAndUdp);
        var before = _sandbox.OurRules();
        Assert.Empty(before);

        var result = JsonNode.Parse(_sandbox.Add("c1", netns, config).Stdout)!;
        Assert.Equal("1.0.0", (string?)result["cniVersion"]);
        var containerIp = ((string)result["ips"]![0]!["address"]!).Split('/')[0];

        using (var server = Traffic.StartEcho(netns, 80))
        using (var udpServer = Traffic.StartEcho(netns, 53))
        {
            // The container sees the client's own address: DNAT only, no masquerade for outside traffic.
            Assert.StartsWith($"hello from {_sandbox.ClientIp}:", Traffic.Tcp(_sandbox.ClientNetnsPath, _sandbox.HostIp, 8080, "hello"));
            using var udp = Traffic.UdpClient(_sandbox.ClientNetnsPath);
            Assert.StartsWith($"dgram from {_sandbox.ClientIp}:", Traffic.Udp(udp, _sandbox.HostIp, 5353, "dgram"));
            Assert.True(_sandbox.OurChains().Count == 4, string.Join(",", _sandbox.OurChains()));
            Assert.Contains(_sandbox.DnatRules(), r => r.ValueOf("--to-destination") == $"{containerIp}:80");

            // CHECK passes while the rules are there.
            var check = _sandbox.Invoke(PluginCommand.Check, "c1", netns, WithPrevResult(config, result));
            Assert.True(check.ExitCode == 0, $"{check.Error} {check.Stderr}");

            _sandbox.Del("c1", netns, config);

            Assert.Empty(_sandbox.OurRules());
            Assert.Empty(_sandbox.OurChains());
            Assert.False(Traffic.TcpWorks(_sandbox.ClientNetnsPath, _sandbox.HostIp, 8080));
        }

        // DEL again: nothing to do, still success.
        _sandbox.Del("c1", netns, config);
    }

    [RootFact]
    public void Hairpin_TheContainerAndItsNeighbour_ReachItThroughTheHostPort()
    {
        var first = _sandbox.NewContainer();
        var second = _sandbox.NewContainer();
        var config = _sandbox.Config("""[{"hostPort":8080,"containerPort":80}]""");
        _sandbox.Add("first", first, config);
        _sandbox.Add("second", second, _sandbox.Config("[]"));
        using var server = Traffic.StartEcho(first, 80);

        // Masqueraded: the answer must come back through the host, so the server sees the bridge's address.
        Assert.StartsWith($"self from {_sandbox.BridgeIp}:", Traffic.Tcp(first, _sandbox.HostIp, 8080, "self"));
        Assert.StartsWith($"neighbour from {_sandbox.BridgeIp}:", Traffic.Tcp(second, _sandbox.BridgeIp, 8080, "neighbour"));

        _sandbox.Del("first", first, config);
        _sandbox.Del("second", second, _sandbox.Config("[]"));
    }

    [RootFact]
    public void HostLoopback_127001_ReachesTheContainer_AndTheGuardKeepsOutsidersOffLoopback()
    {
        var netns = _sandbox.NewContainer();
        var config = _sandbox.Config("""[{"hostPort":8080,"containerPort":80}]""");
        _sandbox.Add("c1", netns, config);
        using var server = Traffic.StartEcho(netns, 80);

        Assert.StartsWith("lo from ", Traffic.Tcp(_sandbox.HostNetnsPath, IPAddress.Loopback, 8080, "lo"));
        Assert.Equal("1", PluginSandbox.Run("ip", "netns", "exec", _sandbox.HostNetns, "cat", $"/proc/sys/net/ipv4/conf/pmb{_sandbox.Id[..6]}/route_localnet").Trim());
        Assert.Single(_sandbox.Tables().Rules("raw", "PREROUTING"), r => r.Target == "DROP" && r.ValueOf("-d") == "127.0.0.0/8");

        _sandbox.Del("c1", netns, config);
    }

    [RootFact]
    public void Udp_StaleConntrackEntry_IsFlushedByAdd()
    {
        // A first container's mapping puts NAT rules in the host namespace, which turns conntrack on there.
        var first = _sandbox.NewContainer();
        var firstConfig = _sandbox.Config("""[{"hostPort":8080,"containerPort":80}]""");
        _sandbox.Add("first", first, firstConfig);
        var netns = _sandbox.NewContainer();
        var config = _sandbox.Config("""[{"hostPort":5353,"containerPort":53,"protocol":"udp"}]""");
        using var server = Traffic.StartEcho(netns, 53);
        using var client = Traffic.UdpClient(_sandbox.ClientNetnsPath, localPort: 40053);

        // Before the mapping: the datagram goes to the host itself and leaves a conntrack entry without DNAT.
        Assert.Null(Traffic.Udp(client, _sandbox.HostIp, 5353, "early", TimeSpan.FromMilliseconds(300)));
        Assert.Contains("dport=5353", PluginSandbox.Run("ip", "netns", "exec", _sandbox.HostNetns, "conntrack", "-L", "-p", "udp"));

        _sandbox.Add("c1", netns, config);

        // The same flow (same ports) now reaches the container: the old entry was flushed.
        Assert.StartsWith("late from ", Traffic.Udp(client, _sandbox.HostIp, 5353, "late"));
        _sandbox.Del("c1", netns, config);
        Assert.DoesNotContain("dport=5353", PluginSandbox.Run("ip", "netns", "exec", _sandbox.HostNetns, "conntrack", "-L", "-p", "udp"));
        _sandbox.Del("first", first, firstConfig);
    }

    [RootFact]
    public void Del_WithTheContainerNamespaceGone_OrNoNetns_Succeeds()
    {
        var netns = _sandbox.NewContainer();
        var config = _sandbox.Config(TcpAndUdp);
        _sandbox.Add("gone", netns, config);
        _sandbox.DeleteContainer(netns);

        _sandbox.Del("gone", netns, config);
        _sandbox.Del("gone", null, config);

        Assert.Empty(_sandbox.OurRules());
        Assert.Empty(_sandbox.Leases());
    }

    [RootFact]
    public void Del_StartsTheDelegatesDel_OnlyOnceItHoldsTheHostLock()
    {
        var netns = _sandbox.NewContainer();
        var config = _sandbox.Config(TcpAndUdp);
        _sandbox.Add("locked", netns, config);

        Task<PluginRun> del;
        using (HostLock.Acquire(HostLock.DefaultPath, TimeSpan.FromSeconds(5)))
        {
            del = Task.Run(() => _sandbox.Invoke(PluginCommand.Del, "locked", netns, config));
            Thread.Sleep(500);

            // Had the delegate run, the veth and the lease would be gone: the address would be free for another
            // container while this one's DNAT rules still pointed at it.
            Assert.False(del.IsCompleted);
            Assert.Equal(1, _sandbox.HostVeths());
            Assert.Single(_sandbox.Leases());
            Assert.NotEmpty(_sandbox.OurRules());
        }

        Assert.Equal(0, del.Result.ExitCode);
        Assert.Empty(_sandbox.OurRules());
        Assert.Empty(_sandbox.OurChains());
        Assert.Empty(_sandbox.Leases());
        Assert.Equal(0, _sandbox.HostVeths());
    }

    [RootFact]
    public void Add_WithNoMappings_PassesTheHostLock_BeforeItReturns()
    {
        var netns = _sandbox.NewContainer();
        var config = _sandbox.Config();

        Task<PluginRun> add;
        using (HostLock.Acquire(HostLock.DefaultPath, TimeSpan.FromSeconds(5)))
        {
            add = Task.Run(() => _sandbox.Invoke(PluginCommand.Add, "nomaps", netns, config));
            for (var i = 0; i < 200 && _sandbox.Leases().Count == 0; i++)
            {
                Thread.Sleep(50);
            }

            // The delegate has given the container its address; the ADD still waits for a DEL that may be removing
            // the rules of that address's previous owner.
            Assert.Single(_sandbox.Leases());
            Thread.Sleep(300);
            Assert.False(add.IsCompleted);
        }

        Assert.Equal(0, add.Result.ExitCode);
        _sandbox.Del("nomaps", netns, config);
        Assert.Empty(_sandbox.Leases());
    }

    [RootFact]
    public void Add_FailingAfterTheDelegate_UndoesIt_NoRulesNoVethNoLease()
    {
        var netns = _sandbox.NewContainer();
        // The delegate gives the container IPv4 only; a mapping on an IPv6 host address cannot be honoured.
        var config = _sandbox.Config("""[{"hostPort":8080,"containerPort":80},{"hostPort":8081,"containerPort":81,"hostIP":"fd00::1"}]""");

        var run = _sandbox.Invoke(PluginCommand.Add, "half", netns, config);

        Assert.Equal((1, MesosErrorCodes.DelegateFailure), (run.ExitCode, run.Code));
        Assert.Contains("no IPv6 address", run.Error!.Msg, StringComparison.Ordinal);
        Assert.Empty(_sandbox.OurRules());
        Assert.Empty(_sandbox.Leases());
        Assert.Equal(0, _sandbox.HostVeths());
    }

    [RootFact]
    public void Add_WhoseRestoreFailsAfterCommitting_RemovesItsRules_AndUndoesTheDelegate()
    {
        var netns = _sandbox.NewContainer();
        var config = _sandbox.Config(TcpAndUdp);
        // An iptables-restore that applies its input and then reports failure (as if killed after the commit):
        // the worst case for an ADD, as the rules are there although the ADD failed.
        var fakeDir = Path.Join(_sandbox.Directory, "fake-bin");
        Directory.CreateDirectory(fakeDir);
        var fake = Path.Join(fakeDir, "iptables-nft-restore");
        File.WriteAllText(fake, """
            #!/bin/sh
            input=$(cat)
            printf '%s\n' "$input" | /usr/sbin/iptables-nft-restore "$@" || exit $?
            case "$input" in *"-A "*) echo "injected failure after commit" >&2; exit 4;; esac
            """);
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var run = _sandbox.Invoke(PluginCommand.Add, "half", netns, config, pathPrefix: fakeDir);

        Assert.Equal((1, MesosErrorCodes.PortmapFailure), (run.ExitCode, run.Code));
        Assert.Contains("injected failure after commit", run.Error!.Msg, StringComparison.Ordinal);
        Assert.Contains("undone", run.Stderr, StringComparison.Ordinal);
        Assert.Empty(_sandbox.OurRules());
        Assert.Empty(_sandbox.OurChains());
        Assert.Empty(_sandbox.Leases());
        Assert.Equal(0, _sandbox.HostVeths());
    }

    [RootFact]
    public void ThirtyTwoContainers_AddAndDelConcurrently_AllReachable_NothingLeft()
    {
        const int Count = 32;
        var containers = Enumerable.Range(0, Count).Select(_ => _sandbox.NewContainer()).ToList();
        string ConfigOf(int i) => _sandbox.Config($$"""[{"hostPort":{{20000 + i}},"containerPort":80},{"hostPort":{{21000 + i}},"containerPort":53,"protocol":"udp"}]""");

        Parallel.For(0, Count, new ParallelOptions { MaxDegreeOfParallelism = Count }, i => _sandbox.Add($"c{i}", containers[i], ConfigOf(i)));

        var nat = _sandbox.Tables().Rules("nat", _sandbox.Chain).ToList();
        Assert.Equal(2 * Count, nat.Count);
        Assert.Equal(Count, nat.Select(r => r.Comment).Distinct().Count());
        for (var i = 0; i < Count; i += 7)
        {
            using var server = Traffic.StartEcho(containers[i], 80);
            Assert.StartsWith($"c{i} from", Traffic.Tcp(_sandbox.ClientNetnsPath, _sandbox.HostIp, 20000 + i, $"c{i}"));
        }

        Parallel.For(0, Count, new ParallelOptions { MaxDegreeOfParallelism = Count }, i => _sandbox.Del($"c{i}", containers[i], ConfigOf(i)));

        Assert.Empty(_sandbox.OurRules());
        Assert.Empty(_sandbox.OurChains());
    }

    [RootFact]
    public void Del_OfOneOfTwo_FromTheChainListing_TakesMesosTaggedRulesToo_AndKeepsTheNeighbour()
    {
        var (n1, n2) = (_sandbox.NewContainer(), _sandbox.NewContainer());
        var (c1, c2) = (_sandbox.Config("""[{"hostPort":8080,"containerPort":80}]"""), _sandbox.Config("""[{"hostPort":9090,"containerPort":80}]"""));
        var result = JsonNode.Parse(_sandbox.Add("c1", n1, c1).Stdout)!;
        _sandbox.Add("c2", n2, c2);
        Assert.Equal(6, _sandbox.OurChains().Count);   // the network's two, and two per container
        // A rule Mesos's own plugin left for c1 (flat in the network chain, tagged with the id alone).
        PluginSandbox.Run("ip", ["netns", "exec", _sandbox.HostNetns, "iptables-nft", "-t", "nat", "-A", _sandbox.Chain, "-p", "tcp", "-m", "tcp",
            "--dport", "7070", "-m", "comment", "--comment", "container_id: c1", "-j", "DNAT", "--to-destination", "10.1.0.9:80"]);

        _sandbox.Del("c1", n1, WithPrevResult(c1, result));

        Assert.Equal(["9090"], _sandbox.DnatRules().Select(r => r.ValueOf("--dport")));
        Assert.All(_sandbox.Tables().Rules("nat", _sandbox.Chain), r => Assert.Equal("container_id: c2 ifname: eth0", r.Comment));
        Assert.Equal(4, _sandbox.OurChains().Count);
        using (var server = Traffic.StartEcho(n2, 80))
        {
            Assert.StartsWith("c2 from", Traffic.Tcp(_sandbox.ClientNetnsPath, _sandbox.HostIp, 9090, "c2"));
        }

        _sandbox.Del("c2", n2, c2);
        Assert.Empty(_sandbox.OurRules());
        Assert.Empty(_sandbox.OurChains());
    }

    [RootFact]
    public void Check_ReportsARuleRemovedBehindItsBack()
    {
        var netns = _sandbox.NewContainer();
        var config = _sandbox.Config(TcpAndUdp);
        var result = JsonNode.Parse(_sandbox.Add("c1", netns, config).Stdout)!;
        var dnat = _sandbox.Tables().Rules("nat", _sandbox.Chain).First();
        PluginSandbox.Run("ip", ["netns", "exec", _sandbox.HostNetns, "iptables-nft", "-t", "nat", "-D", dnat.Chain, .. dnat.Spec]);

        var check = _sandbox.Invoke(PluginCommand.Check, "c1", netns, WithPrevResult(config, result));

        Assert.Equal((1, MesosErrorCodes.PortmapFailure), (check.ExitCode, check.Code));
        Assert.Contains("missing", check.Error!.Msg, StringComparison.Ordinal);
        _sandbox.Del("c1", netns, config);
    }

    [RootFact]
    public void Gc_RemovesTheRulesOfAttachmentsNotValid()
    {
        var keep = _sandbox.NewContainer();
        var drop = _sandbox.NewContainer();
        // Debian's bridge speaks up to 1.0.0: the delegate declares that, so it is not sent GC (a 1.1.0 verb).
        string Config(int port) => _sandbox.Config($$"""[{"hostPort":{{port}},"containerPort":80}]""", "1.1.0")
            .Replace("\"type\":\"bridge\"", "\"type\":\"bridge\",\"cniVersion\":\"1.0.0\"", StringComparison.Ordinal);
        var (keepConfig, dropConfig) = (Config(8080), Config(8081));
        _sandbox.Add("keep", keep, keepConfig);
        _sandbox.Add("drop", drop, dropConfig);

        var gcConfig = JsonNode.Parse(keepConfig)!.AsObject();
        gcConfig["cni.dev/valid-attachments"] = JsonNode.Parse("""[{"containerID":"keep","ifname":"eth0"}]""");
        var gc = _sandbox.Invoke(PluginCommand.Gc, "unused", null, gcConfig.ToJsonString());
        Assert.True(gc.ExitCode == 0, $"{gc.Error} {gc.Stderr}");

        var comments = _sandbox.Tables().Rules("nat", _sandbox.Chain).Select(r => r.Comment).Distinct().ToList();
        Assert.Equal(["container_id: keep ifname: eth0"], comments);

        _sandbox.Del("keep", keep, keepConfig);
        _sandbox.Del("drop", drop, dropConfig);
    }

    [RootFact]
    public void MesosStyleConfig_NoCniVersion_ArgsMappings_AnswersInTheLegacyShape()
    {
        var netns = _sandbox.NewContainer();
        var config = JsonNode.Parse(_sandbox.Config(cniVersion: ""))!.AsObject();
        config.Remove("runtimeConfig");
        config["excludeDevices"] = new JsonArray("nothere0", "nothere1");
        config["args"] = JsonNode.Parse("""{"org.apache.mesos":{"network_info":{"name":"pmt","port_mappings":[{"host_port":8080,"container_port":80,"protocol":"tcp"}]}}}""");
        var text = config.ToJsonString();

        var result = JsonNode.Parse(_sandbox.Add("mesos", netns, text).Stdout)!;

        Assert.StartsWith($"10.218.{_sandbox.N}.", (string?)result["ip4"]!["ip"]);
        using (var server = Traffic.StartEcho(netns, 80))
        {
            Assert.StartsWith("m from", Traffic.Tcp(_sandbox.ClientNetnsPath, _sandbox.HostIp, 8080, "m"));
        }

        // excludeDevices: a RETURN for the first device, the DNAT negating the last, behind one jump.
        Assert.Equal(2, _sandbox.DnatRules().Count);
        Assert.Single(_sandbox.Tables().Rules("nat", _sandbox.Chain));
        _sandbox.Del("mesos", netns, text);
    }

    [RootFact]
    public void LegacyBackend_WhenConfigured_PutsTheRulesThere()
    {
        var netns = _sandbox.NewContainer();
        var config = _sandbox.Config("""[{"hostPort":8080,"containerPort":80}]""", extra: ",\"iptablesBackend\":\"legacy\"");
        _sandbox.Add("c1", netns, config);

        Assert.NotEmpty(_sandbox.OurRules("legacy"));
        Assert.Empty(_sandbox.OurRules("nft"));
        using (var server = Traffic.StartEcho(netns, 80))
        {
            Assert.StartsWith("x from", Traffic.Tcp(_sandbox.ClientNetnsPath, _sandbox.HostIp, 8080, "x"));
        }

        _sandbox.Del("c1", netns, config);
        Assert.Empty(_sandbox.OurRules("legacy"));
        Assert.Empty(_sandbox.OurChains("legacy"));
    }

    private static string WithPrevResult(string config, JsonNode result)
    {
        var json = JsonNode.Parse(config)!.AsObject();
        json["prevResult"] = result.DeepClone();
        return json.ToJsonString();
    }
}

/// <summary>IPv6: ip6tables rules, DNAT to the container's v6 address.</summary>
[Collection("PortMapperRoot")]
public sealed class PortMapperIpv6Tests : IDisposable
{
    private readonly PluginSandbox _sandbox = new(ipv6: true);

    public void Dispose() => _sandbox.Dispose();

    [RootFact]
    public void DualStack_TcpOverIpv6_ReachesTheContainer_AndDelRemovesBothFamilies()
    {
        var netns = _sandbox.NewContainer();
        var config = _sandbox.Config("""[{"hostPort":8080,"containerPort":80}]""");
        _sandbox.Add("c6", netns, config);

        Assert.Single(_sandbox.Tables(IpFamily.V6).Rules("nat", _sandbox.Chain));
        Assert.Single(_sandbox.Tables(IpFamily.V4).Rules("nat", _sandbox.Chain));
        using (var server = Traffic.StartEcho(netns, 80, ipv6: true))
        {
            Assert.StartsWith("six from ", Traffic.Tcp(_sandbox.ClientNetnsPath, _sandbox.HostIp6, 8080, "six"));
        }

        _sandbox.Del("c6", netns, config);
    }
}
