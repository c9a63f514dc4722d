using NetIsolator.Cni.Config;
using NetIsolator.Cni.Tests.Results;
using NetIsolator.Cni.Versions;
using Xunit;

namespace NetIsolator.Cni.Tests.Config;

public sealed class NetworkConfigListTests
{
    // As operators write it for Debian's containernetworking-plugins.
    internal const string BridgeConflist = """
        {
          "cniVersion": "1.0.0",
          "name": "mesos-bridge",
          "plugins": [
            {
              "type": "bridge",
              "bridge": "mesos-cni0",
              "isGateway": true,
              "ipMasq": true,
              "hairpinMode": true,
              "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]],
                "routes": [{"dst": "0.0.0.0/0"}]
              }
            },
            {
              "type": "portmap",
              "capabilities": {"portMappings": true},
              "snat": true
            },
            {
              "type": "firewall",
              "backend": "iptables"
            }
          ]
        }
        """;

    [Fact]
    public void A_bridge_host_local_portmap_conflist_loads_with_its_plugins()
    {
        var list = NetworkConfigList.FromBytes(Json.Utf8(BridgeConflist), "test");

        Assert.Equal("mesos-bridge", list.Name);
        Assert.Equal(CniVersion.V100, list.CniVersion);
        Assert.False(list.IsSinglePlugin);
        Assert.Equal(["bridge", "portmap", "firewall"], list.Plugins.Select(p => p.Type));
        Assert.Equal("host-local", list.Plugins[0].IpamType);
        Assert.True(list.Plugins[1].HasCapability("portMappings"));
        Assert.False(list.Plugins[0].HasCapability("portMappings"));
        Assert.True((bool)list.Plugins[0].RawJson()["hairpinMode"]!);
        Assert.Equal(Json.Utf8(BridgeConflist), list.Bytes.ToArray());
    }

    [Fact]
    public void A_single_plugin_conf_becomes_a_one_plugin_list_with_name_and_version_lifted()
    {
        const string conf = """
            {"cniVersion":"0.2.0","name":"mesos-net","type":"bridge","bridge":"mesos-cni0",
             "ipam":{"type":"host-local","subnet":"10.1.0.0/16"}}
            """;
        var list = NetworkConfigList.FromBytes(Json.Utf8(conf), "10-mesos.conf");

        Assert.True(list.IsSinglePlugin);
        Assert.Equal("mesos-net", list.Name);
        Assert.Equal(CniVersion.V020, list.CniVersion);
        var plugin = Assert.Single(list.Plugins);
        Assert.Equal("bridge", plugin.Type);
        Json.Equal(conf, plugin.RawJson());
        Json.Equal($$"""{"cniVersion":"0.2.0","name":"mesos-net","plugins":[{{conf}}]}""", list.ToConfListJson());
    }

    [Fact]
    public void A_config_without_cniVersion_is_0_1_0()
    {
        var list = NetworkConfigList.FromBytes(Json.Utf8("""{"name":"n","type":"bridge"}"""), "t");
        Assert.Equal(CniVersion.V010, list.CniVersion);
        Assert.Null(list.DeclaredCniVersion);
    }

    [Fact]
    public void Checkpointed_bytes_parse_back_to_the_same_list()
    {
        var list = NetworkConfigList.FromBytes(Json.Utf8(BridgeConflist), "a");
        var again = NetworkConfigList.FromBytes(list.Bytes.Span, "checkpoint");
        Json.Equal(list.ToConfListJson().ToJsonString(), again.ToConfListJson());
    }

    [Theory]
    [InlineData("""{"cniVersion":"1.0.0","cniVersions":["0.4.0","1.1.0","1.0.0"],"name":"n","plugins":[{"type":"a"}]}""", "1.1.0")]
    [InlineData("""{"cniVersion":"1.0.0","cniVersions":["0.4.0","1.5.0"],"name":"n","plugins":[{"type":"a"}]}""", "1.0.0")]
    [InlineData("""{"cniVersions":["0.3.1","0.4.0"],"name":"n","plugins":[{"type":"a"}]}""", "0.4.0")]
    [InlineData("""{"cniVersion":"2.0.0","cniVersions":["1.1.0"],"name":"n","plugins":[{"type":"a"}]}""", "1.1.0")]
    public void CniVersions_selects_the_highest_supported(string json, string expected) =>
        Assert.Equal(expected, NetworkConfigList.FromBytes(Json.Utf8(json), "t").CniVersion.ToString());

    [Fact]
    public void DisableCheck_and_disableGC_accept_booleans_and_strings()
    {
        var list = NetworkConfigList.FromBytes(
            Json.Utf8("""{"cniVersion":"1.1.0","name":"n","disableCheck":"true","disableGC":true,"plugins":[{"type":"a"}]}"""), "t");
        Assert.True(list.DisableCheck);
        Assert.True(list.DisableGc);
        var plain = NetworkConfigList.FromBytes(Json.Utf8("""{"cniVersion":"1.1.0","name":"n","plugins":[{"type":"a"}]}"""), "t");
        Assert.False(plain.DisableCheck);
        Assert.False(plain.DisableGc);
    }

    [Theory]
    [InlineData("""{"cniVersion":"1.0.0","plugins":[{"type":"a"}]}""", "'/etc/cni/net.d/x.conflist': missing \"name\"")]
    [InlineData("""{"cniVersion":"1.0.0","name":7,"plugins":[{"type":"a"}]}""", "\"name\": expected a string, got a number")]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a"},{"bridge":"b"}]}""", "'/etc/cni/net.d/x.conflist': plugins[1]: missing \"type\"")]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","plugins":[{"type":3}]}""", "plugins[0]: \"type\": expected a string")]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","plugins":[]}""", "\"plugins\": must list at least one plugin")]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","plugins":{}}""", "\"plugins\": expected an array")]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","plugins":["bridge"]}""", "plugins[0]: expected an object, got a string")]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"../../bin/sh"}]}""", "plugins[0]: \"type\"")]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"/usr/bin/evil"}]}""", "without '/'")]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a","capabilities":{"portMappings":"yes"}}]}""", "plugins[0].capabilities: \"portMappings\": expected a boolean")]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a","ipam":{"subnet":"10.0.0.0/8"}}]}""", "plugins[0].ipam: missing \"type\"")]
    [InlineData("""{"cniVersion":"0.2.0","name":"n","plugins":[{"type":"a"},{"type":"b"}]}""", "\"cniVersion\": 0.2.0 does not support chaining 2 plugins")]
    [InlineData("""{"cniVersion":"1.0","name":"n","plugins":[{"type":"a"}],"cniVersions":[1]}""", "cniVersions[0]: expected a string")]
    [InlineData("""{"cniVersion":"0.9.0","name":"n","plugins":[{"type":"a"}]}""", "\"cniVersion\": \"0.9.0\" is not supported")]
    [InlineData("""{"cniVersion":"x.y","name":"n","plugins":[{"type":"a"}]}""", "\"cniVersion\": invalid version \"x.y\"")]
    [InlineData("""{"cniVersions":["1.9.0"],"name":"n","plugins":[{"type":"a"}]}""", "\"cniVersions\": none of [1.9.0]")]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","disableCheck":"maybe","plugins":[{"type":"a"}]}""", "\"disableCheck\": expected true or false")]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a"}],""", "'/etc/cni/net.d/x.conflist': not valid JSON")]
    [InlineData("""[1,2]""", "expected a JSON object, got an array")]
    [InlineData("""{"cniVersion":"1.0.0","name":"n","type":"a","name":"m"}""", "'/etc/cni/net.d/x.conflist'")]
    public void Invalid_configs_name_the_file_the_key_and_the_problem(string json, string expected)
    {
        var e = Assert.Throws<CniConfigException>(() => NetworkConfigList.FromBytes(Json.Utf8(json), "/etc/cni/net.d/x.conflist"));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("../x", "must start with an ASCII letter or digit")]
    [InlineData("a/b", "contains '/' at index 1")]
    [InlineData("net\u00e9", "non-ASCII character U+00E9 at index 3")]
    [InlineData("", "must not be empty")]
    [InlineData("-net", "must start with an ASCII letter or digit")]
    [InlineData("a b", "contains ' ' at index 1")]
    public void Hostile_network_names_are_rejected_with_a_clear_message(string name, string expected)
    {
        var json = $$"""{"cniVersion":"1.0.0","name":{{Json.Quote(name)}},"plugins":[{"type":"a"}]}""";
        var e = Assert.Throws<CniConfigException>(() => NetworkConfigList.FromBytes(Json.Utf8(json), "f.conflist"));
        Assert.Contains("'f.conflist': \"name\":", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Over_long_names_are_rejected_and_the_limit_itself_is_accepted()
    {
        var longName = new string('a', 300);
        var e = Assert.Throws<CniConfigException>(() => NetworkConfigList.FromBytes(
            Json.Utf8($$"""{"name":"{{longName}}","type":"a"}"""), "f.conf"));
        Assert.Contains("300 characters long, more than 128", e.Message);

        Assert.True(NetworkName.IsValid(new string('a', NetworkName.MaxLength)));
        Assert.True(NetworkName.IsValid("Net_1.a-b"));
    }
}
