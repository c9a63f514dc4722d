using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NetIsolator.Isolators.PortMappingIsolation;
using NetIsolator.Isolators.PortMappingIsolation.Kernel;
using NetIsolator.Isolators.PortMappingIsolation.Plan;
using NetIsolator.Isolators.PortMappingIsolation.Statistics;
using NetIsolator.Linux;
using NetIsolator.Linux.Netlink.Tc;

namespace NetIsolator.Helpers.PortMapping;

/// <summary>A failure a port-mapping subcommand reports on stderr before exiting 1.</summary>
internal sealed class PortMappingHelperException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Mesos's <c>mesos-network-helper</c> subcommands for <c>network/port_mapping</c> (reference §4), with its names,
/// flags, JSON and exit codes: <c>update</c> (a container's own port filters and egress shaping), <c>statistics</c>
/// (its socket, snmp and shaping counters as ResourceStatistics JSON) and <c>htb_config</c> (its egress shaping).
/// Each joins the container's network namespace through <c>/proc/&lt;pid&gt;/ns/net</c> and does the work over
/// netlink, with the same plan pieces the isolator uses. The isolator itself does all of this in-process; these
/// exist for command lines and tools written against Mesos.
/// </summary>
public static class PortMappingSubcommands
{
    public const string Update = "update";
    public const string Statistics = "statistics";
    public const string HtbConfigName = "htb_config";

    /// <summary>
    /// Flags not on the command line are read from variables with this prefix (the helper's name, as Mesos's
    /// subcommand flags take theirs).
    /// </summary>
    public const string EnvironmentPrefix = "MESOS_NETWORK_HELPER_";

    private static readonly FlagDefinition Help = new("help", FlagKind.Boolean, "Print this usage and exit.");
    private static readonly FlagDefinition Eth0 = new("eth0_name", FlagKind.String, "The container's public interface (named as the host's).");
    private static readonly FlagDefinition Pid = new("pid", FlagKind.String, "Pid of a process in the container's network namespace.");

    public static readonly IReadOnlyList<FlagDefinition> UpdateFlags =
    [
        Eth0,
        Help,
        new("htb_config", FlagKind.String, "Egress shaping, JSON {\"rate\":N[,\"ceil\":N][,\"burst\":N]} in bytes; {} removes it."),
        new("lo_name", FlagKind.String, "The container's loopback (named as the host's)."),
        Pid,
        new("ports_to_add", FlagKind.String, "Port ranges to add, JSON {\"range\":[{\"begin\":B,\"end\":E},...]}."),
        new("ports_to_remove", FlagKind.String, "Port ranges to remove, same JSON."),
    ];

    public static readonly IReadOnlyList<FlagDefinition> StatisticsFlags =
    [
        new("enable_snmp_statistics", FlagKind.Boolean, "Include /proc/net/snmp (Ip, Icmp, Tcp, Udp)."),
        new("enable_socket_statistics_details", FlagKind.Boolean, "Include TCP RTT percentiles (inet_diag)."),
        new("enable_socket_statistics_summary", FlagKind.Boolean, "Include TCP in-use and TIME_WAIT counts (/proc/net/sockstat)."),
        Eth0,
        Help,
        Pid,
    ];

    public static readonly IReadOnlyList<FlagDefinition> HtbConfigFlags = [Eth0, Help, Pid];

    /// <summary>The subcommands, for the helper's dispatch table.</summary>
    public static IEnumerable<(string Name, Func<string[], int> Run)> All(IDictionary environment, TextWriter stdout, TextWriter stderr) =>
    [
        (Update, arguments => Run(Update, UpdateFlags, arguments, environment, stdout, stderr, RunUpdate)),
        (Statistics, arguments => Run(Statistics, StatisticsFlags, arguments, environment, stdout, stderr, RunStatistics)),
        (HtbConfigName, arguments => Run(HtbConfigName, HtbConfigFlags, arguments, environment, stdout, stderr, RunHtbConfig)),
    ];

    private static int Run(
        string name,
        IReadOnlyList<FlagDefinition> definitions,
        IReadOnlyList<string> arguments,
        IDictionary environment,
        TextWriter stdout,
        TextWriter stderr,
        Func<HelperFlags, TextWriter, int> body)
    {
        HelperFlags flags;
        try
        {
            flags = HelperFlags.Parse(definitions, arguments, EnvironmentPrefix, environment);
        }
        catch (FlagException e)
        {
            stderr.WriteLine($"{name}: Failed to parse the flags: {e.Message}");
            return 1;
        }

        if (flags.Boolean("help"))
        {
            stderr.Write(HelperFlags.Usage($"netisolator-helper {name}", definitions));
            return 0;
        }

        try
        {
            return body(flags, stdout);
        }
        catch (PortMappingHelperException e)
        {
            stderr.WriteLine($"{name}: {e.Message}");
            return 1;
        }
    }

    /// <summary>Mesos's order: flags, payload, JSON, then the namespace; the first failure ends it (no rollback).</summary>
    private static int RunUpdate(HelperFlags flags, TextWriter stdout)
    {
        var eth0 = flags.String("eth0_name") ?? throw new PortMappingHelperException("The public interface name (eth0) is not specified");
        var lo = flags.String("lo_name") ?? throw new PortMappingHelperException("The loopback interface name (lo) is not specified");
        var pid = RequirePid(flags);
        var (add, remove, htb) = (flags.String("ports_to_add"), flags.String("ports_to_remove"), flags.String("htb_config"));
        if (add is null && remove is null && htb is null)
        {
            throw new PortMappingHelperException("Nothing to update");
        }

        HtbConfig? shaping = null;
        if (htb is not null)
        {
            try
            {
                shaping = HtbConfig.Parse(htb);
            }
            catch (FormatException e)
            {
                throw new PortMappingHelperException($"Failed to parse the HTB config: {e.Message}", e);
            }
        }

        var toAdd = add is null ? [] : ParseRanges("ports_to_add", add);
        var toRemove = remove is null ? [] : ParseRanges("ports_to_remove", remove);
        using var inside = OpenContainer(pid);
        foreach (var range in toAdd)
        {
            foreach (var filter in PortMappingPlans.InsideRangeFilters(lo, eth0, range))
            {
                if (!Kernel($"adding {filter.ToCommand()}", () => inside.Add(filter)))
                {
                    throw new PortMappingHelperException($"The filter for {range} already exists: {filter.ToCommand()}");
                }
            }
        }

        foreach (var range in toRemove)
        {
            foreach (var filter in PortMappingPlans.InsideRangeFilters(lo, eth0, range))
            {
                if (!Kernel($"removing {filter.ToCommand()}", () => inside.Remove(filter)))
                {
                    throw new PortMappingHelperException($"The filter for {range} does not exist: {filter.ToCommand()}");
                }
            }
        }

        if (htb is not null)
        {
            // The leaf under class 1:1 depends on the kernel (fq_codel, else its stand-in), as in the isolator.
            var features = KernelFeatures.Probe();
            Kernel($"updating the HTB shaping of {eth0}", () =>
            {
                inside.ApplyShaping(eth0, shaping, new TcVariants(features.Basic, features.FqCodel, features.Sfq));
                return true;
            });
        }

        return 0;
    }

    private static int RunStatistics(HelperFlags flags, TextWriter stdout)
    {
        var eth0 = flags.String("eth0_name") ?? throw new PortMappingHelperException("The public interface name (eth0) is not specified");
        var pid = RequirePid(flags);
        PlanExecutor inside;
        try
        {
            inside = PlanExecutor.Open(ContainerNamespace(pid));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Mesos exits 1 without a word when it cannot enter the namespace (the container is gone).
            return 1;
        }

        using (inside)
        {
            var statistics = Kernel("collecting the statistics", () => ContainerNetworkStatistics.Collect(
                inside,
                eth0,
                flags.Boolean("enable_socket_statistics_summary"),
                flags.Boolean("enable_socket_statistics_details"),
                flags.Boolean("enable_snmp_statistics")));
            stdout.Write(StatisticsJson(statistics));
            return 0;
        }
    }

    private static int RunHtbConfig(HelperFlags flags, TextWriter stdout)
    {
        var eth0 = flags.String("eth0_name") ?? throw new PortMappingHelperException("The public interface name (eth0) is not specified");
        var pid = RequirePid(flags);
        using var inside = OpenContainer(pid);
        var config = Kernel($"reading HTB class 1:1 of {eth0}", () => inside.ReadShaping(eth0));
        // Mesos prints "{}" without a newline when there is no class, and the config with one.
        stdout.Write(config is null ? "{}" : HtbConfig.ToJsonText(config) + "\n");
        return 0;
    }

    /// <summary>
    /// ResourceStatistics as Mesos's helper prints it: proto field names, <c>timestamp</c> 0, only what was gathered,
    /// no trailing newline. The snmp sections carry every key of the kernel's line.
    /// </summary>
    public static string StatisticsJson(ContainerNetworkStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("timestamp", 0);
            if (statistics.Rtt is { } rtt)
            {
                json.WriteNumber("net_tcp_rtt_microsecs_p50", rtt.P50);
                json.WriteNumber("net_tcp_rtt_microsecs_p90", rtt.P90);
                json.WriteNumber("net_tcp_rtt_microsecs_p95", rtt.P95);
                json.WriteNumber("net_tcp_rtt_microsecs_p99", rtt.P99);
            }

            if (statistics.TcpActiveConnections is { } active)
            {
                json.WriteNumber("net_tcp_active_connections", active);
            }

            if (statistics.TcpTimeWaitConnections is { } timeWait)
            {
                json.WriteNumber("net_tcp_time_wait_connections", timeWait);
            }

            if (statistics.TrafficControl.Count > 0)
            {
                json.WriteStartArray("net_traffic_control_statistics");
                foreach (var (id, s) in statistics.TrafficControl)
                {
                    json.WriteStartObject();
                    json.WriteString("id", id);
                    json.WriteNumber("backlog", s.Backlog);
                    json.WriteNumber("bytes", s.Bytes);
                    json.WriteNumber("drops", s.Drops);
                    json.WriteNumber("overlimits", s.Overlimits);
                    json.WriteNumber("packets", s.Packets);
                    json.WriteNumber("qlen", s.Qlen);
                    json.WriteNumber("ratebps", s.RateBps);
                    json.WriteNumber("ratepps", s.RatePps);
                    json.WriteNumber("requeues", s.Requeues);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }

            if (statistics.Snmp is { } snmp)
            {
                json.WriteStartObject("net_snmp_statistics");
                foreach (var (section, field) in new[] { ("Ip", "ip_stats"), ("Icmp", "icmp_stats"), ("Tcp", "tcp_stats"), ("Udp", "udp_stats") })
                {
                    if (snmp.TryGetValue(section, out var values))
                    {
                        json.WriteStartObject(field);
                        foreach (var (key, value) in values)
                        {
                            json.WriteNumber(key, value);
                        }

                        json.WriteEndObject();
                    }
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Mesos's Value.Ranges JSON, each range an aligned power-of-two block (what the isolator sends).</summary>
    internal static List<PortRange> ParseRanges(string flag, string text)
    {
        try
        {
            var ranges = (JsonNode.Parse(text) as JsonObject)?["range"] as JsonArray
                ?? throw new PortMappingHelperException($"Failed to parse '{flag}': expected {{\"range\":[...]}}, got '{text}'");
            var result = new List<PortRange>();
            foreach (var item in ranges)
            {
                var begin = item?["begin"]?.GetValue<long>() ?? throw new PortMappingHelperException($"Failed to parse '{flag}': a range without 'begin'");
                var end = item["end"]?.GetValue<long>() ?? throw new PortMappingHelperException($"Failed to parse '{flag}': a range without 'end'");
                if (begin > int.MaxValue || end > int.MaxValue || !PortRange.TryFromBeginEnd((int)begin, (int)end, out var range))
                {
                    throw new PortMappingHelperException($"'{flag}': {PortRange.Problem((int)Math.Clamp(begin, -1, int.MaxValue), (int)Math.Clamp(end, -1, int.MaxValue))}");
                }

                result.Add(range);
            }

            return result;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new PortMappingHelperException($"Failed to parse '{flag}' ('{text}'): {e.Message}", e);
        }
    }

    private static int RequirePid(HelperFlags flags)
    {
        var text = flags.String("pid") ?? throw new PortMappingHelperException("The container PID is not specified");
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0
            ? pid
            : throw new PortMappingHelperException($"Invalid container PID '{text}'");
    }

    private static string ContainerNamespace(int pid) => string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/ns/net");

    private static PlanExecutor OpenContainer(int pid)
    {
        try
        {
            return PlanExecutor.Open(ContainerNamespace(pid));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PortMappingHelperException($"Failed to enter the network namespace of pid {pid}: {e.Message}", e);
        }
    }

    private static T Kernel<T>(string what, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            throw new PortMappingHelperException($"{what}: {e.Message}", e);
        }
    }
}
