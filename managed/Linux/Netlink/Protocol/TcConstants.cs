namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>
/// Traffic-control numbers (&lt;linux/rtnetlink.h&gt;, &lt;linux/pkt_sched.h&gt;, &lt;linux/pkt_cls.h&gt;,
/// &lt;linux/gen_stats.h&gt;, &lt;linux/tc_act/tc_mirred.h&gt;, &lt;linux/tc_act/tc_gact.h&gt;, &lt;linux/if_ether.h&gt;).
/// </summary>
public static class TcConstants
{
    public const ushort RTM_NEWQDISC = 36;
    public const ushort RTM_DELQDISC = 37;
    public const ushort RTM_GETQDISC = 38;
    public const ushort RTM_NEWTCLASS = 40;
    public const ushort RTM_DELTCLASS = 41;
    public const ushort RTM_GETTCLASS = 42;
    public const ushort RTM_NEWTFILTER = 44;
    public const ushort RTM_DELTFILTER = 45;
    public const ushort RTM_GETTFILTER = 46;

    // TCA_* attributes after struct tcmsg.
    public const ushort TCA_KIND = 1;
    public const ushort TCA_OPTIONS = 2;
    public const ushort TCA_STATS = 3;
    public const ushort TCA_STATS2 = 7;
    public const ushort TCA_CHAIN = 11;

    // Special handles: the root of a link's egress, the ingress hook's parent.
    public const uint TC_H_UNSPEC = 0;
    public const uint TC_H_ROOT = 0xFFFFFFFF;
    public const uint TC_H_INGRESS = 0xFFFFFFF1;

    // Ethernet protocols, as a filter's protocol (the kernel wants them in network order inside tcm_info).
    public const ushort ETH_P_ALL = 0x0003;
    public const ushort ETH_P_IP = 0x0800;
    public const ushort ETH_P_ARP = 0x0806;
    public const ushort ETH_P_IPV6 = 0x86DD;

    // TCA_STATS2 nest (struct gnet_stats_*).
    public const ushort TCA_STATS_BASIC = 1;
    public const ushort TCA_STATS_RATE_EST = 2;
    public const ushort TCA_STATS_QUEUE = 3;
    public const ushort TCA_STATS_RATE_EST64 = 5;
    public const ushort TCA_STATS_PKT64 = 8;

    // u32 classifier.
    public const ushort TCA_U32_CLASSID = 1;
    public const ushort TCA_U32_HASH = 2;
    public const ushort TCA_U32_LINK = 3;
    public const ushort TCA_U32_DIVISOR = 4;
    public const ushort TCA_U32_SEL = 5;
    public const ushort TCA_U32_ACT = 7;
    public const byte TC_U32_TERMINAL = 1;

    // basic and matchall classifiers.
    public const ushort TCA_BASIC_CLASSID = 1;
    public const ushort TCA_BASIC_ACT = 3;
    public const ushort TCA_MATCHALL_CLASSID = 1;
    public const ushort TCA_MATCHALL_ACT = 2;

    // Actions: one nest per action, numbered from 1 (its order), at most TCA_ACT_MAX_PRIO per filter.
    public const ushort TCA_ACT_KIND = 1;
    public const ushort TCA_ACT_OPTIONS = 2;
    public const int TCA_ACT_MAX_PRIO = 32;
    public const ushort TCA_MIRRED_PARMS = 2;
    public const ushort TCA_GACT_PARMS = 2;

    // Verdicts (TC_ACT_*).
    public const int TC_ACT_UNSPEC = -1;
    public const int TC_ACT_OK = 0;
    public const int TC_ACT_RECLASSIFY = 1;
    public const int TC_ACT_SHOT = 2;
    public const int TC_ACT_PIPE = 3;
    public const int TC_ACT_STOLEN = 4;

    // mirred's eaction.
    public const int TCA_EGRESS_REDIR = 1;
    public const int TCA_EGRESS_MIRROR = 2;
    public const int TCA_INGRESS_REDIR = 3;
    public const int TCA_INGRESS_MIRROR = 4;

    // htb.
    public const ushort TCA_HTB_PARMS = 1;
    public const ushort TCA_HTB_INIT = 2;
    public const ushort TCA_HTB_RATE64 = 6;
    public const ushort TCA_HTB_CEIL64 = 7;

    /// <summary>struct tc_htb_glob.version (TC_HTB_PROTOVER): HTB refuses any other.</summary>
    public const uint HTB_PROTOCOL_VERSION = 3;

    /// <summary>tc_ratespec.linklayer: with a link layer set, the kernel computes transmit times itself and needs no rate table.</summary>
    public const byte TC_LINKLAYER_ETHERNET = 1;

    /// <summary>PSCHED_SHIFT: HTB's buffer and cbuffer are in ticks of 2^6 = 64 ns.</summary>
    public const int PSCHED_SHIFT = 6;

    // Sizes of the fixed structures.
    public const int TcGenSize = 20;        // struct tc_gen: index, capab, action, refcnt, bindcnt
    public const int TcMirredSize = 28;     // tc_gen + eaction + ifindex
    public const int TcU32SelSize = 16;     // struct tc_u32_sel without keys
    public const int TcU32KeySize = 16;     // struct tc_u32_key
    public const int TcRateSpecSize = 12;   // struct tc_ratespec
    public const int TcHtbOptSize = 44;     // struct tc_htb_opt
    public const int TcHtbGlobSize = 20;    // struct tc_htb_glob
    public const int TcPrioQoptSize = 20;   // struct tc_prio_qopt
    public const int TcFifoQoptSize = 4;    // struct tc_fifo_qopt
}
