using System.Text.Json.Nodes;
using NetIsolator.Cni.Config;
using NetIsolator.Cni.Invocation;
using NetIsolator.Cni.Requests;
using NetIsolator.Cni.Results;
using NetIsolator.Cni.Tests.Config;
using NetIsolator.Cni.Tests.Results;
using NetIsolator.Cni.Versions;
using Xunit;

namespace NetIsolator.Cni.Tests.Requests;

public sealed class PluginRequestsTests
{
    private static NetworkConfigList Bridge(string version = "1.0.0") => NetworkConfigList.FromBytes(
        Json.Utf8(NetworkConfigListTests.BridgeConflist.Replace("\"1.0.0\"", $"\"{version}\"")), "bridge.conflist");

    private static readonly CniResult BridgeResult = CniResults.Parse(Json.Utf8("""
        {"cniVersion":"1.0.0","interfaces":[{"name":"mesos-cni0","mac":"aa:00:00:00:00:01"},
          {"name":"eth0","mac":"aa:00:00:00:00:02","sandbox":"/var/run/netns/c1"}],
         "ips":[{"interface":1,"address":"10.88.0.5/16","gateway":"10.88.0.1"}],
         "routes":[{"dst":"0.0.0.0/0"}]}
        """));

    private static RuntimeInputs Inputs => new()
    {
        Capabilities = CapabilityArgs.Empty
            .WithPortMappings([new PortMapping(8080, 80), new PortMapping(5353, 53, "udp", "192.0.2.1")])
            .WithMac("0a:58:0a:58:00:05"),
        Args = RequestArgs.Combine(
            RequestArgs.MesosNetworkInfo(new JsonObject { ["name"] = "mesos-bridge", ["labels"] = new JsonObject() }),
            RequestArgs.CniLabels([new("team", "infra")])),
    };

    [Fact]
    public void Add_first_plugin_keeps_unknown_fields_and_gets_no_runtimeConfig_it_did_not_declare()
    {
        var request = PluginRequests.Build(PluginCommand.Add, Bridge(), 0, Inputs);

        Json.Equal("""
            {"cniVersion":"1.0.0","name":"mesos-bridge",
             "type":"bridge","bridge":"mesos-cni0","isGateway":true,"ipMasq":true,"hairpinMode":true,
             "ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.0.0/16","gateway":"10.88.0.1"}]],"routes":[{"dst":"0.0.0.0/0"}]},
             "args":{"org.apache.mesos":{"network_info":{"name":"mesos-bridge","labels":{}}},
                     "cni":{"labels":[{"key":"team","value":"infra"}]}}}
            """, request);
    }

    [Fact]
    public void Add_second_plugin_gets_declared_capabilities_and_prevResult_and_no_capabilities_key()
    {
        var request = PluginRequests.BuildJson(PluginCommand.Add, Bridge(), 1, Inputs, BridgeResult);

        Json.Equal("""
            {"cniVersion":"1.0.0","name":"mesos-bridge","type":"portmap","snat":true,
             "runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"},
                                              {"hostPort":5353,"containerPort":53,"protocol":"udp","hostIP":"192.0.2.1"}]},
             "args":{"org.apache.mesos":{"network_info":{"name":"mesos-bridge","labels":{}}},
                     "cni":{"labels":[{"key":"team","value":"infra"}]}},
             "prevResult":{"cniVersion":"1.0.0",
               "interfaces":[{"name":"mesos-cni0","mac":"aa:00:00:00:00:01"},{"name":"eth0","mac":"aa:00:00:00:00:02","sandbox":"/var/run/netns/c1"}],
               "ips":[{"interface":1,"address":"10.88.0.5/16","gateway":"10.88.0.1"}],
               "routes":[{"dst":"0.0.0.0/0"}]}}
            """, request);
        Assert.False(request.ContainsKey("capabilities"));
        Assert.False(((JsonObject)request["runtimeConfig"]!).ContainsKey("mac"));
    }

    [Fact]
    public void A_declared_capability_the_runtime_does_not_supply_adds_no_runtimeConfig()
    {
        var request = PluginRequests.BuildJson(PluginCommand.Add, Bridge(), 1, RuntimeInputs.None, BridgeResult);
        Assert.False(request.ContainsKey("runtimeConfig"));
        Assert.False(request.ContainsKey("args"));
    }

    [Fact]
    public void A_capability_declared_false_is_not_injected()
    {
        var list = NetworkConfigList.FromBytes(Json.Utf8("""
            {"cniVersion":"1.0.0","name":"n","plugins":[{"type":"tuning","capabilities":{"mac":false,"portMappings":true}}]}
            """), "t");
        var request = PluginRequests.BuildJson(PluginCommand.Add, list, 0, Inputs);
        Assert.Equal(["portMappings"], ((JsonObject)request["runtimeConfig"]!).Select(p => p.Key));
    }

    [Fact]
    public void PrevResult_is_converted_to_the_list_version()
    {
        var request = PluginRequests.BuildJson(PluginCommand.Add, Bridge("0.4.0"), 1, prevResult: BridgeResult);
        Json.Equal("""
            {"cniVersion":"0.4.0",
             "interfaces":[{"name":"mesos-cni0","mac":"aa:00:00:00:00:01"},{"name":"eth0","mac":"aa:00:00:00:00:02","sandbox":"/var/run/netns/c1"}],
             "ips":[{"version":"4","interface":1,"address":"10.88.0.5/16","gateway":"10.88.0.1"}],
             "routes":[{"dst":"0.0.0.0/0"}]}
            """, request["prevResult"]);
        Assert.Equal("0.4.0", (string)request["cniVersion"]!);
    }

    [Theory]
    [InlineData("0.3.1", false)]
    [InlineData("0.4.0", true)]
    [InlineData("1.0.0", true)]
    [InlineData("1.1.0", true)]
    public void Del_gets_prevResult_from_0_4_0_on(string version, bool expected)
    {
        var request = PluginRequests.BuildJson(PluginCommand.Del, Bridge(version), 2, Inputs, BridgeResult);
        Assert.Equal(expected, request.ContainsKey("prevResult"));
        Assert.Equal("firewall", (string)request["type"]!);
    }

    [Fact]
    public void Check_needs_0_4_0_no_disableCheck_and_a_prevResult()
    {
        var ok = PluginRequests.BuildJson(PluginCommand.Check, Bridge("0.4.0"), 0, Inputs, BridgeResult);
        Assert.True(ok.ContainsKey("prevResult"));

        var old = Assert.Throws<CniRequestException>(() => PluginRequests.Build(PluginCommand.Check, Bridge("0.3.1"), 0, Inputs, BridgeResult));
        Assert.Contains("network \"mesos-bridge\" plugins[0] (bridge): building the CHECK request: cniVersion 0.3.1", old.Message);

        var noPrev = Assert.Throws<CniRequestException>(() => PluginRequests.Build(PluginCommand.Check, Bridge(), 0, Inputs));
        Assert.Contains("prevResult", noPrev.Message);

        var disabled = NetworkConfigList.FromBytes(Json.Utf8("""
            {"cniVersion":"1.0.0","name":"n","disableCheck":true,"plugins":[{"type":"bridge"}]}
            """), "t");
        var e = Assert.Throws<CniRequestException>(() => PluginRequests.Build(PluginCommand.Check, disabled, 0, Inputs, BridgeResult));
        Assert.Contains("disableCheck", e.Message);
    }

    [Fact]
    public void Add_first_plugin_with_a_prevResult_is_a_runtime_bug()
    {
        var e = Assert.Throws<CniRequestException>(() => PluginRequests.Build(PluginCommand.Add, Bridge(), 0, Inputs, BridgeResult));
        Assert.Contains("first plugin", e.Message);
    }

    [Fact]
    public void PrevResult_is_skipped_below_0_4_0_on_DEL_and_down_converted_from_1_1_0()
    {
        var list = NetworkConfigList.FromBytes(Json.Utf8("""
            {"cniVersion":"0.2.0","name":"old","plugins":[{"type":"bridge"}]}
            """), "t");
        var noIps = new CniResult { CniVersion = CniVersion.V100 };
        // 0.2.0 lists have a single plugin; DEL of 0.2.0 gets no prevResult, so converting is never attempted.
        Assert.False(PluginRequests.BuildJson(PluginCommand.Del, list, 0, prevResult: noIps).ContainsKey("prevResult"));

        var modern = Bridge("0.4.0");
        var v11Only = CniResults.Parse(Json.Utf8("""{"cniVersion":"1.1.0","interfaces":[{"name":"eth0"}]}"""));
        var fine = PluginRequests.BuildJson(PluginCommand.Del, modern, 0, prevResult: v11Only);
        Json.Equal("""{"cniVersion":"0.4.0","interfaces":[{"name":"eth0"}]}""", fine["prevResult"]);
    }

    [Fact]
    public void Operator_runtimeConfig_is_kept_and_supplied_capabilities_win()
    {
        var list = NetworkConfigList.FromBytes(Json.Utf8("""
            {"cniVersion":"1.0.0","name":"n","plugins":[{"type":"tuning","capabilities":{"mac":true},
              "runtimeConfig":{"mac":"00:00:00:00:00:01","other":1}}]}
            """), "t");
        var request = PluginRequests.BuildJson(PluginCommand.Add, list, 0, Inputs);
        Json.Equal("""{"mac":"0a:58:0a:58:00:05","other":1}""", request["runtimeConfig"]);
    }

    [Fact]
    public void Args_from_the_config_are_merged_and_the_mesos_key_is_reserved()
    {
        var list = NetworkConfigList.FromBytes(Json.Utf8("""
            {"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge","args":{"cni":{"ips":["10.0.0.9"]},"vendor":{"x":1}}}]}
            """), "t");
        var request = PluginRequests.BuildJson(PluginCommand.Add, list, 0, Inputs);
        Json.Equal("""
            {"cni":{"ips":["10.0.0.9"],"labels":[{"key":"team","value":"infra"}]},"vendor":{"x":1},
             "org.apache.mesos":{"network_info":{"name":"mesos-bridge","labels":{}}}}
            """, request["args"]);

        var reserved = NetworkConfigList.FromBytes(Json.Utf8("""
            {"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge","args":{"org.apache.mesos":{}}}]}
            """), "t");
        var e = Assert.Throws<CniRequestException>(() => PluginRequests.Build(PluginCommand.Add, reserved, 0, Inputs));
        Assert.Contains("\"org.apache.mesos\" is reserved", e.Message);
    }

    [Fact]
    public void A_single_conf_request_takes_name_and_version_from_the_list_and_keeps_the_rest()
    {
        var list = NetworkConfigList.FromBytes(Json.Utf8("""
            {"cniVersion":"0.2.0","name":"mesos-net","type":"bridge","bridge":"b0","capabilities":{"portMappings":true},
             "ipam":{"type":"host-local","subnet":"10.1.0.0/16"}}
            """), "10.conf");
        var request = PluginRequests.Build(PluginCommand.Add, list, 0, Inputs);
        Json.Equal("""
            {"cniVersion":"0.2.0","name":"mesos-net","type":"bridge","bridge":"b0",
             "ipam":{"type":"host-local","subnet":"10.1.0.0/16"},
             "runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"},
                                              {"hostPort":5353,"containerPort":53,"protocol":"udp","hostIP":"192.0.2.1"}]},
             "args":{"org.apache.mesos":{"network_info":{"name":"mesos-bridge","labels":{}}},
                     "cni":{"labels":[{"key":"team","value":"infra"}]}}}
            """, request);
    }

    [Fact]
    public void Building_does_not_modify_the_loaded_config()
    {
        var list = Bridge();
        var before = list.ToConfListJson().ToJsonString();
        _ = PluginRequests.Build(PluginCommand.Add, list, 1, Inputs, BridgeResult);
        _ = PluginRequests.Build(PluginCommand.Add, list, 1, Inputs, BridgeResult);
        Assert.Equal(before, list.ToConfListJson().ToJsonString());
    }

    [Fact]
    public void Gc_sends_valid_attachments_under_both_keys_and_needs_1_1_0()
    {
        var request = PluginRequests.BuildGcJson(Bridge("1.1.0"), 1, [new CniAttachment("c1", "eth0"), new CniAttachment("c2", "net1")]);
        Json.Equal("""
            {"cniVersion":"1.1.0","name":"mesos-bridge","type":"portmap","snat":true,
             "cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"},{"containerID":"c2","ifname":"net1"}],
             "cni.dev/attachments":[{"containerID":"c1","ifname":"eth0"},{"containerID":"c2","ifname":"net1"}]}
            """, request);

        var e = Assert.Throws<CniRequestException>(() => PluginRequests.BuildGc(Bridge("1.0.0"), 0, []));
        Assert.Contains("needs 1.1.0", e.Message);
        var disabled = NetworkConfigList.FromBytes(Json.Utf8("""
            {"cniVersion":"1.1.0","name":"n","disableGC":true,"plugins":[{"type":"bridge"}]}
            """), "t");
        Assert.Contains("disableGC", Assert.Throws<CniRequestException>(() => PluginRequests.BuildGc(disabled, 0, [])).Message);
    }

    [Fact]
    public void Status_sends_the_bare_config_at_1_1_0()
    {
        Json.Equal("""{"cniVersion":"1.1.0","name":"mesos-bridge","type":"firewall","backend":"iptables"}""",
            PluginRequests.BuildStatus(Bridge("1.1.0"), 2));
        Assert.Throws<CniRequestException>(() => PluginRequests.BuildStatus(Bridge("1.0.0"), 2));
    }

    [Fact]
    public void Version_and_out_of_range_indexes_are_refused()
    {
        Assert.Throws<CniRequestException>(() => PluginRequests.Build(PluginCommand.Version, Bridge(), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => PluginRequests.Build(PluginCommand.Add, Bridge(), 3));
    }
}
