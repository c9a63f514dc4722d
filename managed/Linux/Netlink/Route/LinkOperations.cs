using NetIsolator.Linux.Netlink.Protocol;
using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;

namespace NetIsolator.Linux.Netlink.Route;

/// <summary>
/// <c>ip link</c> over a <see cref="NetlinkSocket"/>: get, dump, create veth pairs, set up/down, MTU, MAC,
/// namespace, delete. Every verb acts in the socket's namespace.
/// </summary>
/// <remarks>
/// Idempotence follows Mesos's routing library: <see cref="CreateVeth"/> returns false when a link of either name
/// already exists (EEXIST), <see cref="DeleteLink"/> returns false when the link is not there (ENODEV),
/// <see cref="GetLink"/> returns null for a missing link. Everything else throws <see cref="NetlinkException"/>.
/// The request encoders (<c>*Request</c>) are pure and golden-tested.
/// </remarks>
public static class LinkOperations
{
    /// <summary><c>ip link show NAME</c>: one RTM_GETLINK (by ifindex if known, else by IFLA_IFNAME); null if there is no such link.</summary>
    public static Link? GetLink(this NetlinkSocket socket, LinkId link)
    {
        Link? found = null;
        var error = socket.TryExecute(GetRequest(link), $"getting link {link}", Errno.ENODEV, 0, (in NlMsgHeader header, ReadOnlySpan<byte> payload) =>
        {
            if (header.Type == RTM_NEWLINK)
            {
                found = Parse(payload);
            }
        });
        return error == 0 ? found : null;
    }

    /// <summary><see cref="GetLink"/>, throwing when the link is missing: for steps that cannot go on without it.</summary>
    /// <exception cref="NetlinkException">ENODEV: no such link.</exception>
    public static Link RequireLink(this NetlinkSocket socket, LinkId link) =>
        socket.GetLink(link) ?? throw new NetlinkException(Errno.ENODEV, $"looking up link {link}", null, socket.Description);

    /// <summary><c>ip -d -s link show</c>: every link of the namespace.</summary>
    public static IReadOnlyList<Link> GetLinks(this NetlinkSocket socket) =>
        socket.Dump(
            LinkDump.Request(),
            "dumping links",
            static (in NlMsgHeader header, ReadOnlySpan<byte> payload) => header.Type == RTM_NEWLINK ? Parse(payload) : null);

    /// <summary>The first link with IFF_LOOPBACK (Mesos's <c>lo</c> discovery), or null.</summary>
    public static Link? FindLoopback(this NetlinkSocket socket) => socket.GetLinks().FirstOrDefault(l => l.IsLoopback);

    /// <summary>
    /// <c>ip link add NAME [address MAC] [mtu MTU] type veth peer name PEER [address PEERMAC] [mtu MTU] [netns NS]</c>
    /// in one request. Returns false if a link of either name exists already (EEXIST; nothing was created).
    /// </summary>
    public static bool CreateVeth(this NetlinkSocket socket, VethPair pair)
    {
        ArgumentNullException.ThrowIfNull(pair);
        var ns = pair.PeerNamespace;
        var added = false;
        try
        {
            ns?.Handle.DangerousAddRef(ref added);
            var fd = ns is null ? (int?)null : ns.Handle.FileDescriptor;
            var step = $"creating veth '{pair.Name}' with peer '{pair.PeerName}'{(ns is null ? "" : $" in network namespace '{ns.Path}'")}";
            return socket.TryExecute(CreateVethRequest(pair, fd), step, Errno.EEXIST) == 0;
        }
        finally
        {
            if (added)
            {
                ns!.Handle.DangerousRelease();
            }
        }
    }

    /// <summary><c>ip link set LINK up</c>.</summary>
    public static void SetLinkUp(this NetlinkSocket socket, LinkId link) =>
        socket.Execute(SetFlagsRequest(link, IFF_UP, IFF_UP), $"setting link {link} up");

    /// <summary><c>ip link set LINK down</c>.</summary>
    public static void SetLinkDown(this NetlinkSocket socket, LinkId link) =>
        socket.Execute(SetFlagsRequest(link, 0, IFF_UP), $"setting link {link} down");

    /// <summary><c>ip link set LINK mtu MTU</c>.</summary>
    public static void SetMtu(this NetlinkSocket socket, LinkId link, int mtu)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(mtu);
        var request = SetRequest(link);
        request.AddU32(IFLA_MTU, (uint)mtu);
        socket.Execute(request, $"setting MTU {mtu} on link {link}");
    }

    /// <summary><c>ip link set LINK address MAC</c>. The kernel refuses group (multicast) addresses with EADDRNOTAVAIL.</summary>
    public static void SetMacAddress(this NetlinkSocket socket, LinkId link, MacAddress mac)
    {
        var request = SetRequest(link);
        request.Add(IFLA_ADDRESS, mac.ToArray());
        socket.Execute(request, $"setting MAC {mac} on link {link}");
    }

    /// <summary>
    /// <c>ip link set LINK netns NS [name NEWNAME]</c>: the link leaves the socket's namespace. It gets a new ifindex
    /// if its own is taken there; the name must be free there (EEXIST otherwise), or a new one given.
    /// </summary>
    public static void MoveToNamespace(this NetlinkSocket socket, LinkId link, NetworkNamespace ns, string? newName = null)
    {
        ArgumentNullException.ThrowIfNull(ns);
        var added = false;
        try
        {
            ns.Handle.DangerousAddRef(ref added);
            socket.Execute(MoveRequest(link, ns.Handle.FileDescriptor, newName), $"moving link {link} into network namespace '{ns.Path}'");
        }
        finally
        {
            if (added)
            {
                ns.Handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// <c>ip link del LINK</c>; false if there is no such link (ENODEV). Deleting one end of a veth deletes both.
    /// Synchronous: the kernel waits for an RCU grace period, so this takes milliseconds, not microseconds.
    /// </summary>
    public static bool DeleteLink(this NetlinkSocket socket, LinkId link)
    {
        var request = new NetlinkMessageBuilder(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
        AddLinkSelector(request, link);
        return socket.TryExecute(request, $"deleting link {link}", Errno.ENODEV) == 0;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // encoders

    internal static NetlinkMessageBuilder GetRequest(LinkId link)
    {
        var request = new NetlinkMessageBuilder(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
        AddLinkSelector(request, link);
        return request;
    }

    /// <summary>
    /// RTM_NEWLINK, CREATE|EXCL: ifinfomsg, IFLA_IFNAME, [IFLA_ADDRESS], [IFLA_MTU], IFLA_LINKINFO { IFLA_INFO_KIND
    /// "veth", IFLA_INFO_DATA { VETH_INFO_PEER: ifinfomsg, IFLA_IFNAME, [IFLA_ADDRESS], [IFLA_MTU], [IFLA_NET_NS_FD] } }.
    /// The peer's part is itself an ifinfomsg followed by link attributes, as for a link of its own.
    /// </summary>
    internal static NetlinkMessageBuilder CreateVethRequest(VethPair pair, int? peerNamespaceFd)
    {
        LinkId.Validate(pair.Name);
        LinkId.Validate(pair.PeerName);
        if (pair.Mtu is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(pair), pair.Mtu, "MTU must be positive");
        }

        var request = new NetlinkMessageBuilder(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        new IfInfoMsg(AF_UNSPEC, 0, 0, 0, 0).Write(request.Reserve(IfInfoMsg.Size));
        AddLinkAttributes(request, pair.Name, pair.Mac, pair.Mtu);
        var linkInfo = request.BeginNested(IFLA_LINKINFO);
        request.AddString(IFLA_INFO_KIND, "veth");
        var data = request.BeginNested(IFLA_INFO_DATA);
        var peer = request.BeginNested(VETH_INFO_PEER);
        new IfInfoMsg(AF_UNSPEC, 0, 0, 0, 0).Write(request.Reserve(IfInfoMsg.Size));
        AddLinkAttributes(request, pair.PeerName, pair.PeerMac, pair.Mtu);
        if (peerNamespaceFd is { } fd)
        {
            request.AddU32(IFLA_NET_NS_FD, (uint)fd);
        }

        request.EndNested(peer);
        request.EndNested(data);
        request.EndNested(linkInfo);
        return request;
    }

    /// <summary>RTM_SETLINK with ifi_flags/ifi_change: only the bits set in <paramref name="change"/> are touched.</summary>
    internal static NetlinkMessageBuilder SetFlagsRequest(LinkId link, uint flags, uint change)
    {
        var request = new NetlinkMessageBuilder(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
        new IfInfoMsg(AF_UNSPEC, 0, link.Index, flags, change).Write(request.Reserve(IfInfoMsg.Size));
        if (!link.HasIndex)
        {
            request.AddString(IFLA_IFNAME, link.Name!);
        }

        return request;
    }

    internal static NetlinkMessageBuilder MoveRequest(LinkId link, int namespaceFd, string? newName)
    {
        if (newName is not null && !link.HasIndex)
        {
            throw new ArgumentException($"renaming link {link} while moving it needs its ifindex (IFLA_IFNAME would carry the new name)", nameof(link));
        }

        var request = SetRequest(link);
        request.AddU32(IFLA_NET_NS_FD, (uint)namespaceFd);
        if (newName is not null)
        {
            LinkId.Validate(newName);
            request.AddString(IFLA_IFNAME, newName);
        }

        return request;
    }

    private static NetlinkMessageBuilder SetRequest(LinkId link)
    {
        var request = new NetlinkMessageBuilder(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
        AddLinkSelector(request, link);
        return request;
    }

    /// <summary>ifinfomsg with the ifindex when known, otherwise IFLA_IFNAME (the kernel looks the name up).</summary>
    private static void AddLinkSelector(NetlinkMessageBuilder request, LinkId link)
    {
        new IfInfoMsg(AF_UNSPEC, 0, link.Index, 0, 0).Write(request.Reserve(IfInfoMsg.Size));
        if (!link.HasIndex)
        {
            request.AddString(IFLA_IFNAME, link.Name!);
        }
    }

    private static void AddLinkAttributes(NetlinkMessageBuilder request, string name, MacAddress? mac, int? mtu)
    {
        request.AddString(IFLA_IFNAME, name);
        if (mac is { } address)
        {
            if (address.IsMulticast)
            {
                throw new ArgumentException($"link '{name}': {address} is a multicast address; an interface cannot take it", nameof(mac));
            }

            request.Add(IFLA_ADDRESS, address.ToArray());
        }

        if (mtu is { } value)
        {
            request.AddU32(IFLA_MTU, (uint)value);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // decoder

    /// <summary>Decodes one RTM_NEWLINK payload.</summary>
    /// <exception cref="NetlinkFormatException">Truncated, or without a name.</exception>
    internal static Link Parse(ReadOnlySpan<byte> payload)
    {
        var info = IfInfoMsg.Read(payload);
        string? name = null;
        string? kind = null;
        MacAddress? mac = null;
        LinkCounters? counters = null;
        int? peer = null;
        int? peerNamespace = null;
        var mtu = 0;
        var attributes = new RtAttrReader(payload[IfInfoMsg.Size..]);
        while (attributes.TryRead(out var attribute))
        {
            switch (attribute.Type)
            {
                case IFLA_IFNAME:
                    name = attribute.AsString();
                    break;
                case IFLA_ADDRESS when attribute.Payload.Length == MacAddress.Size:
                    mac = new MacAddress(attribute.Payload);
                    break;
                case IFLA_MTU:
                    mtu = attribute.AsInt32();
                    break;
                case IFLA_LINK:
                    peer = attribute.AsInt32();
                    break;
                case IFLA_LINK_NETNSID:
                    peerNamespace = attribute.AsInt32();
                    break;
                case IFLA_STATS64:
                    counters = LinkDump.ParseCounters(attribute.Payload, info.Index);
                    break;
                case IFLA_LINKINFO:
                    var linkInfo = new RtAttrReader(attribute.Payload);
                    while (linkInfo.TryRead(out var item))
                    {
                        if (item.Type == IFLA_INFO_KIND)
                        {
                            kind = item.AsString();
                        }
                    }
                    break;
            }
        }

        if (name is null)
        {
            throw new NetlinkFormatException($"link {info.Index}: no IFLA_IFNAME attribute");
        }

        return new Link(info.Index, name, info.Flags, mtu, mac, kind, counters, peer, peerNamespace);
    }
}
