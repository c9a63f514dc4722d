using Mesos;
using NetIsolator.Linux.Netlink;

namespace NetIsolator.Isolators;

/// <summary>A container's interface counters in Mesos's <c>ResourceStatistics</c>.</summary>
internal static class NetworkUsage
{
    /// <summary>Sets the eight net_rx_* / net_tx_* fields, as the container sees its traffic.</summary>
    public static void Fill(ResourceStatistics statistics, LinkCounters counters)
    {
        statistics.NetRxPackets = counters.RxPackets;
        statistics.NetRxBytes = counters.RxBytes;
        statistics.NetRxErrors = counters.RxErrors;
        statistics.NetRxDropped = counters.RxDropped;
        statistics.NetTxPackets = counters.TxPackets;
        statistics.NetTxBytes = counters.TxBytes;
        statistics.NetTxErrors = counters.TxErrors;
        statistics.NetTxDropped = counters.TxDropped;
    }
}
