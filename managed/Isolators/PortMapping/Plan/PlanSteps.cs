using System.Globalization;
using System.Net;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Tc;

namespace NetIsolator.Isolators.PortMappingIsolation.Plan;

/// <summary>
/// One thing a network namespace must hold for the isolator to work. A plan is an ordered list of these, built by
/// pure functions (<see cref="PortMappingPlans"/>) and applied in order by an executor that treats "already there"
/// as done; each step renders as the <c>ip</c>/<c>tc</c>/<c>sysctl</c> command that would do the same
/// (<see cref="ToCommand"/>), which is what the golden tests compare.
/// </summary>
public abstract record PlanStep
{
    public abstract string ToCommand();

    public sealed override string ToString() => ToCommand();
}

/// <summary>
/// Writes <paramref name="Value"/> to <c>/proc/sys/&lt;Key&gt;</c>. The key is written with slashes
/// (<c>net/ipv4/conf/eth0.100/rp_filter</c>), since interface names may hold dots; <c>sysctl</c> accepts that form.
/// These files are per network namespace: the namespace of the thread that opens them decides which one is written.
/// </summary>
/// <param name="IfExists">Skip silently when the file is missing (e.g. IPv6 compiled out, a newer knob).</param>
public sealed record SysctlStep(string Key, string Value, bool IfExists = false) : PlanStep
{
    public override string ToCommand() => $"sysctl -w{(IfExists ? " -e" : "")} {Key}='{Value}'";
}

/// <summary>Sets what is given of a link's MAC, MTU and up state.</summary>
public sealed record LinkStep(string Device, MacAddress? Mac = null, int? Mtu = null, bool Up = false) : PlanStep
{
    public override string ToCommand() =>
        $"ip link set dev {Device}"
        + (Mac is { } mac ? $" address {mac}" : "")
        + (Mtu is { } mtu ? string.Create(CultureInfo.InvariantCulture, $" mtu {mtu}") : "")
        + (Up ? " up" : "");
}

public sealed record AddressStep(string Device, IPAddress Address, int PrefixLength) : PlanStep
{
    public override string ToCommand() => string.Create(CultureInfo.InvariantCulture, $"ip addr add {Address}/{PrefixLength} dev {Device}");
}

/// <summary>The default route via <paramref name="Gateway"/> out of <paramref name="Device"/>.</summary>
public sealed record DefaultRouteStep(string Device, IPAddress Gateway) : PlanStep
{
    public override string ToCommand() => $"ip route add default via {Gateway} dev {Device}";
}

/// <summary>The qdisc kinds the isolator uses.</summary>
public enum QdiscKind
{
    /// <summary>The ingress hook: where filters on arriving packets attach (handle ffff:0).</summary>
    Ingress,

    /// <summary>Hierarchical token bucket, <c>default 1</c>: unclassified packets go to class :1.</summary>
    Htb,

    /// <summary>Fair queueing with CoDel AQM (Mesos's leaf under HTB, and root for per-container flows).</summary>
    FqCodel,

    /// <summary>Stochastic fair queueing: the leaf used where fq_codel is missing, keeping per-flow fairness.</summary>
    Sfq,

    /// <summary>A plain packet FIFO (sch_fifo is built into every kernel with traffic control): the last resort leaf.</summary>
    Pfifo,
}

/// <summary>A qdisc of <paramref name="Kind"/> at <paramref name="Parent"/>; <paramref name="Handle"/> null = the kernel picks.</summary>
public sealed record QdiscStep(string Device, TcHandle Parent, TcHandle? Handle, QdiscKind Kind) : PlanStep
{
    /// <summary>Packets a pfifo leaf holds, as the default txqueuelen of most links.</summary>
    public const int PfifoLimit = 1000;

    public override string ToCommand() => Kind == QdiscKind.Ingress
        ? $"tc qdisc add dev {Device} ingress"
        : $"tc qdisc add dev {Device} {(Parent == TcHandle.Root ? "root" : $"parent {Parent}")}"
            + (Handle is { } handle ? $" handle {handle}" : "")
            + Kind switch
            {
                QdiscKind.Htb => " htb default 1",
                QdiscKind.FqCodel => " fq_codel",
                QdiscKind.Sfq => " sfq perturb 10",
                _ => string.Create(CultureInfo.InvariantCulture, $" pfifo limit {PfifoLimit}"),
            };
}

/// <summary>HTB class <paramref name="ClassId"/> under <paramref name="Parent"/> shaped by <paramref name="Config"/> (bytes/s; tc takes bits/s).</summary>
public sealed record HtbClassStep(string Device, TcHandle Parent, TcHandle ClassId, HtbConfig Config) : PlanStep
{
    public override string ToCommand() =>
        string.Create(CultureInfo.InvariantCulture, $"tc class add dev {Device} parent {Parent} classid {ClassId} htb rate {Config.Rate * 8}bit")
        + (Config.Ceil is { } ceil ? string.Create(CultureInfo.InvariantCulture, $" ceil {ceil * 8}bit") : "")
        + (Config.Burst is { } burst ? string.Create(CultureInfo.InvariantCulture, $" burst {burst}b") : "");
}

/// <summary>
/// Turns off receive checksum offload (<c>ethtool -K dev rx off</c>). A veth marks what it delivers as already
/// checksummed, so a packet corrupted on the wire would reach the container's sockets unchecked; with rx
/// offload off the stack verifies checksums itself and drops such packets.
/// </summary>
public sealed record RxChecksumOffStep(string Device) : PlanStep
{
    public override string ToCommand() => $"ethtool -K {Device} rx off";
}

public sealed record FilterStep(FilterSpec Filter) : PlanStep
{
    public override string ToCommand() => Filter.ToCommand();
}
