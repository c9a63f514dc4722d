using System.Net;
using NetIsolator.Cni.Requests;
using NetIsolator.PortMapper.Rules;
using Xunit;

namespace NetIsolator.PortMapper.Tests;

/// <summary>The rule plans as text: what iptables-restore is given, for a given iptables-save listing.</summary>
public sealed class RulePlannerTests
{
    private static readonly RuleTag Tag = new("c1", "eth0");
    private static readonly ContainerAddress V4 = new(IPAddress.Parse("10.1.0.5"), 24);
    private static readonly ContainerAddress V6 = new(IPAddress.Parse("fd00::5"), 64);

    [Fact]
    public void Add_OnAnEmptyHost_CreatesTheChainsJumpsGuard_ThenTheContainersChainsAndJumps()
    {
        var network = new NetworkLayout("MESOS-PORT-MAPPER", Snat: true, ["mesos-cni0"]);
        var rules = RulePlanner.ContainerRules(network, Tag, V4, [new PortMapping(8080, 80), new PortMapping(5353, 53, "udp", "192.168.1.1")]);

        var batch = RulePlanner.Add(network, IpFamily.V4, Tag, rules, RulesetSnapshot.Empty);

        Assert.Equal("""
            *nat
            -N MESOS-PORT-MAPPER
            -N MESOS-PORT-MAPPER-MASQ
            -A PREROUTING -m addrtype --dst-type LOCAL -j MESOS-PORT-MAPPER
            -A OUTPUT -m addrtype --dst-type LOCAL -j MESOS-PORT-MAPPER
            -I POSTROUTING -j MESOS-PORT-MAPPER-MASQ
            -N MCPM-DN-a5b5ccca4b8403dc
            -N MCPM-SN-a5b5ccca4b8403dc
            -A MCPM-DN-a5b5ccca4b8403dc ! -i mesos-cni0 -p tcp -m tcp --dport 8080 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:80
            -A MCPM-DN-a5b5ccca4b8403dc -d 192.168.1.1/32 ! -i mesos-cni0 -p udp -m udp --dport 5353 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:53
            -A MCPM-SN-a5b5ccca4b8403dc -s 10.1.0.0/24 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            -A MCPM-SN-a5b5ccca4b8403dc -s 127.0.0.0/8 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            -A MESOS-PORT-MAPPER -p tcp -m multiport --dports 8080 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-a5b5ccca4b8403dc
            -A MESOS-PORT-MAPPER -p udp -m multiport --dports 5353 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-a5b5ccca4b8403dc
            -A MESOS-PORT-MAPPER-MASQ -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-SN-a5b5ccca4b8403dc
            COMMIT
            *raw
            -A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment "mesos-cni-port-mapper MESOS-PORT-MAPPER: no 127.0.0.0/8 from outside" -j DROP
            COMMIT

            """.ReplaceLineEndings("\n"), batch.Render());
    }

    [Fact]
    public void AddFresh_OnlyCreatesTheContainersChains_AndAppends_WithoutReading()
    {
        var network = new NetworkLayout("PM", Snat: true, []);
        var rules = RulePlanner.ContainerRules(network, Tag, V4, [new PortMapping(8080, 80), new PortMapping(8081, 81), new PortMapping(5353, 53, "udp")]);

        // -N fails if the attachment's chains exist (a repeated ADD) and -A PM fails if the network is not set up:
        // iptables-restore then changes nothing and the plugin reads and plans with Add.
        Assert.Equal("""
            *nat
            -N MCPM-DN-053b1311fb7fc292
            -N MCPM-SN-053b1311fb7fc292
            -A MCPM-DN-053b1311fb7fc292 -p tcp -m tcp --dport 8080 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:80
            -A MCPM-DN-053b1311fb7fc292 -p tcp -m tcp --dport 8081 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:81
            -A MCPM-DN-053b1311fb7fc292 -p udp -m udp --dport 5353 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:53
            -A MCPM-SN-053b1311fb7fc292 -s 10.1.0.0/24 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            -A MCPM-SN-053b1311fb7fc292 -s 127.0.0.0/8 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            -A PM -p tcp -m multiport --dports 8080,8081 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
            -A PM -p udp -m multiport --dports 5353 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
            -A PM-MASQ -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-SN-053b1311fb7fc292
            COMMIT

            """.ReplaceLineEndings("\n"), RulePlanner.AddFresh(network, Tag, rules).Render());
        Assert.Equal([5353], RulePlanner.UdpHostPorts(RulePlanner.Jumps(network, Tag, rules)));
    }

    [Fact]
    public void Jumps_SplitMoreThan15PortsOverSeveralMultiportRules_AndSkipTheMasqueradeWithoutSnat()
    {
        var network = new NetworkLayout("PM", Snat: false, []);
        var rules = RulePlanner.ContainerRules(network, Tag, V4, Enumerable.Range(1000, 17).Select(p => new PortMapping(p, 80)));

        Assert.Equal(
            [
                "-A PM -p tcp -m multiport --dports 1000,1001,1002,1003,1004,1005,1006,1007,1008,1009,1010,1011,1012,1013,1014 -m comment --comment \"container_id: c1 ifname: eth0\" -j MCPM-DN-053b1311fb7fc292",
                "-A PM -p tcp -m multiport --dports 1015,1016 -m comment --comment \"container_id: c1 ifname: eth0\" -j MCPM-DN-053b1311fb7fc292",
            ],
            RulePlanner.Jumps(network, Tag, rules).Select(r => r.Format("-A")));
    }

    [Fact]
    public void ChainsOf_IsStable_PerNetworkAndAttachment_AndFitsTheNameLimit()
    {
        // DEL finds an earlier ADD's chains by these names: changing the hash strands the rules of running containers.
        Assert.Equal(new ContainerChains("MCPM-DN-053b1311fb7fc292", "MCPM-SN-053b1311fb7fc292"), new NetworkLayout("PM", true, []).ChainsOf(Tag));
        Assert.Equal("MCPM-DN-2753e291d338219d", new NetworkLayout("PM", true, []).ChainsOf(new RuleTag("c2", "eth0")).Dnat);
        Assert.Equal("MCPM-DN-a5b5ccca4b8403dc", new NetworkLayout("MESOS-PORT-MAPPER", true, []).ChainsOf(Tag).Dnat);
        Assert.True(new NetworkLayout("PM", true, []).ChainsOf(Tag).Masq.Length <= 28);
    }

    [Fact]
    public void Add_WithEveryExcludedDevice_ReturnsForAllButTheLast_AndNegatesTheLast()
    {
        var network = new NetworkLayout("PM", Snat: false, ["br0", "br1", "br2"]);
        var rules = RulePlanner.ContainerRules(network, Tag, V4, [new PortMapping(8080, 80)]);

        Assert.Equal(
            [
                "-A MCPM-DN-053b1311fb7fc292 -i br0 -p tcp -m tcp --dport 8080 -m comment --comment \"container_id: c1 ifname: eth0\" -j RETURN",
                "-A MCPM-DN-053b1311fb7fc292 -i br1 -p tcp -m tcp --dport 8080 -m comment --comment \"container_id: c1 ifname: eth0\" -j RETURN",
                "-A MCPM-DN-053b1311fb7fc292 ! -i br2 -p tcp -m tcp --dport 8080 -m comment --comment \"container_id: c1 ifname: eth0\" -j DNAT --to-destination 10.1.0.5:80",
            ],
            rules.Select(r => r.Format("-A")));
        // Without snat: no masquerade chain, and the OUTPUT jump leaves loopback alone (Mesos's layout).
        Assert.Equal(
            ["-A PREROUTING -m addrtype --dst-type LOCAL -j PM", "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j PM"],
            RulePlanner.NetworkRules(network, IpFamily.V4).Select(r => r.Format("-A")));
    }

    [Fact]
    public void Add_IPv6_BracketsTheDestination_HasNoLoopbackRuleNorGuard()
    {
        var network = new NetworkLayout("PM", Snat: true, []);
        var rules = RulePlanner.ContainerRules(network, Tag, V6, [new PortMapping(8080, 80, "sctp")]);
        var batch = RulePlanner.Add(network, IpFamily.V6, Tag, rules, RulesetSnapshot.Empty);

        Assert.Equal("""
            *nat
            -N PM
            -N PM-MASQ
            -A PREROUTING -m addrtype --dst-type LOCAL -j PM
            -A OUTPUT ! -d ::1/128 -m addrtype --dst-type LOCAL -j PM
            -I POSTROUTING -j PM-MASQ
            -N MCPM-DN-053b1311fb7fc292
            -N MCPM-SN-053b1311fb7fc292
            -A MCPM-DN-053b1311fb7fc292 -p sctp -m sctp --dport 8080 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination [fd00::5]:80
            -A MCPM-SN-053b1311fb7fc292 -s fd00::/64 -d fd00::5/128 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            -A PM -p sctp -m multiport --dports 8080 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
            -A PM-MASQ -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-SN-053b1311fb7fc292
            COMMIT

            """.ReplaceLineEndings("\n"), batch.Render());
    }

    [Fact]
    public void Add_WhenTheNetworkExists_ReusesThisAttachmentsChains_AndLeavesTheOthersAlone()
    {
        var network = new NetworkLayout("PM", Snat: true, []);
        var current = RulesetSnapshot.Parse(Existing);
        var rules = RulePlanner.ContainerRules(network, Tag, V4, [new PortMapping(9090, 90)]);

        var batch = RulePlanner.Add(network, IpFamily.V4, Tag, rules, current);

        Assert.Equal("""
            *nat
            -D PM -p tcp -m multiport --dports 8080 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
            -D PM-MASQ -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-SN-053b1311fb7fc292
            -F MCPM-DN-053b1311fb7fc292
            -F MCPM-SN-053b1311fb7fc292
            -A MCPM-DN-053b1311fb7fc292 -p tcp -m tcp --dport 9090 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:90
            -A MCPM-SN-053b1311fb7fc292 -s 10.1.0.0/24 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            -A MCPM-SN-053b1311fb7fc292 -s 127.0.0.0/8 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            -A PM -p tcp -m multiport --dports 9090 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
            -A PM-MASQ -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-SN-053b1311fb7fc292
            COMMIT

            """.ReplaceLineEndings("\n"), batch.Render());
    }

    [Fact]
    public void Add_AfterMesossPlugin_RemovesItsFlatRulesForTheSameContainer()
    {
        var network = new NetworkLayout("PM", Snat: false, []);
        var current = RulesetSnapshot.Parse(MesosOnly);
        var rules = RulePlanner.ContainerRules(network, Tag, V4, [new PortMapping(9090, 90)]);

        Assert.Equal("""
            *nat
            -D PM -p udp -m udp --dport 5354 -m comment --comment "container_id: c1" -j DNAT --to-destination 10.1.0.7:53
            -N MCPM-DN-053b1311fb7fc292
            -A MCPM-DN-053b1311fb7fc292 -p tcp -m tcp --dport 9090 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:90
            -A PM -p tcp -m multiport --dports 9090 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
            COMMIT

            """.ReplaceLineEndings("\n"), RulePlanner.Add(network, IpFamily.V4, Tag, rules, current).Render());
    }

    [Fact]
    public void Remove_OneOfTwoContainers_TakesItsJumpsAndChains_KeepsTheNetwork()
    {
        var network = new NetworkLayout("PM", Snat: true, []);
        var (batch, removed) = RulePlanner.Remove(network, Tag.Owns, RulesetSnapshot.Parse(Existing));

        Assert.Equal(4, removed.Count);
        Assert.Empty(RulePlanner.UdpHostPorts(removed));
        Assert.Equal("""
            *nat
            -D PM -p tcp -m multiport --dports 8080 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
            -D PM-MASQ -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-SN-053b1311fb7fc292
            -F MCPM-DN-053b1311fb7fc292
            -X MCPM-DN-053b1311fb7fc292
            -F MCPM-SN-053b1311fb7fc292
            -X MCPM-SN-053b1311fb7fc292
            COMMIT

            """.ReplaceLineEndings("\n"), batch.Render());
    }

    [Fact]
    public void Remove_TheLastContainer_TakesTheChainsJumpsAndGuard_AndMesosTaggedRulesToo()
    {
        var network = new NetworkLayout("PM", Snat: true, []);
        var (batch, removed) = RulePlanner.Remove(network, Tag.Owns, RulesetSnapshot.Parse(LastOne));

        Assert.Equal([5353, 5354], RulePlanner.UdpHostPorts(removed));
        Assert.Equal("""
            *nat
            -D PM -p udp -m multiport --dports 5353 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
            -D PM -p udp -m udp --dport 5354 -m comment --comment "container_id: c1" -j DNAT --to-destination 10.1.0.7:53
            -D PM-MASQ -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-SN-053b1311fb7fc292
            -F MCPM-DN-053b1311fb7fc292
            -X MCPM-DN-053b1311fb7fc292
            -F MCPM-SN-053b1311fb7fc292
            -X MCPM-SN-053b1311fb7fc292
            -D PREROUTING -m addrtype --dst-type LOCAL -j PM
            -D OUTPUT -m addrtype --dst-type LOCAL -j PM
            -X PM
            -D POSTROUTING -j PM-MASQ
            -X PM-MASQ
            COMMIT
            *raw
            -D PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment "mesos-cni-port-mapper PM: no 127.0.0.0/8 from outside" -j DROP
            COMMIT

            """.ReplaceLineEndings("\n"), batch.Render());
    }

    [Fact]
    public void RemoveListed_OneOfTwo_FromTheNetworkChainsListingAlone()
    {
        var network = new NetworkLayout("PM", Snat: true, []);
        var listed = RulesetSnapshot.Parse(Existing).Rules("nat", "PM").ToList();

        var (batch, removed) = RulePlanner.RemoveListed(network, IpFamily.V4, Tag, listed)!.Value;

        Assert.Equal(2, removed.Count);
        Assert.Equal("""
            *nat
            -D PM -p tcp -m multiport --dports 8080 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
            -F MCPM-DN-053b1311fb7fc292
            -X MCPM-DN-053b1311fb7fc292
            -D PM-MASQ -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-SN-053b1311fb7fc292
            -F MCPM-SN-053b1311fb7fc292
            -X MCPM-SN-053b1311fb7fc292
            COMMIT

            """.ReplaceLineEndings("\n"), batch.Render());
    }

    [Fact]
    public void RemoveListed_TheLast_AlsoTakesMesosTaggedRules_AndTheNetwork()
    {
        var network = new NetworkLayout("PM", Snat: true, []);
        var listed = RulesetSnapshot.ParseListing("nat", """
            -N PM
            -A PM -p udp -m multiport --dports 5353 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
            -A PM -p udp -m udp --dport 5354 -m comment --comment "container_id: c1" -j DNAT --to-destination 10.1.0.7:53
            """);

        var (batch, removed) = RulePlanner.RemoveListed(network, IpFamily.V4, Tag, listed)!.Value;

        Assert.Equal([5353, 5354], RulePlanner.UdpHostPorts(removed));
        Assert.Equal("""
            *nat
            -D PM -p udp -m multiport --dports 5353 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
            -D PM -p udp -m udp --dport 5354 -m comment --comment "container_id: c1" -j DNAT --to-destination 10.1.0.7:53
            -F MCPM-DN-053b1311fb7fc292
            -X MCPM-DN-053b1311fb7fc292
            -D PM-MASQ -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-SN-053b1311fb7fc292
            -F MCPM-SN-053b1311fb7fc292
            -X MCPM-SN-053b1311fb7fc292
            -D PREROUTING -m addrtype --dst-type LOCAL -j PM
            -D OUTPUT -m addrtype --dst-type LOCAL -j PM
            -X PM
            -D POSTROUTING -j PM-MASQ
            -X PM-MASQ
            COMMIT
            *raw
            -D PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment "mesos-cni-port-mapper PM: no 127.0.0.0/8 from outside" -j DROP
            COMMIT

            """.ReplaceLineEndings("\n"), batch.Render());
    }

    [Fact]
    public void RemoveListed_NothingOfThisAttachment_IsEmpty_AndWithoutSnatDefersToTheFullRead()
    {
        var listed = RulesetSnapshot.Parse(Existing).Rules("nat", "PM").ToList();
        var (batch, removed) = RulePlanner.RemoveListed(new NetworkLayout("PM", true, []), IpFamily.V4, new RuleTag("gone", "eth0"), listed)!.Value;
        Assert.True(batch.IsEmpty);
        Assert.Empty(removed);

        // Without snat the masquerade chain may still hold jumps of an earlier config: only a full read can tell.
        Assert.Null(RulePlanner.RemoveListed(new NetworkLayout("PM", false, []), IpFamily.V4, Tag, listed));
    }

    [Fact]
    public void Remove_OnAHostWithoutTheChain_IsEmpty()
    {
        var (batch, removed) = RulePlanner.Remove(new NetworkLayout("PM", true, []), Tag.Owns, RulesetSnapshot.Parse("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n"));
        Assert.True(batch.IsEmpty);
        Assert.Empty(removed);
    }

    [Fact]
    public void Missing_ListsWhatCheckWouldReport()
    {
        var network = new NetworkLayout("PM", Snat: true, []);
        var rules = RulePlanner.ContainerRules(network, Tag, V4, [new PortMapping(8080, 80)]);
        var missing = RulePlanner.Missing(network, IpFamily.V4, Tag, rules, RulesetSnapshot.Parse(Existing));

        // Existing has the Mesos-style OUTPUT jump too, but not the exact one this layout wants, nor the loopback rule.
        Assert.Equal(
            ["nat: -A MCPM-SN-053b1311fb7fc292 -s 127.0.0.0/8 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment \"container_id: c1 ifname: eth0\" -j MASQUERADE"],
            missing.Select(r => r.ToString()));
    }

    [Fact]
    public void MasqChain_FitsIptablesNameLimit()
    {
        Assert.Equal("MESOS-PORT-MAPPER-MASQ", new NetworkLayout("MESOS-PORT-MAPPER", true, []).MasqChain);
        Assert.Equal("MESOS-TEST-PORT-MAPPER-MASQ", new NetworkLayout("MESOS-TEST-PORT-MAPPER-CHAIN", true, []).MasqChain);
        Assert.True(new NetworkLayout(new string('X', 28), true, []).MasqChain.Length <= 28);
    }

    [Fact]
    public void MappingsFor_SplitsByHostIpFamily()
    {
        PortMapping[] mappings = [new(1, 1), new(2, 2, "tcp", "10.0.0.1"), new(3, 3, "tcp", "fd00::1")];
        Assert.Equal([1, 2], RulePlanner.MappingsFor(IpFamily.V4, mappings).Select(m => m.HostPort));
        Assert.Equal([1, 3], RulePlanner.MappingsFor(IpFamily.V6, mappings).Select(m => m.HostPort));
    }

    private const string Existing = """
        # Generated by iptables-nft-save v1.8.9 (nf_tables)
        *raw
        :PREROUTING ACCEPT [0:0]
        -A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment "mesos-cni-port-mapper PM: no 127.0.0.0/8 from outside" -j DROP
        COMMIT
        *nat
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :MCPM-DN-053b1311fb7fc292 - [0:0]
        :MCPM-DN-2753e291d338219d - [0:0]
        :MCPM-SN-053b1311fb7fc292 - [0:0]
        :MCPM-SN-2753e291d338219d - [0:0]
        :PM - [0:0]
        :PM-MASQ - [0:0]
        -A PREROUTING -m addrtype --dst-type LOCAL -j PM
        -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j PM
        -A OUTPUT -m addrtype --dst-type LOCAL -j PM
        -A POSTROUTING -j PM-MASQ
        -A MCPM-DN-053b1311fb7fc292 -p tcp -m tcp --dport 8080 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:80
        -A MCPM-DN-2753e291d338219d -p udp -m udp --dport 5353 -m comment --comment "container_id: c2 ifname: eth0" -j DNAT --to-destination 10.1.0.6:53
        -A MCPM-SN-053b1311fb7fc292 -s 10.1.0.0/24 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
        -A MCPM-SN-2753e291d338219d -s 10.1.0.0/24 -d 10.1.0.6/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c2 ifname: eth0" -j MASQUERADE
        -A PM -p tcp -m multiport --dports 8080 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
        -A PM -p udp -m multiport --dports 5353 -m comment --comment "container_id: c2 ifname: eth0" -j MCPM-DN-2753e291d338219d
        -A PM-MASQ -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-SN-053b1311fb7fc292
        -A PM-MASQ -m comment --comment "container_id: c2 ifname: eth0" -j MCPM-SN-2753e291d338219d
        COMMIT
        """;

    // c1 alone, with a flat rule Mesos's plugin wrote for it before an upgrade.
    private const string LastOne = """
        *raw
        :PREROUTING ACCEPT [0:0]
        -A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment "mesos-cni-port-mapper PM: no 127.0.0.0/8 from outside" -j DROP
        COMMIT
        *nat
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :MCPM-DN-053b1311fb7fc292 - [0:0]
        :MCPM-SN-053b1311fb7fc292 - [0:0]
        :PM - [0:0]
        :PM-MASQ - [0:0]
        -A PREROUTING -m addrtype --dst-type LOCAL -j PM
        -A OUTPUT -m addrtype --dst-type LOCAL -j PM
        -A POSTROUTING -j PM-MASQ
        -A MCPM-DN-053b1311fb7fc292 -p udp -m udp --dport 5353 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:53
        -A MCPM-SN-053b1311fb7fc292 -s 10.1.0.0/24 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
        -A PM -p udp -m multiport --dports 5353 -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-DN-053b1311fb7fc292
        -A PM -p udp -m udp --dport 5354 -m comment --comment "container_id: c1" -j DNAT --to-destination 10.1.0.7:53
        -A PM-MASQ -m comment --comment "container_id: c1 ifname: eth0" -j MCPM-SN-053b1311fb7fc292
        COMMIT
        """;

    // A network Mesos's own plugin set up (no masquerade chain), with a rule for c1.
    private const string MesosOnly = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :PM - [0:0]
        -A PREROUTING -m addrtype --dst-type LOCAL -j PM
        -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j PM
        -A PM -p udp -m udp --dport 5354 -m comment --comment "container_id: c1" -j DNAT --to-destination 10.1.0.7:53
        COMMIT
        """;
}
