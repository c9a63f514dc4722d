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
    public void Add_OnAnEmptyHost_CreatesTheChainsJumpsGuard_ThenTheContainerRules()
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
            -A MESOS-PORT-MAPPER ! -i mesos-cni0 -p tcp -m tcp --dport 8080 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:80
            -A MESOS-PORT-MAPPER -d 192.168.1.1/32 ! -i mesos-cni0 -p udp -m udp --dport 5353 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:53
            -A MESOS-PORT-MAPPER-MASQ -s 10.1.0.0/24 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            -A MESOS-PORT-MAPPER-MASQ -s 127.0.0.0/8 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            COMMIT
            *raw
            -A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment "mesos-cni-port-mapper MESOS-PORT-MAPPER: no 127.0.0.0/8 from outside" -j DROP
            COMMIT

            """.ReplaceLineEndings("\n"), batch.Render());
    }

    [Fact]
    public void Add_WithEveryExcludedDevice_ReturnsForAllButTheLast_AndNegatesTheLast()
    {
        var network = new NetworkLayout("PM", Snat: false, ["br0", "br1", "br2"]);
        var rules = RulePlanner.ContainerRules(network, Tag, V4, [new PortMapping(8080, 80)]);

        Assert.Equal(
            [
                "-A PM -i br0 -p tcp -m tcp --dport 8080 -m comment --comment \"container_id: c1 ifname: eth0\" -j RETURN",
                "-A PM -i br1 -p tcp -m tcp --dport 8080 -m comment --comment \"container_id: c1 ifname: eth0\" -j RETURN",
                "-A PM ! -i br2 -p tcp -m tcp --dport 8080 -m comment --comment \"container_id: c1 ifname: eth0\" -j DNAT --to-destination 10.1.0.5:80",
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
            -A PM -p sctp -m sctp --dport 8080 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination [fd00::5]:80
            -A PM-MASQ -s fd00::/64 -d fd00::5/128 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            COMMIT

            """.ReplaceLineEndings("\n"), batch.Render());
    }

    [Fact]
    public void Add_WhenTheNetworkExists_OnlyReplacesThisAttachmentsRules()
    {
        var network = new NetworkLayout("PM", Snat: true, []);
        var current = RulesetSnapshot.Parse(Existing);
        var rules = RulePlanner.ContainerRules(network, Tag, V4, [new PortMapping(9090, 90)]);

        var batch = RulePlanner.Add(network, IpFamily.V4, Tag, rules, current);

        Assert.Equal("""
            *nat
            -D PM -p tcp -m tcp --dport 8080 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:80
            -D PM-MASQ -s 10.1.0.0/24 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            -A PM -p tcp -m tcp --dport 9090 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:90
            -A PM-MASQ -s 10.1.0.0/24 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            -A PM-MASQ -s 127.0.0.0/8 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            COMMIT

            """.ReplaceLineEndings("\n"), batch.Render());
    }

    [Fact]
    public void Remove_OneOfTwoContainers_KeepsTheNetwork()
    {
        var network = new NetworkLayout("PM", Snat: true, []);
        var (batch, removed) = RulePlanner.Remove(network, Tag.Owns, RulesetSnapshot.Parse(Existing));

        Assert.Equal(2, removed.Count);
        Assert.Empty(RulePlanner.UdpHostPorts(removed));
        Assert.Equal("""
            *nat
            -D PM -p tcp -m tcp --dport 8080 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:80
            -D PM-MASQ -s 10.1.0.0/24 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            COMMIT

            """.ReplaceLineEndings("\n"), batch.Render());
    }

    [Fact]
    public void Remove_TheLastContainer_TakesTheChainsJumpsAndGuard_AndMesosTaggedRulesToo()
    {
        var network = new NetworkLayout("PM", Snat: true, []);
        var current = RulesetSnapshot.Parse(Existing.Replace("container_id: c2 ifname: eth0", "container_id: c1", StringComparison.Ordinal));

        var (batch, removed) = RulePlanner.Remove(network, Tag.Owns, current);

        Assert.Equal([5353], RulePlanner.UdpHostPorts(removed));
        Assert.Equal("""
            *nat
            -D PM -p tcp -m tcp --dport 8080 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:80
            -D PM -p udp -m udp --dport 5353 -m comment --comment "container_id: c1" -j DNAT --to-destination 10.1.0.6:53
            -D PM-MASQ -s 10.1.0.0/24 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
            -D PM-MASQ -s 10.1.0.0/24 -d 10.1.0.6/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1" -j MASQUERADE
            -D PREROUTING -m addrtype --dst-type LOCAL -j PM
            -D OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j PM
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
        var missing = RulePlanner.Missing(network, IpFamily.V4, rules, RulesetSnapshot.Parse(Existing));

        // Existing has the Mesos-style OUTPUT jump too, but not the exact one this layout wants, nor the loopback rule.
        Assert.Equal(
            ["nat: -A PM-MASQ -s 127.0.0.0/8 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment \"container_id: c1 ifname: eth0\" -j MASQUERADE"],
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
        :PM - [0:0]
        :PM-MASQ - [0:0]
        -A PREROUTING -m addrtype --dst-type LOCAL -j PM
        -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j PM
        -A OUTPUT -m addrtype --dst-type LOCAL -j PM
        -A POSTROUTING -j PM-MASQ
        -A PM -p tcp -m tcp --dport 8080 -m comment --comment "container_id: c1 ifname: eth0" -j DNAT --to-destination 10.1.0.5:80
        -A PM -p udp -m udp --dport 5353 -m comment --comment "container_id: c2 ifname: eth0" -j DNAT --to-destination 10.1.0.6:53
        -A PM-MASQ -s 10.1.0.0/24 -d 10.1.0.5/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c1 ifname: eth0" -j MASQUERADE
        -A PM-MASQ -s 10.1.0.0/24 -d 10.1.0.6/32 -m conntrack --ctstate DNAT -m comment --comment "container_id: c2 ifname: eth0" -j MASQUERADE
        COMMIT
        """;
}
