using System.Net;
using NetIsolator.Cni.Results;
using NetIsolator.Cni.Versions;
using Xunit;

namespace NetIsolator.Cni.Tests.Results;

public sealed class ResultParsingTests
{
    [Fact]
    public void A_bridge_plugin_040_result_is_read_field_by_field()
    {
        var result = CniResults.Parse(Json.Utf8("""
            {"cniVersion":"0.4.0",
             "interfaces":[{"name":"cni0","mac":"0a:58:0a:16:00:01"},
                           {"name":"veth1234","mac":"5e:8c:1b:2f:9a:10"},
                           {"name":"eth0","mac":"0a:58:0a:16:00:05","sandbox":"/var/run/mesos/netns/abc"}],
             "ips":[{"version":"4","interface":2,"address":"10.22.0.5/16","gateway":"10.22.0.1"}],
             "routes":[{"dst":"0.0.0.0/0"}],
             "dns":{}}
            """));

        Assert.Equal(CniVersion.V040, result.CniVersion);
        Assert.Equal(["cni0", "veth1234", "eth0"], result.Interfaces.Select(i => i.Name));
        Assert.Equal("/var/run/mesos/netns/abc", result.Interfaces[2].Sandbox);
        var ip = Assert.Single(result.Ips);
        Assert.Equal(2, ip.Interface);
        Assert.Equal(IPAddress.Parse("10.22.0.5"), ip.Address.Address);
        Assert.Equal(16, ip.Address.PrefixLength);
        Assert.Equal(IPAddress.Parse("10.22.0.1"), ip.Gateway);
        Assert.Null(Assert.Single(result.Routes).Gateway);
        Assert.True(result.Dns.IsEmpty);
        Assert.False(result.ToJson().ContainsKey("dns"));
    }

    [Fact]
    public void Missing_cniVersion_takes_the_config_version()
    {
        var v1 = CniResults.Parse(Json.Utf8("""{"ips":[{"address":"10.0.0.2/24"}]}"""), CniVersion.V100);
        Assert.Equal(CniVersion.V100, v1.CniVersion);
        Assert.Single(v1.Ips);

        var v02 = CniResults.Parse(Json.Utf8("""{"ip4":{"ip":"10.0.0.2/24"}}"""), CniVersion.V020);
        Assert.Equal(CniVersion.V020, v02.CniVersion);
        Assert.Single(v02.Ips);

        var e = Assert.Throws<CniResultException>(() => CniResults.Parse(Json.Utf8("""{"ips":[]}""")));
        Assert.Contains("cniVersion", e.Message);
    }

    [Fact]
    public void ParseAs_converts_to_the_config_version()
    {
        var result = CniResults.ParseAs(Json.Utf8("""{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24"}}"""), CniVersion.V100);
        Json.Equal("""{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]}""", result.ToJson());
    }

    [Fact]
    public void Fields_unknown_to_the_version_are_dropped()
    {
        // 1.1.0 route and interface fields inside a 1.0.0 result, and a top-level key no version has.
        var result = CniResults.Parse(Json.Utf8("""
            {"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mtu":9000,"pciID":"x"}],
             "ips":[{"address":"10.0.0.2/24"}],"routes":[{"dst":"0.0.0.0/0","table":5}],"vendorExtra":{"a":1}}
            """));
        Json.Equal("""
            {"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],"ips":[{"address":"10.0.0.2/24"}],"routes":[{"dst":"0.0.0.0/0"}]}
            """, result.ToJson());
        Assert.Null(result.Interfaces[0].Mtu);
    }

    [Theory]
    [InlineData("""{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.2/24"},{"version":"4","address":"bogus"}]}""",
        "result (cniVersion 0.4.0): ips[1]: \"address\"")]
    [InlineData("""{"cniVersion":"1.0.0","ips":[{"address":"10.1/8"}]}""", "ips[0]: \"address\"")]
    [InlineData("""{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/33"}]}""", "prefix length")]
    [InlineData("""{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/8","gateway":"nope"}]}""", "ips[0]: \"gateway\"")]
    [InlineData("""{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/8","interface":-1}]}""", "ips[0]: \"interface\"")]
    [InlineData("""{"cniVersion":"0.3.1","ips":[{"version":"5","address":"10.0.0.1/8"}]}""", "ips[0]: \"version\"")]
    [InlineData("""{"cniVersion":"1.0.0","interfaces":[{"mac":"aa"}]}""", "interfaces[0]: missing \"name\"")]
    [InlineData("""{"cniVersion":"1.0.0","interfaces":{}}""", "\"interfaces\": expected an array, got an object")]
    [InlineData("""{"cniVersion":"1.1.0","routes":[{"dst":"0.0.0.0/0","mtu":"big"}]}""", "result (cniVersion 1.1.0): routes[0]: \"mtu\"")]
    [InlineData("""{"cniVersion":"1.0.0","dns":{"nameservers":[1]}}""", "dns.nameservers[0]")]
    [InlineData("""{"cniVersion":"0.2.0","ip4":{"ip":"fd00::1/64"}}""", "result (cniVersion 0.2.0): ip4: \"ip\"")]
    [InlineData("""{"cniVersion":"0.2.0","ip6":{"gateway":"fd00::1"}}""", "ip6: missing \"ip\"")]
    [InlineData("""{"cniVersion":"0.5.0"}""", "\"0.5.0\" is not supported")]
    [InlineData("""{"cniVersion":"one"}""", "\"cniVersion\": invalid version")]
    [InlineData("""[]""", "expected a JSON object")]
    [InlineData("""{""", "not valid JSON")]
    public void Malformed_results_name_the_version_and_the_field(string json, string expected)
    {
        var e = Assert.Throws<CniResultException>(() => CniResults.Parse(Json.Utf8(json)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void IPv6_and_mapped_addresses_are_classified_like_go_To4()
    {
        Assert.False(IpPrefix.Parse("fd00::5/64").IsIPv4);
        Assert.True(IpPrefix.Parse("10.0.0.1/8").IsIPv4);
        Assert.True(IpPrefix.Parse("::ffff:10.0.0.1/120").IsIPv4);
        Assert.Equal("fd00::5/64", IpPrefix.Parse("FD00:0::5/64").ToString());
    }
}
