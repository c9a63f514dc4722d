using System.Globalization;
using System.Net;
using NetIsolator.Linux.Netlink.Tc;

namespace NetIsolator.Isolators.PortMappingIsolation.Plan;

/// <summary>
/// The isolator's kernel state as data: pure functions from the host, the kernel's features and a container to
/// the ordered steps that set it up. How packets flow through what they build:
/// <code>
///  peer ──► host eth0 ingress ─┬─ prio 258 ARP     every frame: mirror to each veth, continue ──► host stack
///                              ├─ prio 514 ICMP    to hostIP:   mirror to each veth, continue ──► host stack
///                              └─ prio 770 IP      dst MAC+IP = host's, dport ∈ a container's range
///                                                      └─► redirect ──► mesos&lt;pid&gt; ──► container eth0
///  container eth0 ──► mesos&lt;pid&gt; ingress ─┬─ 258 ARP, 514 ICMP       redirect ──► host eth0 (out)
///                                         ├─ 770 IP sport ∈ own range, dst hostIP or 127.0.0.1 ──► host lo
///                                         └─ 771 IP sport ∈ own range ──► redirect host eth0 (out)
///  host lo ingress ── 770 IP dport ∈ a container's range ──► redirect mesos&lt;pid&gt;  (host ⇄ container locally)
///  container lo ingress ── 514 ICMP to self: stay │ 769 dport ∈ own range: stay │ 770 to hostIP/127.0.0.1 ──► eth0
///  container eth0 ingress ── 770 dst 127.0.0.1, dport ∈ own range ──► redirect container lo
/// </code>
/// A container's address, MAC and gateway are the host's; only ports tell containers apart. Everything a
/// container sends with a source port outside its ranges matches nothing on its veth, reaches the host stack of
/// <c>mesos&lt;pid&gt;</c> with the host's own address as source, and is dropped there: binding outside one's ports
/// silently fails.
/// <para>Unlike Mesos, ARP and ICMP reach the containers through one mirror filter <b>per container</b>, each
/// with a single action that lets classification continue. Mesos keeps one filter whose action list names every
/// container; the kernel accepts at most 32 actions per filter, so container 33 fails (or, on older kernels, goes
/// silently deaf). No filter here has an action list that grows with the number of containers.</para>
/// </summary>
public static class PortMappingPlans
{
    /// <summary>ARP: (1, 2) in Mesos's (primary, secondary) notation.</summary>
    public const ushort ArpPriority = 0x0102;

    public const ushort IcmpPriority = 0x0202;

    public const ushort IpHighPriority = 0x0301;

    public const ushort IpNormalPriority = 0x0302;

    public const ushort IpLowPriority = 0x0303;

    /// <summary>The host's default egress flow classifier (ETH_P_ALL).</summary>
    public const ushort DefaultPriority = 0x0402;

    /// <summary>Egress flows: 1 = the host's own traffic, 2 = ARP and ICMP, 3… = one per container.</summary>
    public const int HostFlowId = 1;

    public const int ArpIcmpFlowId = 2;

    public const int ContainerMinFlowId = 3;

    /// <summary>One past the last container flow: fq_codel's default 1024 flows.</summary>
    public const int FlowIdEnd = 1024;

    /// <summary>HTB root on the container's eth0 (egress) and on the host's veth end (ingress).</summary>
    public static readonly TcHandle HtbHandle = TcHandle.Make(1, 0);

    public static readonly TcHandle HtbClass = TcHandle.Make(1, 1);

    public static readonly IPAddress Loopback = IPAddress.Loopback;

    /// <summary>
    /// The host-wide set-up (Mesos's create, steps 16–21), applied idempotently at every start and never undone:
    /// loopback takes eth0's MAC and MTU (so frames redirected from a veth are accepted there), both links get an
    /// ingress qdisc, and loopback accepts and routes packets with local or 127/8 sources that arrive redirected.
    /// With per-container egress flows, eth0's root is an fq_codel with the shared classifiers for the host's
    /// flow (1) and ARP/ICMP (2).
    /// </summary>
    public static IReadOnlyList<PlanStep> HostSetup(HostNetwork host, TcVariants features, TcHandle? egressFlowParent = null, TcHandle? egressFlowHandle = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(features);
        var steps = new List<PlanStep>
        {
            new LinkStep(host.Lo, host.Mac, host.Mtu),
            new QdiscStep(host.Eth0, TcHandle.IngressParent, TcHandle.Ingress, QdiscKind.Ingress),
        };
        if (egressFlowParent is { } parent && egressFlowHandle is { } handle)
        {
            if (!features.FqCodel)
            {
                throw new ArgumentException("per-container egress flows need the fq_codel qdisc (sch_fq_codel), which this kernel lacks", nameof(features));
            }

            steps.Add(new QdiscStep(host.Eth0, parent, handle, QdiscKind.FqCodel));
            steps.Add(new FilterStep(new FilterSpec(host.Eth0, handle, IcmpPriority, EtherType.Ip, ClassifierKind.U32, new IcmpMatch(), new Classify(Flow(handle, ArpIcmpFlowId)))));
            steps.Add(new FilterStep(new FilterSpec(host.Eth0, handle, ArpPriority, EtherType.Arp, features.CatchAll, EveryFrame.Instance, new Classify(Flow(handle, ArpIcmpFlowId)))));
            steps.Add(new FilterStep(new FilterSpec(host.Eth0, handle, DefaultPriority, EtherType.All, features.CatchAll, EveryFrame.Instance, new Classify(Flow(handle, HostFlowId)))));
        }

        steps.Add(new QdiscStep(host.Lo, TcHandle.IngressParent, TcHandle.Ingress, QdiscKind.Ingress));
        steps.Add(new SysctlStep($"net/ipv4/conf/{host.Lo}/route_localnet", "1"));
        steps.Add(new SysctlStep("net/ipv4/conf/all/rp_filter", "0"));
        steps.Add(new SysctlStep($"net/ipv4/conf/{host.Lo}/rp_filter", "0"));
        steps.Add(new SysctlStep("net/ipv4/conf/all/send_redirects", "0"));
        steps.Add(new SysctlStep($"net/ipv4/conf/{host.Lo}/send_redirects", "0"));
        steps.Add(new SysctlStep($"net/ipv4/conf/{host.Lo}/accept_local", "1"));
        return steps;
    }

    /// <summary>
    /// The filters on the container's veth for one range (Mesos's filters a–c): what it sends from that range to
    /// the host's address or 127.0.0.1 goes to the host's loopback, the rest out of the host's eth0.
    /// </summary>
    public static IReadOnlyList<FilterSpec> VethRangeFilters(HostNetwork host, ContainerNetwork container, PortRange range)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(container);
        var veth = container.Veth;
        return
        [
            new(veth, TcHandle.Ingress, IpLowPriority, EtherType.Ip, ClassifierKind.U32, new IpMatch(SourcePorts: range), new Redirect(host.Eth0)),
            new(veth, TcHandle.Ingress, IpNormalPriority, EtherType.Ip, ClassifierKind.U32, new IpMatch(DestinationIp: host.Ip, SourcePorts: range), new Redirect(host.Lo)),
            new(veth, TcHandle.Ingress, IpNormalPriority, EtherType.Ip, ClassifierKind.U32, new IpMatch(DestinationIp: Loopback, SourcePorts: range), new Redirect(host.Lo)),
        ];
    }

    /// <summary>
    /// The host's filters for one of the container's ranges (Mesos's d–f): packets arriving on eth0 for the host's
    /// MAC and address and a port of the range, and local packets to a port of the range, go to the container's
    /// veth; with per-container flows, what the container sends from the range is queued in its own flow.
    /// </summary>
    public static IReadOnlyList<FilterSpec> HostRangeFilters(HostNetwork host, ContainerNetwork container, PortRange range, TcHandle? egressFlowHandle = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(container);
        var filters = new List<FilterSpec>
        {
            new(host.Eth0, TcHandle.Ingress, IpNormalPriority, EtherType.Ip, ClassifierKind.U32, new IpMatch(host.Mac, host.Ip, DestinationPorts: range), new Redirect(container.Veth)),
            new(host.Lo, TcHandle.Ingress, IpNormalPriority, EtherType.Ip, ClassifierKind.U32, new IpMatch(DestinationPorts: range), new Redirect(container.Veth)),
        };
        if (egressFlowHandle is { } handle && container.FlowId is { } flow)
        {
            filters.Add(new(host.Eth0, handle, IpLowPriority, EtherType.Ip, ClassifierKind.U32, new IpMatch(SourcePorts: range), new Classify(Flow(handle, flow))));
        }

        return filters;
    }

    /// <summary>The per-container ARP and ICMP mirrors on the host's eth0 (see the class remarks for why one per container).</summary>
    public static IReadOnlyList<FilterSpec> HostMirrorFilters(HostNetwork host, TcVariants features, ContainerNetwork container)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(container);
        return
        [
            new(host.Eth0, TcHandle.Ingress, IcmpPriority, EtherType.Ip, ClassifierKind.U32, new IcmpMatch(host.Ip), new Mirror(container.Veth)),
            new(host.Eth0, TcHandle.Ingress, ArpPriority, EtherType.Arp, features.CatchAll, EveryFrame.Instance, new Mirror(container.Veth)),
        ];
    }

    /// <summary>
    /// The host side of a container, in Mesos's isolate order (steps 4–12): the veth's filters before the host's
    /// for each range, so a crash never leaves a host filter that recovery (which reads the veth) cannot see; the
    /// veth comes up last, once everything that routes its traffic is in place.
    /// </summary>
    public static IReadOnlyList<PlanStep> ContainerHostSide(HostNetwork host, TcVariants features, ContainerNetwork container, TcHandle? egressFlowHandle = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(container);
        var veth = container.Veth;
        var steps = new List<PlanStep>
        {
            new SysctlStep($"net/ipv6/conf/{veth}/disable_ipv6", "1", IfExists: true),
            new QdiscStep(veth, TcHandle.IngressParent, TcHandle.Ingress, QdiscKind.Ingress),
        };
        foreach (var range in container.Ranges)
        {
            steps.AddRange(RangeSteps(host, container, range, egressFlowHandle));
        }

        steps.Add(new FilterStep(new FilterSpec(veth, TcHandle.Ingress, IcmpPriority, EtherType.Ip, ClassifierKind.U32, new IcmpMatch(), new Redirect(host.Eth0))));
        steps.Add(new FilterStep(new FilterSpec(veth, TcHandle.Ingress, ArpPriority, EtherType.Arp, features.CatchAll, EveryFrame.Instance, new Redirect(host.Eth0))));
        steps.AddRange(HostMirrorFilters(host, features, container).Select(f => new FilterStep(f)));
        if (container.Ingress is { } ingress)
        {
            steps.AddRange(Shaping(veth, ingress, features));
        }

        steps.Add(new LinkStep(veth, Up: true));
        return steps;
    }

    /// <summary>The host-side filters of one range, veth first (Mesos's <c>addHostIPFilters</c>); used by isolate and update.</summary>
    public static IEnumerable<PlanStep> RangeSteps(HostNetwork host, ContainerNetwork container, PortRange range, TcHandle? egressFlowHandle = null) =>
        VethRangeFilters(host, container, range).Concat(HostRangeFilters(host, container, range, egressFlowHandle)).Select(f => new FilterStep(f));

    /// <summary>
    /// The container's own namespace (Mesos's pre-exec script, §3.2, done here over netlink before the container's
    /// first process runs): loopback with the host's MAC and MTU, eth0 with the host's address and default route,
    /// its ephemeral block as the local port range, the host's tuning sysctls, and the filters that keep traffic
    /// to its own ports on its loopback and send the rest for hostIP/127.0.0.1 out through eth0 to the host.
    /// </summary>
    /// <param name="hostHasRouteLocalnet">The host kernel has <c>route_localnet</c> (Mesos checks the host, not the container).</param>
    /// <param name="hostSysctls">Host values copied in (key → value, slash keys), written only where the file exists.</param>
    public static IReadOnlyList<PlanStep> ContainerInside(
        HostNetwork host,
        TcVariants features,
        ContainerNetwork container,
        bool hostHasRouteLocalnet,
        IReadOnlyDictionary<string, string> hostSysctls)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(container);
        ArgumentNullException.ThrowIfNull(hostSysctls);
        var (lo, eth0) = (host.Lo, host.Eth0);
        var steps = new List<PlanStep>
        {
            new SysctlStep("net/ipv6/conf/all/disable_ipv6", "1", IfExists: true),
            new LinkStep(lo, host.Mac, host.Mtu, Up: true),
            new RxChecksumOffStep(eth0),
            new LinkStep(eth0, Mtu: host.Mtu, Up: true),
            new AddressStep(eth0, host.Ip, host.PrefixLength),
            new DefaultRouteStep(eth0, host.Gateway),
        };
        if (container.Ephemeral is { } ephemeral)
        {
            steps.Add(new SysctlStep("net/ipv4/ip_local_port_range", string.Create(CultureInfo.InvariantCulture, $"{ephemeral.Begin} {ephemeral.End}")));
        }

        steps.Add(new SysctlStep($"net/ipv4/conf/{eth0}/accept_local", "1"));
        steps.Add(new SysctlStep($"net/ipv4/conf/{lo}/accept_local", "1"));
        if (hostHasRouteLocalnet)
        {
            steps.Add(new SysctlStep($"net/ipv4/conf/{lo}/route_localnet", "1"));
        }

        steps.AddRange(hostSysctls.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => new SysctlStep(s.Key, s.Value, IfExists: true)));
        steps.Add(new QdiscStep(lo, TcHandle.IngressParent, TcHandle.Ingress, QdiscKind.Ingress));
        steps.Add(new QdiscStep(eth0, TcHandle.IngressParent, TcHandle.Ingress, QdiscKind.Ingress));
        steps.Add(new FilterStep(new FilterSpec(lo, TcHandle.Ingress, IpNormalPriority, EtherType.Ip, ClassifierKind.U32, new IpMatch(DestinationIp: host.Ip), new Redirect(eth0))));
        steps.Add(new FilterStep(new FilterSpec(lo, TcHandle.Ingress, IpNormalPriority, EtherType.Ip, ClassifierKind.U32, new IpMatch(DestinationIp: Loopback), new Redirect(eth0))));
        foreach (var range in container.Ranges)
        {
            steps.AddRange(InsideRangeFilters(host, range).Select(f => new FilterStep(f)));
        }

        steps.Add(new FilterStep(new FilterSpec(lo, TcHandle.Ingress, IcmpPriority, EtherType.Ip, ClassifierKind.U32, new IcmpMatch(host.Ip), Terminal.Instance)));
        steps.Add(new FilterStep(new FilterSpec(lo, TcHandle.Ingress, IcmpPriority, EtherType.Ip, ClassifierKind.U32, new IcmpMatch(Loopback), Terminal.Instance)));
        if (container.Egress is { } egress)
        {
            steps.AddRange(Shaping(eth0, egress, features));
        }

        return steps;
    }

    /// <summary>
    /// Inside the container, for one range (Mesos's <c>update</c> helper adds and removes these): traffic to its
    /// own ports stays on its loopback; what arrives on eth0 for 127.0.0.1 and its ports goes to its loopback.
    /// </summary>
    public static IReadOnlyList<FilterSpec> InsideRangeFilters(HostNetwork host, PortRange range)
    {
        ArgumentNullException.ThrowIfNull(host);
        return InsideRangeFilters(host.Lo, host.Eth0, range);
    }

    /// <inheritdoc cref="InsideRangeFilters(HostNetwork, PortRange)"/>
    /// <param name="lo">The container's loopback (named as the host's).</param>
    /// <param name="eth0">The container's eth0 (named as the host's public interface).</param>
    /// <param name="range">The range.</param>
    public static IReadOnlyList<FilterSpec> InsideRangeFilters(string lo, string eth0, PortRange range) =>
    [
        new(lo, TcHandle.Ingress, IpHighPriority, EtherType.Ip, ClassifierKind.U32, new IpMatch(DestinationPorts: range), Terminal.Instance),
        new(eth0, TcHandle.Ingress, IpNormalPriority, EtherType.Ip, ClassifierKind.U32, new IpMatch(DestinationIp: Loopback, DestinationPorts: range), new Redirect(lo)),
    ];

    /// <summary>HTB root <c>1:0 default 1</c>, class <c>1:1</c> with the config, and the leaf qdisc under it.</summary>
    public static IReadOnlyList<PlanStep> Shaping(string device, HtbConfig config, TcVariants features)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(features);
        return
        [
            new QdiscStep(device, TcHandle.Root, HtbHandle, QdiscKind.Htb),
            new HtbClassStep(device, HtbHandle, HtbClass, config),
            new QdiscStep(device, HtbClass, null, features.Leaf),
        ];
    }

    /// <summary>
    /// Mesos's update of a container's ports (§3.5 step 8): installed ranges no longer wholly inside the new set are
    /// removed (the ephemeral block's own range never is); the ports of the new set not covered by the ranges that
    /// stay are decomposed into new ranges. Ranges that stay are not re-cut, so the installed list is not always
    /// the decomposition of the whole set; callers keep it as it is.
    /// </summary>
    /// <param name="installed">The ranges the container's filters hold now.</param>
    /// <param name="ephemeral">Its ephemeral block, or null.</param>
    /// <param name="newPorts">Its new non-ephemeral ports.</param>
    public static (IReadOnlyList<PortRange> ToAdd, IReadOnlyList<PortRange> ToRemove) PortChanges(
        IReadOnlyList<PortRange> installed,
        PortRange? ephemeral,
        PortSet newPorts)
    {
        ArgumentNullException.ThrowIfNull(installed);
        ArgumentNullException.ThrowIfNull(newPorts);
        var wanted = ephemeral is { } e ? newPorts.Union(e.ToSet()) : newPorts;
        var toRemove = new List<PortRange>();
        var remaining = PortSet.Empty;
        foreach (var range in installed.Distinct())
        {
            if (range == ephemeral || wanted.Contains(range.ToSet()))
            {
                remaining = remaining.Union(range.ToSet());
            }
            else
            {
                toRemove.Add(range);
            }
        }

        return (PortRange.Decompose(wanted.Subtract(remaining)), toRemove);
    }

    /// <summary>The egress flow class of a container or shared flow: <c>&lt;qdisc major&gt;:&lt;flow&gt;</c>.</summary>
    public static TcHandle Flow(TcHandle qdisc, int flowId) => TcHandle.Make(qdisc.Major, checked((ushort)flowId));

    /// <summary>The plan as text, one command a line (the golden form).</summary>
    public static string Render(IEnumerable<PlanStep> steps) => string.Join('\n', steps.Select(s => s.ToCommand())) + "\n";
}
