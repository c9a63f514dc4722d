using Mesos;
using Mesos.Slave;
using NetIsolator.Bridge;
using NetIsolator.Isolators.Cni;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>The CNI isolator's pure decisions and its parameter parsing; no root needed.</summary>
public sealed class CniDecisionsTests
{
    [Theory]
    [InlineData(false, false, false, false, NamespaceMode.HostNetwork)]
    [InlineData(false, false, true, false, NamespaceMode.Own)]
    [InlineData(true, false, true, true, NamespaceMode.Own)]
    [InlineData(true, false, false, true, NamespaceMode.JoinParent)]
    [InlineData(true, false, false, false, NamespaceMode.HostNetwork)]
    [InlineData(true, true, false, true, NamespaceMode.Debug)]
    [InlineData(true, true, true, true, NamespaceMode.Debug)]
    public void ChooseNamespaces(bool nested, bool debug, bool own, bool rootHas, NamespaceMode expected) =>
        Assert.Equal(expected, CniDecisions.ChooseNamespaces(nested, debug, own, rootHas));

    [Fact]
    public void LaunchInfo_ClonesNetUtsMnt_ForOwnNetworks_AndSetsLibprocessIp()
    {
        Assert.Null(CniDecisions.LaunchInfo(NamespaceMode.HostNetwork));
        var own = CniDecisions.LaunchInfo(NamespaceMode.Own)!;
        Assert.Equal([0x00020000, 0x40000000, 0x04000000], own.CloneNamespaces);
        Assert.Empty(own.EnterNamespaces);
        Assert.Equal("0.0.0.0", Assert.Single(own.Environment.Variables, v => v.Name == "LIBPROCESS_IP").Value);
        var join = CniDecisions.LaunchInfo(NamespaceMode.JoinParent)!;
        Assert.Equal([0x40000000, 0x04000000], join.EnterNamespaces);
        Assert.Equal([0x00020000], join.CloneNamespaces);
        var debug = CniDecisions.LaunchInfo(NamespaceMode.Debug)!;
        Assert.Empty(debug.CloneNamespaces);
    }

    [Fact]
    public void PlanNetworks_NamesInterfacesInOrder_SkippingUnnamed_AndRefusesDuplicates()
    {
        var plan = CniDecisions.PlanNetworks([new NetworkInfo { Name = "a" }, new NetworkInfo(), new NetworkInfo { Name = "b" }]);
        Assert.Equal([("a", "eth0"), ("b", "eth1")], plan.Select(p => (p.Name, p.IfName)));

        var error = Assert.Throws<ArgumentException>(() => CniDecisions.PlanNetworks([new NetworkInfo { Name = "a" }, new NetworkInfo { Name = "a" }]));
        Assert.Equal("Attempted to join CNI network 'a' multiple times", error.Message);
    }

    [Fact]
    public void NetworkInfoJson_IsMesosJson()
    {
        var info = new NetworkInfo
        {
            Name = "net1",
            IpAddresses = { new NetworkInfo.Types.IPAddress { IpAddress = "10.0.0.1" }, new NetworkInfo.Types.IPAddress { Protocol = NetworkInfo.Types.Protocol.Ipv6 } },
            Groups = { "g" },
            Labels = new Labels { Labels_ = { new Label { Key = "k", Value = "v" }, new Label { Key = "only" } } },
            PortMappings = { new NetworkInfo.Types.PortMapping { HostPort = 8080, ContainerPort = 80 }, new NetworkInfo.Types.PortMapping { HostPort = 53, ContainerPort = 53, Protocol = "udp" } },
        };

        Assert.Equal(
            """{"ip_addresses":[{"ip_address":"10.0.0.1","protocol":"IPv4"},{"protocol":"IPv6"}],"name":"net1","groups":["g"],"labels":{"labels":[{"key":"k","value":"v"},{"key":"only"}]},"port_mappings":[{"host_port":8080,"container_port":80},{"host_port":53,"container_port":53,"protocol":"udp"}]}""",
            CniDecisions.NetworkInfoJson(info).ToJsonString());
        Assert.Equal(
            [new NetIsolator.Cni.Requests.PortMapping(8080, 80, "tcp"), new NetIsolator.Cni.Requests.PortMapping(53, 53, "udp")],
            CniDecisions.PortMappings(info));
        var inputs = CniDecisions.Inputs(info);
        Assert.Equal("net1", inputs.Args!["org.apache.mesos"]!["network_info"]!["name"]!.GetValue<string>());
        Assert.True(inputs.Capabilities.TryGet("portMappings", out _));
        Assert.Equal(0, CniDecisions.Inputs(new NetworkInfo { Name = "x" }).Capabilities.Count);
    }

    [Fact]
    public void ContainerKeys_RoundTrip_AndDirectoriesAreUnderRoot()
    {
        var nested = new ContainerID { Value = "child", Parent = new ContainerID { Value = "parent" } };
        Assert.Equal("parent.child", CniLayout.Key(nested));
        var parsed = CniLayout.ParseKey("parent.child");
        Assert.Equal(nested, parsed);
        Assert.Equal("parent", CniLayout.Root(nested).Value);
        Assert.Equal("/r/parent.child", CniLayout.ContainerDirectory("/r", "parent.child"));
        Assert.Equal("/r/c/ns", CniLayout.NamespacePin("/r", "c"));
        Assert.Equal("/r/c/plan.json", CniLayout.PlanPath("/r", "c"));
        Assert.Throws<FormatException>(() => CniLayout.ParseKey("a..b"));
        Assert.Throws<ArgumentException>(() => CniLayout.ContainerDirectory("/r", "../x"));
        Assert.Throws<ArgumentException>(() => CniLayout.ContainerDirectory("/r", "a/b"));
    }

    [Fact]
    public void Plan_RoundTrips_AndCorruptPlansAreFormatErrors()
    {
        var plan = new ContainerPlan("c1", "host", [new PlannedNetwork("n", "eth0", new NetworkInfo { Name = "n", Labels = new Labels { Labels_ = { new Label { Key = "k", Value = "v" } } } })]);
        var back = ContainerPlan.Parse(plan.ToJsonBytes());
        Assert.Equal("c1", back.ContainerKey);
        Assert.Equal("host", back.Hostname);
        var network = Assert.Single(back.Networks);
        Assert.Equal(("n", "eth0"), (network.Name, network.IfName));
        Assert.Equal(plan.Networks[0].NetworkInfo, network.NetworkInfo);

        Assert.Throws<FormatException>(() => ContainerPlan.Parse("{not json"u8));
        Assert.Throws<FormatException>(() => ContainerPlan.Parse("""{"version":2}"""u8));
        Assert.Throws<FormatException>(() => ContainerPlan.Parse("""{"version":1,"container_id":"c"}"""u8));
        Assert.Throws<FormatException>(() => ContainerPlan.Parse("""{"version":1,"container_id":"c","networks":[{"name":"n"}]}"""u8));
    }

    [Fact]
    public void StatusNetworkInfo_CopiesNameAndLabels_AndUsesTheResultsAddresses()
    {
        var network = new PlannedNetwork("n", "eth0", new NetworkInfo
        {
            Name = "n",
            Labels = new Labels { Labels_ = { new Label { Key = "k", Value = "v" } } },
            IpAddresses = { new NetworkInfo.Types.IPAddress { IpAddress = "1.2.3.4" } },
        });
        var result = NetIsolator.Cni.Results.CniResults.Parse(
            """{"cniVersion":"1.0.0","interfaces":[{"name":"veth1"},{"name":"eth0","sandbox":"/x"}],"ips":[{"address":"10.215.0.5/24","interface":1},{"address":"fd00::5/64","interface":1},{"address":"10.9.9.9/24","interface":0}]}"""u8.ToArray());

        var info = CniDecisions.StatusNetworkInfo(network, result);

        Assert.Equal("n", info.Name);
        Assert.Equal("v", Assert.Single(info.Labels.Labels_).Value);
        Assert.Equal(
            [("10.215.0.5", NetworkInfo.Types.Protocol.Ipv4), ("fd00::5", NetworkInfo.Types.Protocol.Ipv6)],
            info.IpAddresses.Select(ip => (ip.IpAddress, ip.Protocol)));
    }

    [Fact]
    public void Options_NoOpMode_WhenNeitherDirectoryIsSet()
    {
        var options = CniIsolatorOptions.FromParameters(Parameters());
        Assert.True(options.IsNoOp);
        Assert.Null(options.RootDirectory);
        Assert.True(options.Metrics);
        Assert.Equal(TimeSpan.FromSeconds(60), options.PluginTimeout);
    }

    [Fact]
    public void Options_ReadEveryParameter()
    {
        var config = Directory.CreateTempSubdirectory("netiso-cni-opt-").FullName;
        try
        {
            var options = CniIsolatorOptions.FromParameters(Parameters(
                ("network_cni_config_dir", config), ("network_cni_plugins_dir", "/a:/b"), ("network_cni_root_dir_persist", "true"),
                ("network_cni_metrics", "false"), ("runtime_dir", "/run/x"), ("work_dir", "/var/w"),
                ("network_cni_host_netns", "/run/netns/h"), ("network_cni_plugin_timeout", "5"),
                ("default_container_dns", """{"mesos":[{"network_mode":"CNI","dns":{"nameservers":["8.8.8.8"]}}]}""")));
            Assert.False(options.IsNoOp);
            Assert.Equal(NetIsolator.Linux.Durability.PowerLoss, options.StateDurability);
            Assert.Equal(NetIsolator.Linux.Durability.ProcessCrash, (options with { RootDirPersist = false }).StateDurability);
            Assert.Equal("/var/w/isolators/network/cni", options.RootDirectory);
            Assert.False(options.Metrics);
            Assert.Equal("/run/netns/h", options.HostNetworkNamespace);
            Assert.Equal(TimeSpan.FromSeconds(5), options.PluginTimeout);
            Assert.Equal(["8.8.8.8"], options.DefaultContainerDns.DefaultCniDns!.Nameservers);
            Assert.Equal("/run/x/isolators/network/cni", (options with { RootDirPersist = false }).RootDirectory);
        }
        finally
        {
            Directory.Delete(config, recursive: true);
        }
    }

    [Fact]
    public void Options_MissingConfigDirectory_AndOtherProblems()
    {
        var missing = "/nonexistent-netiso-" + Guid.NewGuid().ToString("N");
        Assert.Contains($"The CNI network configuration directory '{missing}' does not exist",
            Assert.Throws<ModuleParameterException>(() => CniIsolatorOptions.FromParameters(
                Parameters(("network_cni_config_dir", missing), ("network_cni_plugins_dir", "/usr/lib/cni")))).Message);
        Assert.Contains("'work_dir'", Assert.Throws<ModuleParameterException>(() => CniIsolatorOptions.FromParameters(
            Parameters(("network_cni_config_dir", "/tmp"), ("network_cni_plugins_dir", "/p"), ("network_cni_root_dir_persist", "true")))).Message);
        Assert.Contains("network_cni_host_netns", Assert.Throws<ModuleParameterException>(() => CniIsolatorOptions.FromParameters(
            Parameters(("network_cni_config_dir", "/tmp"), ("network_cni_plugins_dir", "/p"), ("network_cni_host_netns", "rel")))).Message);
        Assert.Contains("default_container_dns", Assert.Throws<ModuleParameterException>(() => CniIsolatorOptions.FromParameters(
            Parameters(("default_container_dns", "{not json")))).Message);
        Assert.Contains("network_cni_metrics", Assert.Throws<ModuleParameterException>(() => CniIsolatorOptions.FromParameters(
            Parameters(("network_cni_metrics", "yes")))).Message);
        Assert.Contains("network_cni_plugin_timeout", Assert.Throws<ModuleParameterException>(() => CniIsolatorOptions.FromParameters(
            Parameters(("network_cni_plugin_timeout", "0")))).Message);
    }

    [Fact]
    public async Task NoOpIsolator_PassesHostNetworkContainers_AndRefusesNamedNetworks()
    {
        var isolator = new NetIsolator.Isolators.Cni.CniIsolator(new CniIsolatorOptions());
        Assert.True(isolator.SupportsNesting);
        Assert.Null(isolator.Root);
        var host = new ContainerConfig { ContainerInfo = new ContainerInfo { Type = ContainerInfo.Types.Type.Mesos } };
        Assert.Null(await isolator.PrepareAsync(new ContainerID { Value = "c" }, host));
        var named = new ContainerConfig { ContainerInfo = new ContainerInfo { Type = ContainerInfo.Types.Type.Mesos, NetworkInfos = { new NetworkInfo { Name = "net1" } } } };
        var error = await Assert.ThrowsAsync<IsolatorException>(() => isolator.PrepareAsync(new ContainerID { Value = "c" }, named));
        Assert.Contains("Unknown CNI network 'net1'", error.Message);
        await isolator.RecoverAsync([], []);
        await isolator.CleanupAsync(new ContainerID { Value = "c" });
    }

    private static ModuleParameters Parameters(params (string Key, string Value)[] pairs) =>
        new("org_netisolator_NetworkCniIsolator", [.. pairs.Select(p => new KeyValuePair<string, string>(p.Key, p.Value))]);
}
