namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>Socket-diagnostics numbers (&lt;linux/sock_diag.h&gt;, &lt;linux/inet_diag.h&gt;, &lt;netinet/in.h&gt;).</summary>
public static class SockDiagConstants
{
    /// <summary>The one request type of NETLINK_SOCK_DIAG: "sockets of this family" (the request says which protocol).</summary>
    public const ushort SOCK_DIAG_BY_FAMILY = 20;

    public const byte IPPROTO_TCP = 6;

    /// <summary>The INET_DIAG_INFO attribute (struct tcp_info for TCP), asked for with bit INET_DIAG_INFO - 1 of the request's ext.</summary>
    public const ushort INET_DIAG_INFO = 2;

    /// <summary>struct inet_diag_sockid: be16 sport, dport; be32 src[4], dst[4]; u32 if; u32 cookie[2].</summary>
    public const int InetDiagSockIdSize = 48;

    /// <summary>struct inet_diag_req_v2: u8 family, protocol, ext, pad; u32 states; inet_diag_sockid.</summary>
    public const int InetDiagReqV2Size = 56;

    /// <summary>struct inet_diag_msg: u8 family, state, timer, retrans; inet_diag_sockid; u32 expires, rqueue, wqueue, uid, inode.</summary>
    public const int InetDiagMsgSize = 72;

    // Offsets into struct tcp_info (stable ABI: fields are only ever appended).
    public const int TcpInfoRetransmitsOffset = 2;
    public const int TcpInfoRttOffset = 68;
    public const int TcpInfoRttVarOffset = 72;
    public const int TcpInfoSndCwndOffset = 80;
    public const int TcpInfoTotalRetransOffset = 100;
}
