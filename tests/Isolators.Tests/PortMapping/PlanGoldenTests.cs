using System.Net;
using System.Runtime.CompilerServices;
using NetIsolator.Isolators.PortMappingIsolation;
using NetIsolator.Isolators.PortMappingIsolation.Plan;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Tc;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>
/// The plans as text (one <c>ip</c>/<c>tc</c>/<c>sysctl</c> command a line) against golden files in
/// <c>Golden/</c>; no root. <c>NETISOLATOR_UPDATE_GOLDEN=1</c> rewrites the files instead (review the diff).
/// </summary>
public sealed class PlanGoldenTests
{
    internal static readonly HostNetwork Host = new(
        "eth0", "lo", MacAddress.Parse("02:42:ac:11:00:02"), IPAddress.Parse("172.17.0.2"), 16, IPAddress.Parse("172.17.0.1"), 1500);

    // Mesos's test container 1: ports [31000-31499] plus the first 16-port block of [30001-30999].
    internal static ContainerNetwork Container1(HtbConfig? egress = null, HtbConfig? ingress = null, int? flow = null)
    {
        var ephemeral = PortRange.FromBeginEnd(30016, 30031);
        var ranges = PortRange.Decompose(PortSet.Parse("[31000-31499]").Union(ephemeral.ToSet()));
        return new ContainerNetwork(4242, ranges, ephemeral, egress, ingress, flow);
    }

    [Theory]
    [InlineData("host-setup-minimal", false)]
    [InlineData("host-setup-full", true)]
    public void HostSetup(string golden, bool full)
    {
        var features = full ? TcVariants.Full : TcVariants.Minimal;
        var steps = full
            ? PortMappingPlans.HostSetup(Host, features, TcHandle.Root, TcHandle.Make(1, 0))
            : PortMappingPlans.HostSetup(Host, features);
        AssertGolden(golden, PortMappingPlans.Render(steps));
    }

    [Fact]
    public void HostSetup_RefusesPerContainerFlowsWithoutFqCodel()
    {
        var error = Assert.Throws<ArgumentException>(() => PortMappingPlans.HostSetup(Host, TcVariants.Minimal, TcHandle.Root, TcHandle.Make(1, 0)));
        Assert.Contains("sch_fq_codel", error.Message);
    }

    [Fact]
    public void ContainerHostSide_Minimal() =>
        AssertGolden("container-host-minimal", PortMappingPlans.Render(
            PortMappingPlans.ContainerHostSide(Host, TcVariants.Minimal, Container1(ingress: new HtbConfig(2000)))));

    [Fact]
    public void ContainerHostSide_FullWithFlows() =>
        AssertGolden("container-host-full", PortMappingPlans.Render(
            PortMappingPlans.ContainerHostSide(Host, TcVariants.Full, Container1(flow: 3), TcHandle.Make(1, 0))));

    [Fact]
    public void ContainerInside_Minimal() =>
        AssertGolden("container-inside-minimal", PortMappingPlans.Render(PortMappingPlans.ContainerInside(
            Host,
            TcVariants.Minimal,
            Container1(egress: new HtbConfig(2000, 4000, 1500)),
            hostHasRouteLocalnet: true,
            new Dictionary<string, string> { ["net/core/somaxconn"] = "4096", ["net/ipv4/tcp_rmem"] = "4096\t131072\t6291456" })));

    [Fact]
    public void ContainerInside_Full_WithoutShapingOrRouteLocalnet() =>
        AssertGolden("container-inside-full", PortMappingPlans.Render(PortMappingPlans.ContainerInside(
            Host, TcVariants.Full, Container1(), hostHasRouteLocalnet: false, new Dictionary<string, string>())));

    internal static void AssertGolden(string name, string actual, [CallerFilePath] string source = "")
    {
        var path = Path.Join(Path.GetDirectoryName(source), "Golden", name + ".txt");
        if (Environment.GetEnvironmentVariable("NETISOLATOR_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(path, actual);
            return;
        }

        Assert.True(File.Exists(path), $"golden file '{path}' is missing; run with NETISOLATOR_UPDATE_GOLDEN=1 to create it");
        Assert.Equal(File.ReadAllText(path), actual);
    }
}
