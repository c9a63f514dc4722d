using System.Net;
using NetIsolator.PortMapper.Host;
using NetIsolator.PortMapper.Iptables;
using NetIsolator.PortMapper.Rules;
using Xunit;

namespace NetIsolator.PortMapper.Tests;

public sealed class ParsingTests
{
    [Fact]
    public void Tokens_RoundTripQuotedComments()
    {
        var tokens = RuleTokens.Split("-A PM -m comment --comment \"container_id: a \\\"b\\\" c\" -j RETURN");
        Assert.Equal(["-A", "PM", "-m", "comment", "--comment", "container_id: a \"b\" c", "-j", "RETURN"], tokens);
        Assert.Equal(tokens, RuleTokens.Split(RuleTokens.Join(tokens)));
        Assert.Throws<FormatException>(() => RuleTokens.Split("-A PM --comment \"open"));
    }

    [Fact]
    public void Snapshot_ReadsChainsAndRules_AndRefusesGarbage()
    {
        var snapshot = RulesetSnapshot.Parse("# c\n*nat\n:PREROUTING ACCEPT [0:0]\n:PM - [0:0]\n-A PREROUTING -j PM\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n");
        Assert.True(snapshot.HasChain("nat", "PM"));
        Assert.False(snapshot.HasChain("filter", "PM"));
        Assert.Equal("PM", Assert.Single(snapshot.Rules("nat")).Target);
        Assert.Throws<FormatException>(() => RulesetSnapshot.Parse("-A PM -j X\n"));
        Assert.Throws<FormatException>(() => RulesetSnapshot.Parse("*nat\nbogus\n"));
    }

    [Theory]
    [InlineData("container_id: c1 ifname: eth0", "c1", "eth0")]
    [InlineData("container_id: p.c", "p.c", null)]
    public void Tag_ParsesOursAndMesoss(string comment, string id, string? ifName)
    {
        Assert.True(RuleTag.TryParse(comment, out var parsedId, out var parsedIf));
        Assert.Equal((id, ifName), (parsedId, parsedIf));
    }

    [Fact]
    public void Tag_OwnsExactMatchesOnly_NotNestedContainers()
    {
        var tag = new RuleTag("p", "eth0");
        IptablesRule Rule(string comment) => new("nat", "PM", ["-m", "comment", "--comment", comment, "-j", "RETURN"]);
        Assert.True(tag.Owns(Rule("container_id: p ifname: eth0")));
        Assert.True(tag.Owns(Rule("container_id: p")));
        Assert.False(tag.Owns(Rule("container_id: p.c")));
        Assert.False(tag.Owns(Rule("container_id: p ifname: eth1")));
        Assert.False(RuleTag.TryParse("something else", out _, out _));
    }

    [Fact]
    public void RouteDevice_TakesTheLongestPrefix_ThenTheLowestMetric()
    {
        const string table = """
            Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
            eth0	00000000	0100000A	0003	0	0	0	00000000	0	0	0
            br0	0000010A	00000000	0001	0	0	10	00FFFFFF	0	0	0
            br1	0000010A	00000000	0001	0	0	5	00FFFFFF	0	0	0
            down0	0500010A	00000000	0000	0	0	0	FFFFFFFF	0	0	0
            """;
        Assert.Equal("br1", RouteLocalnet.RouteDevice(table, IPAddress.Parse("10.1.0.5")));
        Assert.Equal("eth0", RouteLocalnet.RouteDevice(table, IPAddress.Parse("192.168.1.1")));
        Assert.Null(RouteLocalnet.RouteDevice(table, IPAddress.Parse("fd00::1")));
    }

    [Theory]
    [InlineData("xtables-nft-multi", IptablesBackend.Nft)]
    [InlineData("iptables-legacy-restore", IptablesBackend.Legacy)]
    [InlineData("xtables-legacy-multi", IptablesBackend.Legacy)]
    [InlineData("iptables-restore", null)]
    public void Backend_IsToldByTheBinaryName(string name, IptablesBackend? backend) =>
        Assert.Equal(backend, IptablesTools.NameTells(name));
}
