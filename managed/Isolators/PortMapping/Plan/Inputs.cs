using System.Net;
using NetIsolator.Linux.Netlink;

namespace NetIsolator.Isolators.PortMappingIsolation.Plan;

/// <summary>
/// What the host's network looks like, discovered at start: the public interface ("eth0", whatever its name), the
/// loopback, eth0's MAC, first IPv4 address with prefix, MTU, and the default gateway. Every container gets the
/// same MAC, address and gateway on its own eth0.
/// </summary>
public sealed record HostNetwork(
    string Eth0,
    string Lo,
    MacAddress Mac,
    IPAddress Ip,
    int PrefixLength,
    IPAddress Gateway,
    int Mtu);

/// <summary>
/// Which traffic-control objects the plans use, decided once at start from what the kernel has (reference §7).
/// u32, mirred, ingress and htb are required; the rest have stand-ins (§7.1).
/// </summary>
/// <param name="Basic">cls_basic; without it ARP and catch-all filters are u32 filters with one zero-mask key.</param>
/// <param name="FqCodel">sch_fq_codel; without it the leaf under HTB is sfq or pfifo, and per-container egress flows are refused.</param>
/// <param name="Sfq">sch_sfq; the leaf used when fq_codel is missing.</param>
public sealed record TcVariants(bool Basic, bool FqCodel, bool Sfq)
{
    /// <summary>What Mesos expects of a kernel.</summary>
    public static readonly TcVariants Full = new(true, true, true);

    /// <summary>This project's target kernels: no cls_basic, no sch_fq_codel.</summary>
    public static readonly TcVariants Minimal = new(false, false, false);

    /// <summary>The qdisc under HTB class 1:1: fq_codel as in Mesos, else sfq, else pfifo.</summary>
    public QdiscKind Leaf => FqCodel ? QdiscKind.FqCodel : Sfq ? QdiscKind.Sfq : QdiscKind.Pfifo;

    /// <summary>The classifier for "every frame of an ethertype" filters.</summary>
    public ClassifierKind CatchAll => Basic ? ClassifierKind.Basic : ClassifierKind.U32;

    public override string ToString() =>
        $"cls_basic {(Basic ? "yes" : "no (u32 catch-all instead)")}, sch_fq_codel {(FqCodel ? "yes" : $"no ({Leaf.ToString().ToLowerInvariant()} leaf instead)")}";
}

/// <summary>
/// One container as the plans need it: its executor pid (which names the veth), the port ranges its filters hold,
/// its shaping and its egress flow.
/// </summary>
/// <param name="Ranges">The ranges filtered for it: the decomposition of its ports and ephemeral block, as installed.</param>
/// <param name="Ephemeral">Its ephemeral block (null when a partial recovery found none).</param>
/// <param name="FlowId">Its egress flow (classid minor) when per-container flows are on.</param>
public sealed record ContainerNetwork(
    int Pid,
    IReadOnlyList<PortRange> Ranges,
    PortRange? Ephemeral,
    HtbConfig? Egress = null,
    HtbConfig? Ingress = null,
    int? FlowId = null)
{
    /// <summary>Mesos's host-side veth name: <c>mesos&lt;pid&gt;</c> (a container id does not fit IFNAMSIZ).</summary>
    public string Veth => VethName(Pid);

    public const string VethPrefix = "mesos";

    public static string VethName(int pid) => VethPrefix + pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
