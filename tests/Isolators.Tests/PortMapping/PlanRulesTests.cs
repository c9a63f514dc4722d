using NetIsolator.Isolators.PortMappingIsolation;
using NetIsolator.Isolators.PortMappingIsolation.Plan;
using NetIsolator.Linux.Netlink.Tc;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>Properties of the plans that golden files cannot show at a glance; no root.</summary>
public sealed class PlanRulesTests
{
    private static readonly HostNetwork Host = PlanGoldenTests.Host;

    [Fact]
    public void NoFilterActionDependsOnTheNumberOfContainers()
    {
        // 200 containers: every filter has one action at most, and the host's filters for a container name only it.
        var allocator = new EphemeralPortsAllocator(PortSet.Parse("[32768-49151]"), 64);
        var filters = new List<FilterSpec>();
        for (var pid = 1000; pid < 1200; pid++)
        {
            var ephemeral = allocator.Allocate();
            var container = new ContainerNetwork(pid, PortRange.Decompose(ephemeral.ToSet()), ephemeral);
            var steps = PortMappingPlans.ContainerHostSide(Host, TcVariants.Minimal, container);
            var own = steps.OfType<FilterStep>().Select(s => s.Filter).ToList();
            Assert.All(own.Where(f => f.Device != container.Veth), f => Assert.Equal(container.Veth, Target(f)));
            filters.AddRange(own);
        }

        Assert.Equal(filters.Count, filters.Distinct().Count());
        var mirrors = filters.Where(f => f.Action is Mirror).ToList();
        Assert.Equal(400, mirrors.Count);
        Assert.All(mirrors, f => Assert.True(f.Priority is PortMappingPlans.ArpPriority or PortMappingPlans.IcmpPriority));
    }

    private static string? Target(FilterSpec filter) => filter.Action switch
    {
        Redirect r => r.Device,
        Mirror m => m.Device,
        _ => null,
    };

    [Fact]
    public void HostFiltersForOneRange_AreVethFirst()
    {
        var container = PlanGoldenTests.Container1();
        var steps = PortMappingPlans.RangeSteps(Host, container, container.Ranges[0]).Cast<FilterStep>().Select(s => s.Filter.Device).ToList();
        Assert.Equal(["mesos4242", "mesos4242", "mesos4242", "eth0", "lo"], steps);
    }

    [Fact]
    public void Leaves_FallBackFromFqCodelToSfqToPfifo()
    {
        Assert.Equal(QdiscKind.FqCodel, TcVariants.Full.Leaf);
        Assert.Equal(QdiscKind.Sfq, new TcVariants(false, false, true).Leaf);
        Assert.Equal(QdiscKind.Pfifo, TcVariants.Minimal.Leaf);
        Assert.Equal(ClassifierKind.Basic, TcVariants.Full.CatchAll);
        Assert.Equal(ClassifierKind.U32, TcVariants.Minimal.CatchAll);
        Assert.Equal(
            "tc qdisc add dev eth0 parent 1:1 sfq perturb 10",
            PortMappingPlans.Shaping("eth0", new HtbConfig(1), new TcVariants(false, false, true))[2].ToCommand());
    }

    [Theory]
    // Mesos's test container 1 keeps [31000-31499] and gains [32000-32000].
    [InlineData("[31000-31499]", "[31000-31499, 32000-32000]", "[32000,32000]", "")]
    // Shrinking: the blocks no longer wholly wanted go; what is left of them is cut anew.
    [InlineData("[31000-31499]", "[31000-31099]", "[31040,31071] [31072,31087] [31088,31095] [31096,31099]", "[31040,31103] [31104,31231] [31232,31487] [31488,31495] [31496,31499]")]
    // Dropping every port keeps the ephemeral block.
    [InlineData("[31000-31007]", "[]", "", "[31000,31007]")]
    // Unchanged.
    [InlineData("[31000-31499]", "[31000-31499]", "", "")]
    public void PortChanges_AreMesosUpdate(string before, string after, string toAdd, string toRemove)
    {
        var ephemeral = PortRange.FromBeginEnd(30016, 30031);
        var installed = PortRange.Decompose(PortSet.Parse(before).Union(ephemeral.ToSet()));
        var (add, remove) = PortMappingPlans.PortChanges(installed, ephemeral, PortSet.Parse(after));
        Assert.Equal(toAdd, string.Join(' ', add));
        Assert.Equal(toRemove, string.Join(' ', remove));

        // What stays plus what is added covers exactly the new ports and the ephemeral block, without overlap.
        var kept = installed.Except(remove).ToList();
        var result = kept.Concat(add).ToList();
        Assert.Equal(PortSet.Parse(after).Union(ephemeral.ToSet()), PortSet.Of(result.Select(r => new PortInterval(r.Begin, r.End))));
        Assert.Equal(result.Sum(r => r.Size), PortSet.Parse(after).Union(ephemeral.ToSet()).Count);
    }

    [Fact]
    public void PortChanges_NeverRemoveTheEphemeralBlock_EvenWhenMergedWithPorts()
    {
        // [30016-30031] ∪ [30032-30047] decomposes into one block [30016,30047]; dropping the ports must keep 30016-30031.
        var ephemeral = PortRange.FromBeginEnd(30016, 30031);
        var installed = PortRange.Decompose(PortSet.Parse("[30032-30047]").Union(ephemeral.ToSet()));
        Assert.Equal("[30016,30047]", Assert.Single(installed).ToString());
        var (add, remove) = PortMappingPlans.PortChanges(installed, ephemeral, PortSet.Empty);
        Assert.Equal("[30016,30047]", Assert.Single(remove).ToString());
        Assert.Equal("[30016,30031]", Assert.Single(add).ToString());
    }

    [Fact]
    public void EgressFlowFilters_UseTheContainersFlow()
    {
        var container = PlanGoldenTests.Container1(flow: 7);
        var filters = PortMappingPlans.HostRangeFilters(Host, container, container.Ranges[0], TcHandle.Make(1, 0));
        var egress = Assert.Single(filters, f => f.Parent == TcHandle.Make(1, 0));
        Assert.Equal(TcHandle.Make(1, 7), Assert.IsType<Classify>(egress.Action).ClassId);
        Assert.Equal(2, PortMappingPlans.HostRangeFilters(Host, container, container.Ranges[0]).Count);
    }
}
