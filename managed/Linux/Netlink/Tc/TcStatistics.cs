using NetIsolator.Linux.Netlink.Protocol;
using static NetIsolator.Linux.Netlink.Protocol.TcConstants;

namespace NetIsolator.Linux.Netlink.Tc;

/// <summary>
/// A qdisc's or class's counters (TCA_STATS2: gnet_stats_basic, gnet_stats_queue, the rate estimator), under the
/// names Mesos (via libnl) reports them: <c>bytes packets drops overlimits requeues qlen backlog rate_bps rate_pps</c>.
/// The rates are 0 unless a rate estimator is attached (<c>tc ... estimator</c>), as the kernel reports them.
/// </summary>
public sealed record TcStatistics(
    ulong Bytes,
    ulong Packets,
    uint Drops,
    uint Overlimits,
    uint Requeues,
    uint Qlen,
    uint Backlog,
    ulong RateBps,
    ulong RatePps)
{
    /// <summary>Decodes a TCA_STATS2 nest.</summary>
    internal static TcStatistics Parse(ReadOnlySpan<byte> stats2)
    {
        ulong bytes = 0, packets = 0, bps = 0, pps = 0;
        uint qlen = 0, backlog = 0, drops = 0, requeues = 0, overlimits = 0;
        ulong? packets64 = null;
        var reader = new RtAttrReader(stats2);
        while (reader.TryRead(out var attribute))
        {
            switch (attribute.Type)
            {
                case TCA_STATS_BASIC:
                    // struct gnet_stats_basic { u64 bytes; u32 packets; } (12 bytes of data, padded to 16)
                    var basic = attribute.AtLeast(12, "gnet_stats_basic");
                    bytes = NativeEndian.ReadUInt64(basic);
                    packets = NativeEndian.ReadUInt32(basic[8..]);
                    break;
                case TCA_STATS_PKT64:
                    packets64 = attribute.AsUInt64();
                    break;
                case TCA_STATS_QUEUE:
                    var queue = attribute.AtLeast(20, "gnet_stats_queue");
                    qlen = NativeEndian.ReadUInt32(queue);
                    backlog = NativeEndian.ReadUInt32(queue[4..]);
                    drops = NativeEndian.ReadUInt32(queue[8..]);
                    requeues = NativeEndian.ReadUInt32(queue[12..]);
                    overlimits = NativeEndian.ReadUInt32(queue[16..]);
                    break;
                case TCA_STATS_RATE_EST when bps == 0 && pps == 0:
                    var rate = attribute.AtLeast(8, "gnet_stats_rate_est");
                    bps = NativeEndian.ReadUInt32(rate);
                    pps = NativeEndian.ReadUInt32(rate[4..]);
                    break;
                case TCA_STATS_RATE_EST64:
                    var rate64 = attribute.AtLeast(16, "gnet_stats_rate_est64");
                    bps = NativeEndian.ReadUInt64(rate64);
                    pps = NativeEndian.ReadUInt64(rate64[8..]);
                    break;
            }
        }

        return new TcStatistics(bytes, packets64 ?? packets, drops, overlimits, requeues, qlen, backlog, bps, pps);
    }
}
