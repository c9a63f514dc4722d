namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>The netlink and rtnetlink numbers this layer uses (&lt;linux/netlink.h&gt;, &lt;linux/rtnetlink.h&gt;, &lt;linux/if_link.h&gt;).</summary>
public static class NetlinkConstants
{
    // nlmsg_type values every family shares.
    public const ushort NLMSG_NOOP = 1;
    public const ushort NLMSG_ERROR = 2;
    public const ushort NLMSG_DONE = 3;

    // nlmsg_flags.
    public const ushort NLM_F_REQUEST = 0x1;
    public const ushort NLM_F_MULTI = 0x2;
    public const ushort NLM_F_ACK = 0x4;
    public const ushort NLM_F_DUMP_INTR = 0x10;
    public const ushort NLM_F_ROOT = 0x100;
    public const ushort NLM_F_MATCH = 0x200;
    public const ushort NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;

    // rtnetlink message types.
    public const ushort RTM_NEWLINK = 16;
    public const ushort RTM_GETLINK = 18;

    // IFLA_* attributes of a link message.
    public const ushort IFLA_IFNAME = 3;
    public const ushort IFLA_STATS64 = 23;

    /// <summary>rtattr.rta_type: the high bits are flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER), not the type.</summary>
    public const ushort NLA_TYPE_MASK = 0x3fff;

    public const byte AF_UNSPEC = 0;
}
