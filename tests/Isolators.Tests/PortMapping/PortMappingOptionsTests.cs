using NetIsolator.Bridge;
using NetIsolator.Isolators.PortMappingIsolation;
using NetIsolator.Isolators.PortMappingIsolation.Plan;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Tc;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>The module parameters (Mesos's flags, reference §1.1), byte sizes, durations, resources and the HTB maths (§3.6); no root.</summary>
public sealed class PortMappingOptionsTests
{
    // Mesos's test resources, with a pool large enough for the default 1024 ports per container.
    private const string Resources = "cpus:2;mem:1024;disk:1024;ephemeral_ports:[32768-57344];ports:[31000-32000]";

    private static PortMappingOptions Parse(params (string Key, string Value)[] parameters) =>
        PortMappingOptions.FromParameters(new ModuleParameters("org_netisolator_PortMappingIsolator",
            [.. parameters.Select(p => new KeyValuePair<string, string>(p.Key, p.Value))]));

    private static string ParseError(params (string Key, string Value)[] parameters) =>
        Assert.Throws<ModuleParameterException>(() => Parse(parameters)).Message;

    [Fact]
    public void Defaults_AreMesos()
    {
        var options = Parse(("resources", Resources));
        Assert.Equal("[31000-32000]", options.Resources.Ports.ToString());
        Assert.Equal("[32768-57344]", options.Resources.EphemeralPorts.ToString());
        Assert.Equal(2.0, options.Resources.Cpus);
        Assert.Equal(1024, options.EphemeralPortsPerContainer);
        Assert.Null(options.Eth0Name);
        Assert.Null(options.LoName);
        Assert.Equal(RateLimitFlags.None, options.Egress);
        Assert.Equal(RateLimitFlags.None, options.Ingress);
        Assert.False(options.EgressUniqueFlowPerContainer);
        Assert.Equal(TcHandle.Root, options.EgressFlowClassifierParent);
        Assert.Equal(TcHandle.Make(1, 0), options.EgressFlowQdiscHandle);
        Assert.True(options.IngressIsolateExistingContainers);
        Assert.Null(options.NetworkLinkSpeed);
        Assert.False(options.SocketStatisticsSummary || options.SocketStatisticsDetails || options.SnmpStatistics || options.RateStatistics);
        Assert.Equal("/var/run/netns", options.BindMountRoot);
        Assert.Equal("/var/run/mesos/netns", options.SymlinkRoot);
        Assert.Null(options.HostNetworkNamespace);
    }

    [Fact]
    public void EveryFlag_IsRead()
    {
        var options = Parse(
            ("resources", Resources),
            ("ephemeral_ports_per_container", "16"),
            ("eth0_name", "eth1"),
            ("lo_name", "lo"),
            ("egress_rate_per_cpu", "1000B"),
            ("minimum_egress_rate_limit", "2000B"),
            ("maximum_egress_rate_limit", "4KB"),
            ("egress_ceil_limit", "1MB"),
            ("egress_burst", "32KB"),
            ("egress_unique_flow_per_container", "true"),
            ("egress_flow_classifier_parent", "10:0"),
            ("ingress_rate_limit_per_container", "1GB"),
            ("minimum_ingress_rate_limit", "1B"),
            ("maximum_ingress_rate_limit", "2TB"),
            ("ingress_ceil_limit", "3GB"),
            ("ingress_burst", "4B"),
            ("ingress_isolate_existing_containers", "false"),
            ("network_link_speed", "1250000000B"),
            ("network_enable_socket_statistics_summary", "true"),
            ("network_enable_socket_statistics_details", "true"),
            ("network_enable_snmp_statistics", "true"),
            ("network_enable_rate_statistics", "true"),
            ("network_rate_statistics_window", "5secs"),
            ("network_rate_statistics_interval", "50ms"),
            ("launcher_dir", "/usr/libexec/mesos"),
            ("port_mapping_host_netns", "/run/netns/h"),
            ("port_mapping_bind_mount_root", "/tmp/a"),
            ("port_mapping_symlink_root", "/tmp/b"));
        Assert.Equal(16, options.EphemeralPortsPerContainer);
        Assert.Equal("eth1", options.Eth0Name);
        Assert.Equal("lo", options.LoName);
        Assert.Equal("1000B", options.Egress.PerCpu);
        Assert.Equal(2000UL, options.Egress.Minimum!.Value.Bytes);
        Assert.Equal(4096UL, options.Egress.Maximum!.Value.Bytes);
        Assert.Equal(1UL << 20, options.Egress.Ceil!.Value.Bytes);
        Assert.Equal(32UL << 10, options.Egress.Burst!.Value.Bytes);
        Assert.True(options.EgressUniqueFlowPerContainer);
        Assert.Equal(TcHandle.Make(0x10, 0), options.EgressFlowClassifierParent);
        Assert.Equal(TcHandle.Make(0x11, 0), options.EgressFlowQdiscHandle);
        Assert.Equal(1UL << 30, options.Ingress.Fixed!.Value.Bytes);
        Assert.Equal(2UL << 40, options.Ingress.Maximum!.Value.Bytes);
        Assert.Equal(4UL, options.Ingress.Burst!.Value.Bytes);
        Assert.False(options.IngressIsolateExistingContainers);
        Assert.Equal(1250000000UL, options.NetworkLinkSpeed!.Value.Bytes);
        Assert.True(options.SocketStatisticsSummary && options.SocketStatisticsDetails && options.SnmpStatistics && options.RateStatistics);
        Assert.Equal(TimeSpan.FromSeconds(5), options.RateStatisticsWindow);
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.RateStatisticsInterval);
        Assert.Equal("/usr/libexec/mesos", options.LauncherDirectory);
        Assert.Equal("/run/netns/h", options.HostNetworkNamespace);
        Assert.Equal("/tmp/a", options.BindMountRoot);
        Assert.Equal("/tmp/b", options.SymlinkRoot);
    }

    [Theory]
    [InlineData("cpus:2", "Ephemeral ports are not specified")]
    [InlineData("ephemeral_ports:[31000-31999];ports:[31500-32000]", "overlap with the non-ephemeral ports [31500-32000] ([31500-31999])")]
    [InlineData("ephemeral_ports:[512-2047]", "overlap with the well-known ports [0-1023]")]
    [InlineData("ephemeral_ports:[30000-30000", "parameter 'resources'")]
    [InlineData("ephemeral_ports:30000", "is not a list of ranges")]
    [InlineData("cpus:two;ephemeral_ports:[32768-33791]", "'two' is not a non-negative number")]
    public void Resources_AreChecked(string resources, string expected) =>
        Assert.Contains(expected, ParseError(("resources", resources)));

    [Theory]
    [InlineData("1000", "is not a power of 2")]
    [InlineData("0", "is not a power of 2")]
    [InlineData("2048", "is larger than the total number of ephemeral ports [30001-30999] (999)")]
    [InlineData("8", "is smaller than the minimum 16")]
    [InlineData("-16", "must be between 0 and 65535")]
    public void EphemeralPortsPerContainer_IsChecked_InMesosOrder(string value, string expected) =>
        Assert.Contains(expected, ParseError(("resources", "ephemeral_ports:[30001-30999]"), ("ephemeral_ports_per_container", value)));

    [Fact]
    public void DefaultBlockSize_MustFitThePool() =>
        Assert.Contains("(1024) is larger than the total number of ephemeral ports [30001-30999] (999)",
            ParseError(("resources", "ephemeral_ports:[30001-30999]")));

    [Theory]
    [InlineData("egress_rate_limit_per_container", "10", "'10' has no unit")]
    [InlineData("egress_rate_limit_per_container", "1.5MB", "fractions are not allowed")]
    [InlineData("ingress_burst", "5PB", "unknown unit 'PB'")]
    [InlineData("egress_rate_per_cpu", "fast", "parameter 'egress_rate_per_cpu'")]
    [InlineData("egress_flow_classifier_parent", "1", "is not a tc handle")]
    [InlineData("egress_unique_flow_per_container", "yes", "must be true or false")]
    [InlineData("network_rate_statistics_window", "5", "is not a duration")]
    [InlineData("network_rate_statistics_interval", "5s", "unknown unit 's'")]
    public void MalformedValues_NameTheParameter(string key, string value, string expected)
    {
        var message = ParseError(("resources", Resources), (key, value));
        Assert.Contains(expected, message);
        Assert.Contains("org_netisolator_PortMappingIsolator", message);
    }

    [Theory]
    [InlineData("egress", "egress_rate_limit_per_container", "egress_rate_per_cpu", "cannot both be set")]
    [InlineData("ingress", "ingress_rate_limit_per_container", "ingress_rate_per_cpu", "cannot both be set")]
    public void FixedAndPerCpu_Conflict(string direction, string fixedKey, string perCpuKey, string expected)
    {
        var message = ParseError(("resources", Resources), (fixedKey, "1MB"), (perCpuKey, "1KB"));
        Assert.Contains(expected, message);
        Assert.Contains(direction, message);
    }

    [Fact]
    public void MinimumAboveMaximum_IsRefused() =>
        Assert.Contains("'minimum_ingress_rate_limit' (2KB) is larger than 'maximum_ingress_rate_limit' (1KB)",
            ParseError(("resources", Resources), ("minimum_ingress_rate_limit", "2KB"), ("maximum_ingress_rate_limit", "1KB")));

    [Fact]
    public void AutoPerCpu_NeedsAWholeCpu() =>
        Assert.Contains("needs at least one whole CPU",
            ParseError(("resources", "cpus:0.5;ephemeral_ports:[32768-33791]"), ("egress_rate_per_cpu", "auto")));

    [Theory]
    [InlineData(null, "50ms", "needs both")]
    [InlineData("5secs", null, "needs both")]
    [InlineData("5secs", "10ms", "must be at least 20ms")]
    [InlineData("50ms", "50ms", "must be longer than")]
    public void RateStatistics_NeedAWindowLongerThanTheInterval(string? window, string? interval, string expected)
    {
        var parameters = new List<(string, string)> { ("resources", Resources), ("network_enable_rate_statistics", "true") };
        if (window is not null)
        {
            parameters.Add(("network_rate_statistics_window", window));
        }

        if (interval is not null)
        {
            parameters.Add(("network_rate_statistics_interval", interval));
        }

        Assert.Contains(expected, ParseError([.. parameters]));
    }

    [Fact]
    public void RelativePaths_AreRefused() =>
        Assert.Contains("'port_mapping_bind_mount_root' must be an absolute path",
            ParseError(("resources", Resources), ("port_mapping_bind_mount_root", "netns")));

    [Fact]
    public void JsonResources_AreRead()
    {
        var options = Parse(("resources", """
            [{"name":"cpus","type":"SCALAR","scalar":{"value":4}},
             {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31499},{"begin":31500,"end":32000}]}},
             {"name":"ephemeral_ports","type":"RANGES","ranges":{"range":[{"begin":32768,"end":57344}]}}]
            """));
        Assert.Equal("[31000-32000]", options.Resources.Ports.ToString());
        Assert.Equal("[32768-57344]", options.Resources.EphemeralPorts.ToString());
        Assert.Equal(4.0, options.Resources.Cpus);
    }

    [Fact]
    public void TextResources_WithRolesAddUp()
    {
        var resources = AgentResources.Parse("cpus(*):1;cpus(role1):2.5;ports(*):[31000-31099];ports(role1):[31100-31199, 40000-40000]");
        Assert.Equal(3.5, resources.Cpus);
        Assert.Equal("[31000-31199, 40000-40000]", resources.Ports.ToString());
        Assert.True(resources.EphemeralPorts.IsEmpty);
    }

    [Theory]
    [InlineData("1B", 1UL, "1B")]
    [InlineData("1000b", 1000UL, "1000B")]
    [InlineData("37500KB", 37500UL * 1024, "37500KB")]
    [InlineData("1024kb", 1024UL * 1024, "1MB")]
    [InlineData("3GB", 3UL << 30, "3GB")]
    [InlineData("2TB", 2UL << 40, "2TB")]
    [InlineData("0B", 0UL, "0B")]
    public void ByteSizes_ParseAndPrintAsMesos(string text, ulong bytes, string printed)
    {
        var size = ByteSize.Parse(text);
        Assert.Equal(bytes, size.Bytes);
        Assert.Equal(printed, size.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("KB")]
    [InlineData("12")]
    [InlineData("1.5KB")]
    [InlineData("-1B")]
    [InlineData("99999999999TB")]
    public void ByteSizes_RefuseTheRest(string text) => Assert.Throws<FormatException>(() => ByteSize.Parse(text));

    [Theory]
    [InlineData("50ms", 50.0)]
    [InlineData("1.5secs", 1500.0)]
    [InlineData("2mins", 120000.0)]
    [InlineData("1hrs", 3600000.0)]
    [InlineData("500us", 0.5)]
    public void Durations_ParseAsMesos(string text, double milliseconds) =>
        Assert.Equal(milliseconds, FlagDuration.Parse(text).TotalMilliseconds, 6);

    // Reference §3.6 and tests 12-14: per-CPU 1000, min 2000, max 4000.
    [Theory]
    [InlineData(1.0, 2000UL)]
    [InlineData(3.1, 3000UL)]
    [InlineData(5.0, 4000UL)]
    [InlineData(null, 2000UL)]
    public void Htb_PerCpuRateIsClampedToMinimumAndMaximum(double? cpus, ulong rate)
    {
        var flags = new RateLimitFlags(PerCpu: "1000B", Minimum: new ByteSize(2000), Maximum: new ByteSize(4000));
        Assert.Equal(new HtbConfig(rate), flags.Compute(1000, cpus));
    }

    [Fact]
    public void Htb_LargeRatesUse64Bits()
    {
        // Reference test 13: link 12.5e9 B/s, 64 CPUs: per CPU 195312500; 30 CPUs → 5859375000; min 625e6; max 11.25e9.
        var options = new PortMappingOptions { Resources = AgentResources.Parse("cpus:64;ephemeral_ports:[32768-57344]") };
        var flags = new RateLimitFlags(PerCpu: "auto", Minimum: new ByteSize(625_000_000), Maximum: new ByteSize(11_250_000_000));
        var perCpu = options.ResolvePerCpuRate(flags, 12_500_000_000);
        Assert.Equal(195312500UL, perCpu);
        Assert.Equal(5859375000UL, flags.Compute(perCpu, 30)!.Rate);
        Assert.Equal(625_000_000UL, flags.Compute(perCpu, 1)!.Rate);
        Assert.Equal(11_250_000_000UL, flags.Compute(perCpu, 60)!.Rate);
    }

    [Fact]
    public void Htb_FixedRate_DefaultFloor_CeilAndBurst()
    {
        Assert.Null(RateLimitFlags.None.Compute(null, 4));
        Assert.Equal(new HtbConfig(125000), new RateLimitFlags(Fixed: new ByteSize(0)).Compute(null, null));
        Assert.Equal(new HtbConfig(2000), new RateLimitFlags(Fixed: new ByteSize(2000), Minimum: new ByteSize(0)).Compute(null, null));
        // A ceil at or below the rate is ignored, and the burst with it.
        Assert.Equal(new HtbConfig(200000), new RateLimitFlags(Fixed: new ByteSize(200000), Ceil: new ByteSize(200000), Burst: new ByteSize(10)).Compute(null, null));
        Assert.Equal(new HtbConfig(200000, 300000, 10), new RateLimitFlags(Fixed: new ByteSize(200000), Ceil: new ByteSize(300000), Burst: new ByteSize(10)).Compute(null, null));
        Assert.Equal(new HtbConfig(200000, 300000), new RateLimitFlags(Fixed: new ByteSize(200000), Ceil: new ByteSize(300000)).Compute(null, null));
    }

    [Fact]
    public void Htb_AutoRateFromTheLinkSpeedFlag()
    {
        // Reference test 14: --network_link_speed=10000B, 10 CPUs → 1000 per CPU; the flag beats sysfs.
        var options = new PortMappingOptions { Resources = AgentResources.Parse("cpus:10;ephemeral_ports:[32768-33791]"), NetworkLinkSpeed = new ByteSize(10000) };
        Assert.Equal(1000UL, options.ResolvePerCpuRate(new RateLimitFlags(PerCpu: "auto"), 1_000_000));
        Assert.Equal(1024UL, options.ResolvePerCpuRate(new RateLimitFlags(PerCpu: "1KB"), null));
        Assert.Null(options.ResolvePerCpuRate(RateLimitFlags.None, null));
        var unknown = options with { NetworkLinkSpeed = null };
        Assert.Contains("link speed of the public interface is unknown",
            Assert.Throws<InvalidOperationException>(() => unknown.ResolvePerCpuRate(new RateLimitFlags(PerCpu: "auto"), null)).Message);
    }

    [Fact]
    public void HtbConfig_JsonRoundTrips()
    {
        Assert.Equal("""{"rate":2000,"ceil":3000,"burst":10}""", HtbConfig.ToJsonText(new HtbConfig(2000, 3000, 10)));
        Assert.Equal("{}", HtbConfig.ToJsonText(null));
        Assert.Null(HtbConfig.Parse("{}"));
        Assert.Equal(new HtbConfig(5859375000), HtbConfig.Parse("""{"rate":5859375000}"""));
        Assert.Equal("Mandatory HTB rate not specified", Assert.Throws<FormatException>(() => HtbConfig.Parse("""{"ceil":1}""")).Message);
        Assert.Throws<FormatException>(() => HtbConfig.Parse("""{"rate":-1}"""));
    }

    [Theory]
    [InlineData("32768\t60999", "overlap with the host's ip_local_port_range [32768-60999]")]
    [InlineData("1024 30000", null)]
    [InlineData("1024", "Unexpected format")]
    [InlineData("a b", "Unexpected format")]
    public void HostLocalPortRange_MustNotMeetThePool(string text, string? expected)
    {
        var options = new PortMappingOptions { Resources = AgentResources.Parse("ephemeral_ports:[40000-40999]") };
        var problem = options.HostLocalPortRangeProblem(text);
        if (expected is null)
        {
            Assert.Null(problem);
        }
        else
        {
            Assert.Contains(expected, problem);
        }
    }

    [Fact]
    public void LinkSpeed_ChecksFixedAndMinimum_WarnsOnMaximum()
    {
        Assert.Equal((null, null), PortMappingOptions.LinkSpeedProblem("egress", new RateLimitFlags(Fixed: new ByteSize(10)), null));
        Assert.Contains("egress rate limit per container (2000B) is larger than the link speed (1000B/s)",
            PortMappingOptions.LinkSpeedProblem("egress", new RateLimitFlags(Fixed: new ByteSize(2000)), 1000).Error);
        Assert.Contains("minimum ingress rate limit",
            PortMappingOptions.LinkSpeedProblem("ingress", new RateLimitFlags(Minimum: new ByteSize(2000)), 1000).Error);
        var (error, warning) = PortMappingOptions.LinkSpeedProblem("ingress", new RateLimitFlags(Maximum: new ByteSize(2000)), 1000);
        Assert.Null(error);
        Assert.Contains("maximum ingress rate limit", warning);
        Assert.Equal(125_000_000UL, PortMappingOptions.ParseSysfsSpeed("1000\n"));
        Assert.Null(PortMappingOptions.ParseSysfsSpeed("-1"));
        Assert.Null(PortMappingOptions.ParseSysfsSpeed("4294967295"));
        Assert.Null(PortMappingOptions.ParseSysfsSpeed(null));
    }
}
