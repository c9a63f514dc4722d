using System.Net;
using System.Net.Sockets;
using NetIsolator.Linux.Netlink.Protocol;
using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;

namespace NetIsolator.Linux.Netlink.Route;

/// <summary>An address on a link (<c>ip addr show</c>): <c>10.0.0.2/24</c> on ifindex 2.</summary>
/// <param name="Label">IFA_LABEL (IPv4 only; the link name or an alias such as <c>eth0:1</c>).</param>
public sealed record InterfaceAddress(int LinkIndex, IPAddress Address, int PrefixLength, string? Label = null)
{
    public override string ToString() => $"{Address}/{PrefixLength}";
}

/// <summary><c>ip addr</c> over a <see cref="NetlinkSocket"/>: add, delete, dump, in the socket's namespace.</summary>
public static class AddressOperations
{
    /// <summary>
    /// <c>ip addr add ADDRESS/PREFIX dev LINK</c> (no broadcast, as that command). Returns false if the link already
    /// has this address (EEXIST). The prefix route of the subnet comes with it (the kernel adds it when the link is up).
    /// </summary>
    public static bool AddAddress(this NetlinkSocket socket, LinkId link, IPAddress address, int prefixLength)
    {
        var index = ResolveIndex(socket, link);
        return socket.TryExecute(
            AddressRequest(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, index, address, prefixLength),
            $"adding address {address}/{prefixLength} to link {link}",
            Errno.EEXIST) == 0;
    }

    /// <summary><c>ip addr del ADDRESS/PREFIX dev LINK</c>; false if the link has no such address (EADDRNOTAVAIL).</summary>
    public static bool DeleteAddress(this NetlinkSocket socket, LinkId link, IPAddress address, int prefixLength)
    {
        var index = ResolveIndex(socket, link);
        return socket.TryExecute(
            AddressRequest(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, index, address, prefixLength),
            $"deleting address {address}/{prefixLength} from link {link}",
            Errno.EADDRNOTAVAIL) == 0;
    }

    /// <summary>
    /// <c>ip -4 addr show [dev LINK]</c>: the namespace's addresses of <paramref name="family"/>, in kernel order
    /// (per link, primary before secondary), optionally of one ifindex only.
    /// </summary>
    public static IReadOnlyList<InterfaceAddress> GetAddresses(this NetlinkSocket socket, AddressFamily family = AddressFamily.InterNetwork, int? linkIndex = null)
    {
        var request = new NetlinkMessageBuilder(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP);
        new IfAddrMsg(ToNetlink(family), 0, 0, 0, 0).Write(request.Reserve(IfAddrMsg.Size));
        var all = socket.Dump(request, "dumping addresses", static (in NlMsgHeader header, ReadOnlySpan<byte> payload) =>
            header.Type == RTM_NEWADDR ? Parse(payload) : null);
        return linkIndex is { } index ? all.Where(a => a.LinkIndex == index).ToList() : all;
    }

    /// <summary>
    /// RTM_NEWADDR/RTM_DELADDR: ifaddrmsg (scope universe) with IFA_LOCAL and IFA_ADDRESS both the address: on a
    /// broadcast link IFA_LOCAL is the interface's own address and IFA_ADDRESS the same (it would be the remote
    /// end's only on a point-to-point link).
    /// </summary>
    internal static NetlinkMessageBuilder AddressRequest(ushort type, ushort flags, int index, IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, bits);
        var request = new NetlinkMessageBuilder(type, flags);
        new IfAddrMsg(ToNetlink(address.AddressFamily), (byte)prefixLength, 0, RT_SCOPE_UNIVERSE, index).Write(request.Reserve(IfAddrMsg.Size));
        var bytes = address.GetAddressBytes();
        request.Add(IFA_LOCAL, bytes);
        request.Add(IFA_ADDRESS, bytes);
        return request;
    }

    internal static InterfaceAddress? Parse(ReadOnlySpan<byte> payload)
    {
        var message = IfAddrMsg.Read(payload);
        IPAddress? local = null;
        IPAddress? address = null;
        string? label = null;
        var attributes = new RtAttrReader(payload[IfAddrMsg.Size..]);
        while (attributes.TryRead(out var attribute))
        {
            switch (attribute.Type)
            {
                case IFA_LOCAL:
                    local = new IPAddress(attribute.Payload);
                    break;
                case IFA_ADDRESS:
                    address = new IPAddress(attribute.Payload);
                    break;
                case IFA_LABEL:
                    label = attribute.AsString();
                    break;
            }
        }

        // IPv4 reports the interface's own address as IFA_LOCAL; IPv6 only sends IFA_ADDRESS.
        return (local ?? address) is { } own ? new InterfaceAddress(message.Index, own, message.PrefixLength, label) : null;
    }

    internal static byte ToNetlink(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => AF_INET,
        AddressFamily.InterNetworkV6 => AF_INET6,
        AddressFamily.Unspecified => AF_UNSPEC,
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "only IPv4 and IPv6"),
    };

    /// <summary>The ifindex of <paramref name="link"/>, looked up when only its name is known.</summary>
    internal static int ResolveIndex(NetlinkSocket socket, LinkId link) =>
        link.HasIndex ? link.Index : socket.RequireLink(link).Index;
}
