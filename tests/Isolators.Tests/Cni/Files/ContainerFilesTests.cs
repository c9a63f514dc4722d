using NetIsolator.Cni.Results;
using NetIsolator.Isolators.Cni;
using Xunit;

namespace NetIsolator.Isolators.Tests.Cni.Files;

public sealed class ContainerFilesTests
{
    private static JoinedNetwork Net(string name, string? resultJson = null) =>
        new(name, resultJson is null ? null : DnsSelectionTests.Result(resultJson));

    // resolv.conf formatting (CniSpecTest.GenerateResolverConfig and the exact line order).
    [Fact]
    public void EmptyDnsFormatsToEmptyString() => Assert.Equal("", ContainerFiles.ResolvConf(CniDns.Empty));

    [Fact]
    public void DomainLine() =>
        Assert.Equal("domain m.a.org\n", ContainerFiles.ResolvConf(new CniDns { Domain = "m.a.org" }));

    [Fact]
    public void EmptyDomainIsNotWritten() =>
        Assert.Equal("nameserver 1.1.1.1\n", ContainerFiles.ResolvConf(new CniDns { Domain = "", Nameservers = ["1.1.1.1"] }));

    [Fact]
    public void NameserverLines() =>
        Assert.Equal("nameserver 1.1.1.1\nnameserver 2001:db8::1\n",
            ContainerFiles.ResolvConf(new CniDns { Nameservers = ["1.1.1.1", "2001:db8::1"] }));

    [Fact]
    public void SearchLine() =>
        Assert.Equal("search a b\n", ContainerFiles.ResolvConf(new CniDns { Search = ["a", "b"] }));

    [Fact]
    public void OptionsLine() =>
        Assert.Equal("options debug ndots:2\n", ContainerFiles.ResolvConf(new CniDns { Options = ["debug", "ndots:2"] }));

    [Fact]
    public void LineOrderIsDomainSearchOptionsNameservers() =>
        Assert.Equal("domain d\nsearch s1 s2\noptions o1\nnameserver 1.1.1.1\nnameserver 1.1.1.2\n",
            ContainerFiles.ResolvConf(new CniDns
            {
                Nameservers = ["1.1.1.1", "1.1.1.2"], Options = ["o1"], Search = ["s1", "s2"], Domain = "d",
            }));

    [Fact]
    public void NothingIsTruncatedBeyondGlibcLimits() =>
        Assert.Equal("search a b c d e f g\nnameserver 1.1.1.1\nnameserver 1.1.1.2\nnameserver 1.1.1.3\nnameserver 1.1.1.4\n",
            ContainerFiles.ResolvConf(new CniDns
            {
                Nameservers = ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"], Search = ["a", "b", "c", "d", "e", "f", "g"],
            }));

    [Theory]
    [InlineData("", "resolv.conf: nameservers[1] must not be empty")]
    [InlineData("1.1.1.1 2.2.2.2", "resolv.conf: nameservers[1] must not hold whitespace or control characters")]
    [InlineData("1.1.1.1\n", "resolv.conf: nameservers[1] must not hold whitespace or control characters")]
    public void BadNameserverIsRejected(string nameserver, string expected) =>
        Assert.Equal(expected, Assert.Throws<FormatException>(() =>
            ContainerFiles.ResolvConf(new CniDns { Nameservers = ["8.8.8.8", nameserver] })).Message);

    [Fact]
    public void BadDomainOrOptionIsRejected()
    {
        Assert.Equal("resolv.conf: domain must not hold whitespace or control characters",
            Assert.Throws<FormatException>(() => ContainerFiles.ResolvConf(new CniDns { Domain = "a\tb" })).Message);
        Assert.Equal("resolv.conf: options[0] must not be empty",
            Assert.Throws<FormatException>(() => ContainerFiles.ResolvConf(new CniDns { Options = [""] })).Message);
    }

    // hostname.
    [Fact]
    public void HostnameHasNoTrailingNewline() => Assert.Equal("test", ContainerFiles.Hostname("test"));

    [Theory]
    [InlineData("parent_container", "leaf", "parent_container")]
    [InlineData(null, "5e1f3b0a-leaf", "5e1f3b0a-leaf")]
    [InlineData("", "5e1f3b0a-leaf", "5e1f3b0a-leaf")]
    public void HostnameIsContainerInfoHostnameElseLeafId(string? configured, string leaf, string expected) =>
        Assert.Equal(expected, ContainerFiles.ChooseHostname(configured, leaf));

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("a\nb")]
    [InlineData("a#b")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 65
    [InlineData("ééééééééééééééééééééééééééééééééé")] // 33 chars, 66 bytes
    public void BadHostnameIsRejected(string hostname)
    {
        Assert.Throws<ArgumentException>(() => ContainerFiles.Hostname(hostname));
        Assert.Throws<ArgumentException>(() => ContainerFiles.Hosts(hostname, []));
    }

    [Fact]
    public void SixtyFourByteHostnameIsAccepted()
    {
        var name = new string('a', 64);
        Assert.Equal(name, ContainerFiles.Hostname(name));
    }

    // hosts.
    [Fact]
    public void HostsWithoutAnyAddress()
    {
        Assert.Equal("127.0.0.1 localhost\n", ContainerFiles.Hosts("c1", []));
        Assert.Equal("127.0.0.1 localhost\n", ContainerFiles.Hosts("c1", [Net("a"), Net("b", """{"cniVersion":"0.2.0"}""")]));
    }

    [Fact]
    public void HostsIPv4OnlyIsMesosExactly() =>
        Assert.Equal("127.0.0.1 localhost\n10.0.0.5 c1\n",
            ContainerFiles.Hosts("c1", [Net("a", """{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.5/24"}}""")]));

    [Fact]
    public void HostsIPv6Only() =>
        Assert.Equal("127.0.0.1 localhost\n2001:db8::5 c1\n",
            ContainerFiles.Hosts("c1", [Net("a", """{"cniVersion":"0.2.0","ip6":{"ip":"2001:db8:0:0::5/64"}}""")]));

    [Fact]
    public void HostsDualStackIPv4First() =>
        Assert.Equal("127.0.0.1 localhost\n10.0.0.5 c1\n2001:db8::5 c1\n",
            ContainerFiles.Hosts("c1", [Net("a", """
                {"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/ns"}],
                 "ips":[{"address":"2001:db8::5/64","interface":0},{"address":"10.0.0.5/24","interface":0}]}
                """)]));

    [Fact]
    public void HostsTakesTheFirstNetworkInOrderThatHasEachFamily() =>
        Assert.Equal("127.0.0.1 localhost\n10.0.1.5 c1\n2001:db8::7 c1\n",
            ContainerFiles.Hosts("c1", [
                Net("none"),
                Net("v6", """{"cniVersion":"0.2.0","ip6":{"ip":"2001:db8::7/64"}}"""),
                Net("v4", """{"cniVersion":"0.2.0","ip4":{"ip":"10.0.1.5/24"}}"""),
                Net("both", """{"cniVersion":"0.2.0","ip4":{"ip":"10.0.2.5/24"},"ip6":{"ip":"2001:db8::8/64"}}"""),
            ]));

    [Fact]
    public void HostsSkipsHostSideAndLinkLocalAddresses() =>
        Assert.Equal("127.0.0.1 localhost\n10.0.0.5 c1\n2001:db8::5 c1\n",
            ContainerFiles.Hosts("c1", [Net("a", """
                {"cniVersion":"1.0.0","interfaces":[{"name":"cni0"},{"name":"eth0","sandbox":"/ns"}],
                 "ips":[{"address":"10.0.0.1/24","interface":0},{"address":"fe80::1/64","interface":1},
                        {"address":"10.0.0.5/24","interface":1},{"address":"2001:db8::5/64","interface":1}]}
                """)]));

    [Fact]
    public void BuildAssemblesAllThree()
    {
        var files = ContainerFiles.Build("c1", [Net("a", """{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.5/24"},"dns":{"nameservers":["1.1.1.1"]}}""")],
            ContainerDnsInfo.Empty);
        Assert.Equal(new ContainerNetworkFiles("c1", "127.0.0.1 localhost\n10.0.0.5 c1\n", "nameserver 1.1.1.1\n"), files);

        Assert.Null(ContainerFiles.Build("c1", [Net("a")], ContainerDnsInfo.Empty).ResolvConf);
    }
}
