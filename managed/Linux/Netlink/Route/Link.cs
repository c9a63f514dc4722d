using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;

namespace NetIsolator.Linux.Netlink.Route;

/// <summary>A link as RTM_NEWLINK reports it (<c>ip -d -s link show</c>).</summary>
/// <param name="Index">ifindex, unique within the namespace.</param>
/// <param name="Name">IFLA_IFNAME.</param>
/// <param name="Flags">ifi_flags: IFF_UP, IFF_LOOPBACK, IFF_LOWER_UP, ...</param>
/// <param name="Mtu">IFLA_MTU.</param>
/// <param name="Mac">IFLA_ADDRESS when it is an Ethernet address (lo has 00:00:00:00:00:00); null for other link types.</param>
/// <param name="Kind">IFLA_INFO_KIND (<c>veth</c>, <c>dummy</c>, ...); null for links without rtnl_link_ops (lo, physical NICs).</param>
/// <param name="Counters">IFLA_STATS64, when sent.</param>
/// <param name="PeerIndex">
/// IFLA_LINK: for a veth, the peer's ifindex, which is an ifindex in the peer's namespace when
/// <paramref name="PeerNamespaceId"/> is set. The kernel leaves it out when it equals the link's own index, so null
/// means "no lower link" or "the same number as <paramref name="Index"/>".
/// </param>
/// <param name="PeerNamespaceId">IFLA_LINK_NETNSID: the peer lives in another namespace (its id as this namespace knows it).</param>
public sealed record Link(
    int Index,
    string Name,
    uint Flags,
    int Mtu,
    MacAddress? Mac,
    string? Kind,
    LinkCounters? Counters,
    int? PeerIndex = null,
    int? PeerNamespaceId = null)
{
    /// <summary>IFF_UP: administratively up.</summary>
    public bool IsUp => (Flags & IFF_UP) != 0;

    public bool IsLoopback => (Flags & IFF_LOOPBACK) != 0;

    /// <summary>Index and name, for further requests and messages.</summary>
    public LinkId Id => new(Index, Name);
}

/// <summary>
/// A veth pair to create in one request: <see cref="Name"/> in the socket's namespace and <see cref="PeerName"/>
/// either beside it or, with <see cref="PeerNamespace"/>, directly inside another namespace (IFLA_NET_NS_FD in the
/// peer's part of the request), so the peer never appears in the first namespace.
/// </summary>
/// <remarks>
/// The MACs are set at creation (IFLA_ADDRESS of each end) rather than after: on systemd 242+ hosts udev otherwise
/// races to assign its own "persistent" MAC to a new veth (MESOS-10243). Without them the kernel picks random
/// locally administered addresses. <see cref="Mtu"/> applies to both ends.
/// </remarks>
public sealed record VethPair(string Name, string PeerName)
{
    public MacAddress? Mac { get; init; }

    public MacAddress? PeerMac { get; init; }

    public int? Mtu { get; init; }

    /// <summary>Where the peer is created; null = the socket's namespace.</summary>
    public NetworkNamespace? PeerNamespace { get; init; }
}
