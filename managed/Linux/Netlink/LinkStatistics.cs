namespace NetIsolator.Linux.Netlink;

/// <summary>
/// The first eight counters of struct rtnl_link_stats64 (IFLA_STATS64), in kernel order. 64-bit, so they do not
/// wrap as the 32-bit rtnl_link_stats that getifaddrs reports (and Mesos sums) do.
/// </summary>
public readonly record struct LinkCounters(
    ulong RxPackets,
    ulong TxPackets,
    ulong RxBytes,
    ulong TxBytes,
    ulong RxErrors,
    ulong TxErrors,
    ulong RxDropped,
    ulong TxDropped)
{
    /// <summary>Bytes of the eight counters read.</summary>
    public const int Size = 8 * sizeof(ulong);

    /// <summary>
    /// The counters as the other end of a veth pair sees them: what one end transmits the other receives (errors and
    /// drops included, as Mesos reports a container's usage from its host-side veth).
    /// </summary>
    public LinkCounters AsSeenFromPeer() =>
        new(TxPackets, RxPackets, TxBytes, RxBytes, TxErrors, RxErrors, TxDropped, RxDropped);

    public static LinkCounters operator +(LinkCounters a, LinkCounters b) => new(
        a.RxPackets + b.RxPackets,
        a.TxPackets + b.TxPackets,
        a.RxBytes + b.RxBytes,
        a.TxBytes + b.TxBytes,
        a.RxErrors + b.RxErrors,
        a.TxErrors + b.TxErrors,
        a.RxDropped + b.RxDropped,
        a.TxDropped + b.TxDropped);
}

/// <summary>One link of an RTM_GETLINK dump: ifindex, name, and counters when the kernel sent IFLA_STATS64.</summary>
public sealed record LinkStatistics(int Index, string Name, LinkCounters? Counters);
