using static NetIsolator.Linux.Netlink.Protocol.NetlinkConstants;

namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>
/// <c>ip link show</c> on the wire: the RTM_GETLINK dump request, and a parser for the answer, fed one datagram at
/// a time until NLMSG_DONE.
/// </summary>
public static class LinkDump
{
    /// <summary>nlmsghdr + ifinfomsg.</summary>
    public const int RequestSize = NlMsgHeader.Size + IfInfoMsg.Size;

    /// <summary>RTM_GETLINK with NLM_F_REQUEST|NLM_F_DUMP, family AF_UNSPEC, port id 0 (the kernel fills in ours).</summary>
    public static NetlinkMessageBuilder Request()
    {
        var request = new NetlinkMessageBuilder(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, RequestSize);
        new IfInfoMsg(AF_UNSPEC, 0, 0, 0, 0).Write(request.Reserve(IfInfoMsg.Size));
        return request;
    }

    /// <summary><see cref="Request"/>'s bytes with <paramref name="sequence"/> stamped in.</summary>
    public static byte[] BuildRequest(uint sequence) => Request().ToArray(sequence);

    /// <summary>
    /// Decodes one RTM_NEWLINK payload (ifinfomsg + attributes) into index, IFLA_IFNAME and IFLA_STATS64.
    /// </summary>
    /// <exception cref="NetlinkFormatException">Truncated fixed part or attributes, a missing name, short stats.</exception>
    public static LinkStatistics ParseLink(ReadOnlySpan<byte> payload)
    {
        var info = IfInfoMsg.Read(payload);
        string? name = null;
        LinkCounters? counters = null;
        var attributes = new RtAttrReader(payload[IfInfoMsg.Size..]);
        while (attributes.TryRead(out var attribute))
        {
            switch (attribute.Type)
            {
                case IFLA_IFNAME:
                    name = attribute.AsString();
                    break;
                case IFLA_STATS64:
                    counters = ParseCounters(attribute.Payload, info.Index);
                    break;
            }
        }

        return name is null
            ? throw new NetlinkFormatException($"link {info.Index}: no IFLA_IFNAME attribute")
            : new LinkStatistics(info.Index, name, counters);
    }

    internal static LinkCounters ParseCounters(ReadOnlySpan<byte> stats, int index)
    {
        if (stats.Length < LinkCounters.Size)
        {
            throw new NetlinkFormatException($"link {index}: IFLA_STATS64 has {stats.Length} bytes, at least {LinkCounters.Size} expected");
        }

        return new LinkCounters(
            NativeEndian.ReadUInt64(stats),
            NativeEndian.ReadUInt64(stats[8..]),
            NativeEndian.ReadUInt64(stats[16..]),
            NativeEndian.ReadUInt64(stats[24..]),
            NativeEndian.ReadUInt64(stats[32..]),
            NativeEndian.ReadUInt64(stats[40..]),
            NativeEndian.ReadUInt64(stats[48..]),
            NativeEndian.ReadUInt64(stats[56..]));
    }
}

/// <summary>
/// Collects the answer to one link dump (one sequence number), over <see cref="NetlinkReplyParser"/>. Messages of
/// another sequence (left over from an earlier, abandoned request on the same socket) are skipped.
/// </summary>
public sealed class LinkDumpParser(uint sequence)
{
    private readonly NetlinkReplyParser _reply = new(sequence, dump: true);
    private readonly List<LinkStatistics> _links = [];

    public uint Sequence => _reply.Sequence;

    /// <summary>The links seen so far, in dump order.</summary>
    public IReadOnlyList<LinkStatistics> Links => _links;

    /// <summary>NLMSG_DONE was seen: the dump is complete.</summary>
    public bool Done => _reply.Done;

    /// <summary>
    /// A message carried NLM_F_DUMP_INTR: the link table changed during the dump, which may therefore be
    /// inconsistent; the caller should dump again.
    /// </summary>
    public bool Interrupted => _reply.Interrupted;

    /// <summary>Parses one datagram; returns <see cref="Done"/>.</summary>
    /// <exception cref="NetlinkFormatException">A truncated or malformed message.</exception>
    /// <exception cref="NetlinkException">The kernel answered NLMSG_ERROR (or NLMSG_DONE) with an errno.</exception>
    public bool Feed(ReadOnlySpan<byte> datagram)
    {
        var links = _links;
        _reply.Feed(datagram, (in NlMsgHeader header, ReadOnlySpan<byte> payload) =>
        {
            if (header.Type == RTM_NEWLINK)
            {
                links.Add(LinkDump.ParseLink(payload));
            }
        });
        return _reply.Error != 0
            ? throw new NetlinkException(_reply.Error, "netlink RTM_GETLINK dump", _reply.KernelMessage)
            : _reply.Done;
    }
}
