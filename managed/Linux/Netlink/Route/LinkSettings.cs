using NetIsolator.Linux.Netlink.Protocol;
using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;

namespace NetIsolator.Linux.Netlink.Route;

/// <summary>
/// <c>ip link set LINK [address MAC] [mtu MTU] [up]</c> as ONE RTM_SETLINK: the kernel's do_setlink applies the
/// address, then the MTU, then the flags, in one call. Where a link needs several of these (every container's
/// loopback and eth0), one request does what <see cref="LinkOperations.SetMacAddress"/>,
/// <see cref="LinkOperations.SetMtu"/> and <see cref="LinkOperations.SetLinkUp"/> do in three.
/// </summary>
public static class LinkSettings
{
    /// <exception cref="ArgumentException">The MAC is a group (multicast) address, or the MTU is not positive.</exception>
    /// <exception cref="NetlinkException">The kernel refused (ENODEV: no such link; EADDRNOTAVAIL, EINVAL: a bad value).</exception>
    public static void SetLink(this NetlinkSocket socket, LinkId link, MacAddress? mac = null, int? mtu = null, bool up = false)
    {
        ArgumentNullException.ThrowIfNull(socket);
        socket.Execute(SetLinkRequest(link, mac, mtu, up), $"setting{(mac is { } m ? $" MAC {m}" : "")}{(mtu is { } u ? $" MTU {u}" : "")}{(up ? " up" : "")} on link {link}");
    }

    /// <summary>The request: ifinfomsg with IFF_UP in flags and change when <paramref name="up"/>, then the attributes.</summary>
    internal static NetlinkMessageBuilder SetLinkRequest(LinkId link, MacAddress? mac, int? mtu, bool up)
    {
        if (mac is { IsMulticast: true } group)
        {
            throw new ArgumentException($"link {link}: {group} is a multicast address; an interface cannot take it", nameof(mac));
        }

        if (mtu is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(mtu), mtu, $"link {link}: the MTU must be positive");
        }

        var request = new NetlinkMessageBuilder(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
        new IfInfoMsg(AF_UNSPEC, 0, link.Index, up ? IFF_UP : 0, up ? IFF_UP : 0).Write(request.Reserve(IfInfoMsg.Size));
        if (!link.HasIndex)
        {
            request.AddString(IFLA_IFNAME, link.Name!);
        }

        if (mac is { } address)
        {
            request.Add(IFLA_ADDRESS, address.ToArray());
        }

        if (mtu is { } value)
        {
            request.AddU32(IFLA_MTU, (uint)value);
        }

        return request;
    }
}
