using NetIsolator.Bridge;
using NetIsolator.Linux;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Protocol;

namespace NetIsolator.Isolators.Cni;

/// <summary>The interface counters of a container's pinned network namespace, for <see cref="CniIsolator.UsageAsync"/>.</summary>
internal static class CniUsage
{
    /// <summary>
    /// Opens the pin, opens a netlink socket inside it, dumps the links and sums the counters of those named in
    /// <paramref name="interfaces"/>; null when none of them exists (or none carried counters). Both fds are closed
    /// before it returns.
    /// </summary>
    /// <exception cref="IsolatorException">The pin cannot be opened, or the dump failed; the message starts with <paramref name="step"/>.</exception>
    public static LinkCounters? Read(string pin, IReadOnlySet<string> interfaces, string step)
    {
        IReadOnlyList<LinkStatistics> links;
        try
        {
            using var ns = NetworkNamespace.Open(pin);
            using var socket = NetlinkSocket.OpenIn(ns);
            links = socket.DumpLinks();
        }
        catch (Exception e) when (e is IOException or NetlinkFormatException)
        {
            throw new IsolatorException($"{step}: reading the interface counters in '{pin}': {e.Message}", e);
        }

        LinkCounters? sum = null;
        foreach (var link in links)
        {
            if (interfaces.Contains(link.Name) && link.Counters is { } counters)
            {
                sum = sum is { } total ? total + counters : counters;
            }
        }

        return sum;
    }
}
