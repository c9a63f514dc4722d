using System.Globalization;
using NetIsolator.Cni.Config;
using NetIsolator.PortMapper.Iptables;
using NetIsolator.PortMapper.Rules;

namespace NetIsolator.PortMapper.Host;

/// <summary>
/// Deletes the conntrack entries of UDP flows to mapped host ports, with the <c>conntrack</c> tool. UDP has no
/// handshake: a client that sent to hostIP:H before the mapping existed (or to the previous container, before a DEL)
/// keeps matching its old entry, which was never DNATed (or points at the old address), and its datagrams vanish
/// until the entry expires. Flushing on ADD and on DEL makes the next datagram take the current rules. Best effort,
/// as in portmap: a failure is reported on stderr and does not fail the call.
/// </summary>
public static class ConntrackFlush
{
    public static void DeleteUdp(IpFamily family, IReadOnlyList<int> hostPorts, string? searchPath, TextWriter log)
    {
        if (hostPorts.Count == 0)
        {
            return;
        }

        var conntrack = PluginPath.TryFind("conntrack", searchPath);
        if (conntrack is null)
        {
            log.WriteLine($"mesos-cni-port-mapper: conntrack not found in PATH; UDP entries for host ports {string.Join(',', hostPorts)} were not flushed");
            return;
        }

        foreach (var port in hostPorts)
        {
            string[] arguments = ["-D", "-f", family == IpFamily.V4 ? "ipv4" : "ipv6", "-p", "udp", "--orig-port-dst", port.ToString(CultureInfo.InvariantCulture)];
            try
            {
                var result = ToolRunner.Run(conntrack, arguments, timeLimit: TimeSpan.FromSeconds(10));
                // It exits 1 when nothing matched: "0 flow entries have been deleted".
                if (result.ExitCode != 0 && !result.Stderr.Contains(" 0 flow entries", StringComparison.Ordinal))
                {
                    log.WriteLine($"mesos-cni-port-mapper: {ToolRunner.Describe(conntrack, arguments)} exited {result.ExitCode}: {result.Stderr}");
                }
            }
            catch (ToolException e)
            {
                log.WriteLine($"mesos-cni-port-mapper: {e.Message}");
            }
        }
    }
}
