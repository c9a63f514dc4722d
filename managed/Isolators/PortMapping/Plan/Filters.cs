using System.Globalization;
using System.Net;
using System.Text;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Tc;

namespace NetIsolator.Isolators.PortMappingIsolation.Plan;

/// <summary>The ethertype a filter is attached for (its tc <c>protocol</c>).</summary>
public enum EtherType : ushort
{
    /// <summary>ETH_P_ALL: every frame (the host's default egress flow).</summary>
    All = 0x0003,
    Ip = 0x0800,
    Arp = 0x0806,
}

/// <summary>What a filter selects; <see cref="Keys"/> is its u32 encoding.</summary>
public abstract record FilterMatch
{
    /// <summary>The u32 keys (empty for the <c>basic</c> classifier, which matches on the ethertype alone).</summary>
    public abstract IReadOnlyList<U32Key> Keys { get; }
}

/// <summary>
/// Mesos's IP classifier. Ports are read at bytes 20–23 of the IP header, which is right only without IP options,
/// so the header length is pinned to 5 words first (packets with options never match, as in Mesos). There is no
/// L4 protocol check: TCP and UDP share ranges. The destination MAC check keeps frames addressed to other hosts
/// (seen in promiscuous mode) out of the container.
/// </summary>
public sealed record IpMatch(
    MacAddress? DestinationMac = null,
    IPAddress? DestinationIp = null,
    PortRange? SourcePorts = null,
    PortRange? DestinationPorts = null) : FilterMatch
{
    public override IReadOnlyList<U32Key> Keys
    {
        get
        {
            var keys = new List<U32Key> { U32Match.HeaderLengthIsFive() };
            if (DestinationMac is { } mac)
            {
                keys.AddRange(U32Match.DestinationMac(mac));
            }

            if (DestinationIp is { } ip)
            {
                keys.Add(U32Match.Destination(ip));
            }

            if (SourcePorts is { } source)
            {
                keys.Add(U32Match.SourcePorts((ushort)source.Begin, source.Mask));
            }

            if (DestinationPorts is { } destination)
            {
                keys.Add(U32Match.DestinationPorts((ushort)destination.Begin, destination.Mask));
            }

            return keys;
        }
    }
}

/// <summary>Mesos's ICMP classifier: IP protocol 1, optionally to one destination address.</summary>
public sealed record IcmpMatch(IPAddress? DestinationIp = null) : FilterMatch
{
    /// <summary>IPPROTO_ICMP.</summary>
    public const byte IcmpProtocol = 1;

    public override IReadOnlyList<U32Key> Keys =>
        DestinationIp is { } ip
            ? [U32Match.Protocol(IcmpProtocol), U32Match.Destination(ip)]
            : [U32Match.Protocol(IcmpProtocol)];
}

/// <summary>
/// Every frame of the filter's ethertype. With the <c>basic</c> classifier that is a filter without keys; where
/// cls_basic is missing (reference §7.1) it is a u32 filter with one zero-mask key, which every frame matches.
/// </summary>
public sealed record EveryFrame : FilterMatch
{
    public static readonly EveryFrame Instance = new();

    public override IReadOnlyList<U32Key> Keys => [U32Match.Everything()];
}

/// <summary>What a matching filter does.</summary>
public abstract record FilterAction;

/// <summary>
/// <c>mirred egress redirect</c>: the packet leaves through <paramref name="Device"/> as if sent there, and is gone
/// from this device (TC_ACT_STOLEN).
/// </summary>
public sealed record Redirect(string Device) : FilterAction;

/// <summary>
/// <c>mirred egress mirror … continue</c>: a copy leaves through <paramref name="Device"/>, and classification goes
/// on with the next filter (TC_ACT_UNSPEC), so that one such filter per container copies a packet to every
/// container and the host stack still gets it. Mesos instead lists every container in one filter's actions, which
/// the kernel caps at 32 (TCA_ACT_MAX_PRIO).
/// </summary>
public sealed record Mirror(string Device) : FilterAction;

/// <summary>No action: classification stops here and the packet goes on as if unfiltered (u32's terminal flag).</summary>
public sealed record Terminal : FilterAction
{
    public static readonly Terminal Instance = new();
}

/// <summary>Puts the packet in class <paramref name="ClassId"/> of the qdisc the filter is attached to.</summary>
public sealed record Classify(TcHandle ClassId) : FilterAction;

/// <summary>The classifier a filter uses.</summary>
public enum ClassifierKind
{
    U32,
    Basic,
}

/// <summary>
/// One tc filter: where (<see cref="Device"/>, <see cref="Parent"/>, <see cref="Priority"/>,
/// <see cref="Protocol"/>), what (<see cref="Match"/>) and what to do (<see cref="Action"/>). Its identity is all
/// of that: two filters differing in any field are two filters.
/// </summary>
public sealed record FilterSpec(
    string Device,
    TcHandle Parent,
    ushort Priority,
    EtherType Protocol,
    ClassifierKind Classifier,
    FilterMatch Match,
    FilterAction Action)
{
    /// <summary>The filter as a <c>tc</c> command (what Mesos would run; also the command-driven benchmark path).</summary>
    public string ToCommand(string verb = "add")
    {
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"tc filter {verb} dev {Device} parent {Parent} protocol {ProtocolName(Protocol)} prio {Priority}"));
        if (Classifier == ClassifierKind.Basic)
        {
            text.Append(" basic");
        }
        else
        {
            text.Append(" u32");
            foreach (var key in Match.Keys)
            {
                text.Append(CultureInfo.InvariantCulture, $" match u32 0x{key.Value:x8} 0x{key.Mask:x8} at {key.Offset}");
            }
        }

        text.Append(Action switch
        {
            Redirect r => $" action mirred egress redirect dev {r.Device}",
            Mirror m => $" action mirred egress mirror dev {m.Device} continue",
            Classify c => $" classid {c.ClassId}",
            // u32 sets its terminal flag when given a class; pointing at the attaching qdisc itself changes nothing else.
            _ => $" classid {Parent}",
        });
        return text.ToString();
    }

    public static string ProtocolName(EtherType protocol) => protocol switch
    {
        EtherType.Ip => "ip",
        EtherType.Arp => "arp",
        _ => "all",
    };
}
