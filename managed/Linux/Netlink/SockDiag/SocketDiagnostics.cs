using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NetIsolator.Linux.Netlink.Protocol;
using NetIsolator.Linux.Netlink.Route;
using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;
using static NetIsolator.Linux.Netlink.Protocol.SockDiagConstants;

namespace NetIsolator.Linux.Netlink.SockDiag;

/// <summary>TCP states, as the kernel numbers them (TCP_ESTABLISHED = 1 ... TCP_CLOSING = 11).</summary>
public enum TcpState : byte
{
    Established = 1,
    SynSent = 2,
    SynReceived = 3,
    FinWait1 = 4,
    FinWait2 = 5,
    TimeWait = 6,
    Close = 7,
    CloseWait = 8,
    LastAck = 9,
    Listen = 10,
    Closing = 11,
}

/// <summary>The parts of struct tcp_info the statistics use: smoothed RTT and its variance (µs), congestion window (segments), retransmissions.</summary>
public sealed record TcpInfo(uint RttMicroseconds, uint RttVarianceMicroseconds, uint CongestionWindow, byte Retransmits, uint TotalRetransmissions);

/// <summary>One TCP socket of an inet_diag dump (<c>ss -tni</c>).</summary>
/// <param name="Info">tcp_info; null for sockets that have none (TIME_WAIT and request sockets).</param>
public sealed record TcpSocket(TcpState State, IPEndPoint Local, IPEndPoint Remote, uint Inode, uint Uid, uint ReceiveQueue, uint SendQueue, TcpInfo? Info);

/// <summary>
/// inet_diag over a <see cref="NetlinkFamily.SockDiag"/> socket: the TCP sockets of the socket's namespace, with
/// tcp_info (what <c>ss -tni</c> shows, and what Mesos's <c>statistics</c> helper reads for RTT percentiles).
/// </summary>
public static class SocketDiagnostics
{
    /// <summary>
    /// Every TCP socket of <paramref name="family"/> whose state is in <paramref name="states"/> (none = all), with
    /// tcp_info when <paramref name="withInfo"/>. One dump; the kernel filters by state.
    /// </summary>
    /// <exception cref="InvalidOperationException">The socket is not a <see cref="NetlinkFamily.SockDiag"/> socket.</exception>
    public static IReadOnlyList<TcpSocket> GetTcpSockets(this NetlinkSocket socket, AddressFamily family = AddressFamily.InterNetwork, bool withInfo = true, params TcpState[] states)
    {
        if (socket.Family != NetlinkFamily.SockDiag)
        {
            throw new InvalidOperationException($"inet_diag needs a NETLINK_SOCK_DIAG socket; {socket} is {socket.Family}");
        }

        return socket.Dump(Request(family, withInfo, states), $"dumping TCP sockets ({family})", Parse);
    }

    /// <summary>nlmsghdr (SOCK_DIAG_BY_FAMILY, REQUEST|DUMP) + inet_diag_req_v2 (TCP, ext, states bitmask, zero sockid).</summary>
    internal static NetlinkMessageBuilder Request(AddressFamily family, bool withInfo, IReadOnlyCollection<TcpState> states)
    {
        var request = new NetlinkMessageBuilder(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 64);
        var body = request.Reserve(InetDiagReqV2Size);
        body[0] = AddressOperations.ToNetlink(family);
        body[1] = IPPROTO_TCP;
        body[2] = withInfo ? (byte)(1 << (INET_DIAG_INFO - 1)) : (byte)0;
        var mask = states.Count == 0 ? uint.MaxValue : states.Aggregate(0u, (bits, state) => bits | (1u << (int)state));
        NativeEndian.WriteUInt32(body[4..], mask);
        return request;
    }

    internal static TcpSocket? Parse(in NlMsgHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Type != SOCK_DIAG_BY_FAMILY)
        {
            return null;
        }

        if (payload.Length < InetDiagMsgSize)
        {
            throw new NetlinkFormatException($"truncated inet_diag_msg: {payload.Length} of {InetDiagMsgSize} bytes");
        }

        var family = payload[0];
        var addressLength = family == AF_INET6 ? 16 : 4;
        var local = new IPEndPoint(new IPAddress(payload.Slice(8, addressLength)), BinaryPrimitives.ReadUInt16BigEndian(payload[4..]));
        var remote = new IPEndPoint(new IPAddress(payload.Slice(24, addressLength)), BinaryPrimitives.ReadUInt16BigEndian(payload[6..]));
        TcpInfo? info = null;
        var attributes = new RtAttrReader(payload[InetDiagMsgSize..]);
        while (attributes.TryRead(out var attribute))
        {
            if (attribute.Type == INET_DIAG_INFO && attribute.Payload.Length >= TcpInfoTotalRetransOffset + 4)
            {
                var tcp = attribute.Payload;
                info = new TcpInfo(
                    NativeEndian.ReadUInt32(tcp[TcpInfoRttOffset..]),
                    NativeEndian.ReadUInt32(tcp[TcpInfoRttVarOffset..]),
                    NativeEndian.ReadUInt32(tcp[TcpInfoSndCwndOffset..]),
                    tcp[TcpInfoRetransmitsOffset],
                    NativeEndian.ReadUInt32(tcp[TcpInfoTotalRetransOffset..]));
            }
        }

        return new TcpSocket(
            (TcpState)payload[1],
            local,
            remote,
            NativeEndian.ReadUInt32(payload[68..]),
            NativeEndian.ReadUInt32(payload[64..]),
            NativeEndian.ReadUInt32(payload[56..]),
            NativeEndian.ReadUInt32(payload[60..]),
            info);
    }
}
