using System.Text;
using NetIsolator.Cni.Results;
using NetIsolator.Isolators.Cni;
using Xunit;

namespace NetIsolator.Isolators.Tests.Cni.Files;

public sealed class DnsSelectionTests
{
    // The Mesos suite's default-DNS flag (DefaultContainerDNSCniTest.ROOT_VerifyDefaultDNS).
    private const string MesosDefaultDnsExpected =
        "domain mesos.apache.org\nsearch a.mesos.apache.org\noptions timeout:3 attempts:2\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n";

    private const string MesosDefaultDns =
        """{"nameservers":["8.8.8.8","8.8.4.4"],"domain":"mesos.apache.org","search":["a.mesos.apache.org"],"options":["timeout:3","attempts:2"]}""";

    private const string OtherDns = """{"nameservers":["9.9.9.9"],"domain":"other.org","search":["x.other.org"],"options":["debug"]}""";

    internal static CniResult Result(string json) => CniResults.Parse(Encoding.UTF8.GetBytes(json));

    private static JoinedNetwork Net(string name, string? resultJson = null) =>
        new(name, resultJson is null ? null : Result(resultJson));

    private static ContainerDnsInfo Flag(string json) => ContainerDnsInfo.Parse(json);

    private static string? Select(ContainerDnsInfo defaults, params JoinedNetwork[] networks) =>
        DnsSelection.ResolvConf(networks, defaults);

    [Fact]
    public void ResultDnsIsWrittenByteExactly() =>
        // CniIsolatorTest.ROOT_VerifyResolverConfig.
        Assert.Equal(
            "domain mesos.apache.org\nsearch a.mesos.apache.org a.mesos.apache.org\noptions option1 option2\nnameserver 1.1.1.1\nnameserver 1.1.1.2\n",
            Select(ContainerDnsInfo.Empty, Net("net1", """
                {"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.5/24"},
                 "dns":{"nameservers":["1.1.1.1","1.1.1.2"],"domain":"mesos.apache.org",
                        "search":["a.mesos.apache.org","a.mesos.apache.org"],"options":["option1","option2"]}}
                """)));

    [Fact]
    public void PerNetworkDefaultIsUsedWhenTheResultHasNoDns() =>
        Assert.Equal(MesosDefaultDnsExpected,
            Select(Flag($$"""{"mesos":[{"network_mode":"CNI","network_name":"net1","dns":{{MesosDefaultDns}}}]}"""),
                Net("net1", """{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.5/24"}}""")));

    [Fact]
    public void WildcardDefaultIsUsedWhenTheResultHasNoDns() =>
        Assert.Equal(MesosDefaultDnsExpected,
            Select(Flag($$"""{"mesos":[{"network_mode":"CNI","dns":{{MesosDefaultDns}}}]}"""),
                Net("net1", """{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.5/24"}}""")));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PerNetworkDefaultBeatsTheWildcard(bool wildcardFirst)
    {
        var perNetwork = $$"""{"network_mode":"CNI","network_name":"net1","dns":{{MesosDefaultDns}}}""";
        var wildcard = $$"""{"network_mode":"CNI","dns":{{OtherDns}}}""";
        var flag = wildcardFirst ? $$"""{"mesos":[{{wildcard}},{{perNetwork}}]}""" : $$"""{"mesos":[{{perNetwork}},{{wildcard}}]}""";
        Assert.Equal(MesosDefaultDnsExpected, Select(Flag(flag), Net("net1")));
    }

    [Fact]
    public void PerNetworkDefaultWithoutNameserversStillShadowsTheWildcard() =>
        // Mesos picks the named entry whatever it holds; with no nameserver the host file is used.
        Assert.Null(Select(
            Flag("""{"mesos":[{"network_mode":"CNI","network_name":"net1","dns":{"search":["s"]}},{"network_mode":"CNI","dns":{"nameservers":["8.8.8.8"]}}]}"""),
            Net("net1")));

    [Fact]
    public void ResultDnsWithANameserverBeatsEveryDefault() =>
        Assert.Equal("nameserver 1.1.1.1\n", Select(
            Flag($$"""{"mesos":[{"network_mode":"CNI","network_name":"net1","dns":{{MesosDefaultDns}}},{"network_mode":"CNI","dns":{{OtherDns}}}]}"""),
            Net("net1", """{"cniVersion":"0.2.0","dns":{"nameservers":["1.1.1.1"]}}""")));

    [Fact]
    public void ResultDnsWithoutANameserverIsIgnoredEntirely() =>
        // Its domain/search/options are not merged; the flag's entry is used instead.
        Assert.Equal(MesosDefaultDnsExpected, Select(
            Flag($$"""{"mesos":[{"network_mode":"CNI","dns":{{MesosDefaultDns}}}]}"""),
            Net("net1", """{"cniVersion":"0.2.0","dns":{"domain":"result.org","search":["r"],"options":["rotate"]}}""")));

    [Fact]
    public void EmptyResultDnsFromHostLocalFallsBack() =>
        Assert.Equal("nameserver 9.9.9.9\n", Select(
            Flag("""{"mesos":[{"network_mode":"CNI","dns":{"nameservers":["9.9.9.9"]}}]}"""),
            Net("net1", """{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.5/24"}],"dns":{}}""")));

    [Fact]
    public void NoNameserverAnywhereMeansNoResolvConf()
    {
        Assert.Null(Select(ContainerDnsInfo.Empty, Net("net1", """{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.5/24"}}""")));
        Assert.Null(Select(ContainerDnsInfo.Empty, Net("net1")));
        Assert.Null(Select(ContainerDnsInfo.Empty));
        Assert.Null(DnsSelection.Merge([Net("net1")], ContainerDnsInfo.Empty));
    }

    [Fact]
    public void DomainSearchOptionsWithoutANameserverAreDropped() =>
        // The all-or-nothing fallback (Mesos §7.7), kept.
        Assert.Null(Select(
            Flag("""{"mesos":[{"network_mode":"CNI","dns":{"domain":"d.org","search":["s"],"options":["o"]}}]}"""),
            Net("net1"), Net("net2")));

    [Fact]
    public void SeveralNetworksMergeInNetworkInfoOrder()
    {
        var flag = Flag($$$"""
            {"mesos":[{"network_mode":"CNI","network_name":"b","dns":{{{OtherDns}}}},
                      {"network_mode":"CNI","dns":{"nameservers":["8.8.8.8"],"search":["wild"],"options":["ndots:1"]}}]}
            """);
        var a = Net("a", """{"cniVersion":"0.2.0","dns":{"nameservers":["1.1.1.1"],"domain":"a.org","search":["a.org"],"options":["debug"]}}""");
        var b = Net("b");
        var c = Net("c", """{"cniVersion":"0.2.0","dns":{}}""");

        // Nameservers, search and options are appended (duplicates kept); the last domain set wins.
        Assert.Equal(
            "domain other.org\nsearch a.org x.other.org wild\noptions debug debug ndots:1\nnameserver 1.1.1.1\nnameserver 9.9.9.9\nnameserver 8.8.8.8\n",
            Select(flag, a, b, c));
        Assert.Equal(
            "domain a.org\nsearch wild x.other.org a.org\noptions ndots:1 debug debug\nnameserver 8.8.8.8\nnameserver 9.9.9.9\nnameserver 1.1.1.1\n",
            Select(flag, c, b, a));
    }

    [Fact]
    public void ALaterNetworkWithoutDomainKeepsTheEarlierDomain() =>
        Assert.Equal("domain a.org\nnameserver 1.1.1.1\nnameserver 2.2.2.2\n", Select(ContainerDnsInfo.Empty,
            Net("a", """{"cniVersion":"0.2.0","dns":{"nameservers":["1.1.1.1"],"domain":"a.org"}}"""),
            Net("b", """{"cniVersion":"0.2.0","dns":{"nameservers":["2.2.2.2"]}}""")));

    [Fact]
    public void ANetworkWithoutNameserversStillContributesWhenAnotherHasOne() =>
        Assert.Equal("domain d.org\nsearch s\nnameserver 1.1.1.1\n", Select(
            Flag("""{"mesos":[{"network_mode":"CNI","network_name":"b","dns":{"domain":"d.org","search":["s"]}}]}"""),
            Net("a", """{"cniVersion":"0.2.0","dns":{"nameservers":["1.1.1.1"]}}"""),
            Net("b")));

    [Fact]
    public void DockerEntriesAreNeverUsed() =>
        Assert.Null(Select(Flag("""{"docker":[{"network_mode":"BRIDGE","dns":{"nameservers":["8.8.8.8"]}}]}"""), Net("net1")));

    [Fact]
    public void SourceForNamesTheChosenSource()
    {
        var flag = Flag("""{"mesos":[{"network_mode":"CNI","dns":{"nameservers":["8.8.8.8"]}}]}""");
        Assert.Equal(["8.8.8.8"], DnsSelection.SourceFor(Net("x"), flag)!.Nameservers);
        Assert.Null(DnsSelection.SourceFor(Net("x"), ContainerDnsInfo.Empty));
    }

    [Fact]
    public void AResultValueThatCannotBeWrittenFailsInsteadOfInjectingLines()
    {
        var bad = Net("a", """{"cniVersion":"0.2.0","dns":{"nameservers":["1.1.1.1"],"search":["a.org\nnameserver 6.6.6.6"]}}""");
        var e = Assert.Throws<FormatException>(() => Select(ContainerDnsInfo.Empty, bad));
        Assert.Equal("resolv.conf: search[0] must not hold whitespace or control characters", e.Message);
    }
}
