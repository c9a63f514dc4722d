using NetIsolator.Isolators.Cni;
using Xunit;

namespace NetIsolator.Isolators.Tests.Cni.Files;

public sealed class ContainerDnsInfoTests
{
    private const string Dns = """{"nameservers":["8.8.8.8"]}""";

    private static string Mesos(params string[] entries) => $$"""{"mesos":[{{string.Join(",", entries)}}]}""";

    private static string Entry(string mode, string? name = null, string dns = Dns) =>
        name is null
            ? $$"""{"network_mode":"{{mode}}","dns":{{dns}}}"""
            : $$"""{"network_mode":"{{mode}}","network_name":"{{name}}","dns":{{dns}}}""";

    private static string Error(string flag) => Assert.Throws<ContainerDnsInfoException>(() => ContainerDnsInfo.Parse(flag)).Message;

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void UnsetFlagIsEmpty(string? flag)
    {
        var info = ContainerDnsInfo.Parse(flag);
        Assert.Same(ContainerDnsInfo.Empty, info);
        Assert.Null(info.ForCniNetwork("net1"));
    }

    [Fact]
    public void ParsesTheFullShape()
    {
        var info = ContainerDnsInfo.Parse("""
            {"mesos":[
               {"network_mode":"CNI","network_name":"net1",
                "dns":{"nameservers":["1.1.1.1","1.0.0.1"],"domain":"a.org","search":["x.a.org","y.a.org"],"options":["ndots:2"]}},
               {"network_mode":"CNI","dns":{"nameservers":["8.8.8.8"]}}],
             "docker":[{"network_mode":"BRIDGE","dns":{"nameservers":["9.9.9.9"]}}],
             "unknown_key":1}
            """);

        Assert.Equal(2, info.Mesos.Count);
        Assert.Equal(MesosDnsNetworkMode.Cni, info.Mesos[0].NetworkMode);
        Assert.Equal("net1", info.Mesos[0].NetworkName);
        var net1 = info.CniDnsByNetwork["net1"];
        Assert.Equal(["1.1.1.1", "1.0.0.1"], net1.Nameservers);
        Assert.Equal("a.org", net1.Domain);
        Assert.Equal(["x.a.org", "y.a.org"], net1.Search);
        Assert.Equal(["ndots:2"], net1.Options);
        Assert.Equal(["8.8.8.8"], info.DefaultCniDns!.Nameservers);
        Assert.Null(info.Mesos[1].NetworkName);
        Assert.Equal(DockerDnsNetworkMode.Bridge, Assert.Single(info.Docker).NetworkMode);
    }

    [Fact]
    public void PerNetworkEntryBeatsTheWildcardAndTheWildcardCoversOthers()
    {
        var info = ContainerDnsInfo.Parse(Mesos(
            Entry("CNI", dns: """{"nameservers":["8.8.8.8"]}"""),
            Entry("CNI", "net1", """{"search":["only.search"]}""")));

        Assert.Equal(["only.search"], info.ForCniNetwork("net1")!.Search);
        Assert.Empty(info.ForCniNetwork("net1")!.Nameservers);
        Assert.Equal(["8.8.8.8"], info.ForCniNetwork("net2")!.Nameservers);
    }

    [Fact]
    public void ReadsFileUrl()
    {
        var path = Path.Join(Path.GetTempPath(), "dns-" + Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, Mesos(Entry("CNI", "net1")));
        try
        {
            Assert.Equal(["8.8.8.8"], ContainerDnsInfo.Parse("file://" + path).ForCniNetwork("net1")!.Nameservers);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FileUrlThatCannotBeReadIsAnError() =>
        Assert.StartsWith("default_container_dns: cannot read '/nonexistent/dns.json': ",
            Error("file:///nonexistent/dns.json"));

    [Fact]
    public void ErrorsInAFileNameTheRule()
    {
        var path = Path.Join(Path.GetTempPath(), "dns-" + Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, Mesos(Entry("HOST")));
        try
        {
            Assert.Equal("default_container_dns: mesos[0]: network_mode HOST is not yet supported",
                Error("file://" + path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    // §1.1: the four rules that stop the agent, each with its exact text.
    [Theory]
    [InlineData("""{"mesos":[{"dns":{"nameservers":["8.8.8.8"]}}]}""",
        "default_container_dns: mesos[0]: network_mode UNKNOWN is not allowed (set HOST or CNI)")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","dns":{}},{"network_mode":"UNKNOWN","dns":{}}]}""",
        "default_container_dns: mesos[1]: network_mode UNKNOWN is not allowed (set HOST or CNI)")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","dns":{}},{"network_mode":"HOST","dns":{}}]}""",
        "default_container_dns: mesos[1]: network_mode HOST is not yet supported")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","dns":{}},{"network_mode":"CNI","network_name":"a","dns":{}},{"network_mode":"CNI","dns":{}}]}""",
        "default_container_dns: mesos[2]: more than one CNI entry without network_name")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","network_name":"a","dns":{}},{"network_mode":"CNI","network_name":"b","dns":{}},{"network_mode":"CNI","network_name":"a","dns":{}}]}""",
        "default_container_dns: mesos[2]: more than one CNI entry for network_name 'a'")]
    public void MesosRules(string flag, string expected) => Assert.Equal(expected, Error(flag));

    [Fact]
    public void SameNameInDifferentCaseIsTwoNetworks()
    {
        var info = ContainerDnsInfo.Parse(Mesos(Entry("CNI", "a"), Entry("CNI", "A")));
        Assert.Equal(2, info.CniDnsByNetwork.Count);
    }

    [Theory]
    [InlineData("""{"docker":[{"dns":{}}]}""",
        "default_container_dns: docker[0]: network_mode UNKNOWN is not allowed (set HOST, BRIDGE or USER)")]
    [InlineData("""{"docker":[{"network_mode":"HOST","dns":{}}]}""",
        "default_container_dns: docker[0]: network_mode HOST is not yet supported")]
    [InlineData("""{"docker":[{"network_mode":"BRIDGE","dns":{}},{"network_mode":"BRIDGE","dns":{}}]}""",
        "default_container_dns: docker[1]: more than one BRIDGE entry")]
    [InlineData("""{"docker":[{"network_mode":"USER","dns":{}},{"network_mode":"USER","network_name":"u","dns":{}},{"network_mode":"USER","dns":{}}]}""",
        "default_container_dns: docker[2]: more than one USER entry without network_name")]
    [InlineData("""{"docker":[{"network_mode":"USER","network_name":"u","dns":{}},{"network_mode":"USER","network_name":"u","dns":{}}]}""",
        "default_container_dns: docker[1]: more than one USER entry for network_name 'u'")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","dns":{}}],"docker":[{"network_mode":"SWARM","dns":{}}]}""",
        "default_container_dns: docker[0]: network_mode 'SWARM' is not one of UNKNOWN, HOST, BRIDGE, USER")]
    public void DockerRules(string flag, string expected) => Assert.Equal(expected, Error(flag));

    [Fact]
    public void DockerAllowsOneBridgeOneUserWildcardAndNamedUsers()
    {
        var info = ContainerDnsInfo.Parse("""
            {"docker":[{"network_mode":"BRIDGE","dns":{}},{"network_mode":"USER","dns":{}},
                       {"network_mode":"USER","network_name":"u1","dns":{}},{"network_mode":"USER","network_name":"u2","dns":{}}]}
            """);
        Assert.Equal(4, info.Docker.Count);
        Assert.Null(info.DefaultCniDns); // docker entries never feed the CNI defaults
        Assert.Empty(info.CniDnsByNetwork);
    }

    // Shape errors, each naming where it is.
    [Theory]
    [InlineData("not json", "default_container_dns: invalid JSON: ")]
    [InlineData("""{"mesos":[}""", "default_container_dns: invalid JSON: ")]
    [InlineData("[]", "default_container_dns: must be a JSON object")]
    [InlineData("""{"mesos":{}}""", "default_container_dns: mesos must be an array")]
    [InlineData("""{"mesos":[1]}""", "default_container_dns: mesos[0]: must be a JSON object")]
    [InlineData("""{"mesos":[{"network_mode":"CNI"}]}""", "default_container_dns: mesos[0]: dns is required")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","dns":null}]}""", "default_container_dns: mesos[0]: dns is required")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","dns":[]}]}""", "default_container_dns: mesos[0]: dns must be a JSON object")]
    [InlineData("""{"mesos":[{"network_mode":2,"dns":{}}]}""",
        "default_container_dns: mesos[0]: network_mode must be a string (one of UNKNOWN, HOST, CNI)")]
    [InlineData("""{"mesos":[{"network_mode":"cni","dns":{}}]}""",
        "default_container_dns: mesos[0]: network_mode 'cni' is not one of UNKNOWN, HOST, CNI")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","network_name":7,"dns":{}}]}""",
        "default_container_dns: mesos[0]: network_name must be a string")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","network_name":"","dns":{}}]}""",
        "default_container_dns: mesos[0]: network_name must not be empty")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","dns":{"nameservers":"8.8.8.8"}}]}""",
        "default_container_dns: mesos[0]: dns.nameservers must be an array of strings")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","dns":{"nameservers":["8.8.8.8",1]}}]}""",
        "default_container_dns: mesos[0]: dns.nameservers[1] must be a string")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","dns":{"search":["a b"]}}]}""",
        "default_container_dns: mesos[0]: dns.search[0] must not hold whitespace or control characters")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","dns":{"options":[""]}}]}""",
        "default_container_dns: mesos[0]: dns.options[0] must not be empty")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","dns":{"domain":"a.org\nnameserver 6.6.6.6"}}]}""",
        "default_container_dns: mesos[0]: dns.domain must not hold whitespace or control characters")]
    [InlineData("""{"mesos":[{"network_mode":"CNI","dns":{"domain":3}}]}""",
        "default_container_dns: mesos[0]: dns.domain must be a string")]
    public void ShapeErrors(string flag, string expectedPrefix) => Assert.StartsWith(expectedPrefix, Error(flag));

    [Fact]
    public void ExactShapeErrorTextHasNoTrailingDetail() =>
        Assert.Equal("default_container_dns: mesos[0]: dns is required", Error("""{"mesos":[{"network_mode":"CNI"}]}"""));

    [Fact]
    public void DuplicateJsonKeyIsInvalidJson() =>
        Assert.StartsWith("default_container_dns: invalid JSON: ",
            Error("""{"mesos":[],"mesos":[{"network_mode":"HOST","dns":{}}]}"""));

    [Fact]
    public void NullAndEmptyDomainCountAsAbsent()
    {
        var info = ContainerDnsInfo.Parse("""
            {"mesos":[{"network_mode":"CNI","network_name":"a","network_mode_extra":null,"dns":{"domain":"","nameservers":null}}],"docker":null}
            """);
        var dns = info.ForCniNetwork("a")!;
        Assert.Null(dns.Domain);
        Assert.Empty(dns.Nameservers);
        Assert.Empty(info.Docker);
    }
}
