using System.Globalization;
using System.Net.Sockets;
using NetIsolator.Isolators.PortMappingIsolation.Kernel;
using NetIsolator.Isolators.PortMappingIsolation.Plan;
using NetIsolator.Linux;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.SockDiag;
using NetIsolator.Linux.Netlink.Tc;

namespace NetIsolator.Isolators.PortMappingIsolation.Statistics;

/// <summary>The percentiles of the RTTs (µs) of a namespace's TCP sockets, as Mesos reports them.</summary>
public sealed record RttPercentiles(double P50, double P90, double P95, double P99);

/// <summary>
/// What Mesos's <c>statistics</c> helper subcommand gathers inside a container's network namespace (reference §4.2),
/// gathered here without a process: TCP socket counts from sockstat, RTT percentiles from inet_diag, the
/// <c>Ip</c>/<c>Icmp</c>/<c>Tcp</c>/<c>Udp</c> lines of snmp, and the shaping qdiscs' counters. Shared by the
/// isolator's usage (in-process) and the <c>statistics</c> helper subcommand (which prints it as JSON).
/// </summary>
public sealed record ContainerNetworkStatistics
{
    /// <summary>The snmp sections Mesos copies (its SNMPStatistics messages); other sections are left out.</summary>
    public static readonly IReadOnlyList<string> SnmpSections = ["Ip", "Icmp", "Tcp", "Udp"];

    /// <summary>sockstat's TCP <c>inuse</c> (it counts listeners too: Mesos calls it "active connections").</summary>
    public ulong? TcpActiveConnections { get; init; }

    /// <summary>sockstat's TCP <c>tw</c>.</summary>
    public ulong? TcpTimeWaitConnections { get; init; }

    public RttPercentiles? Rtt { get; init; }

    /// <summary>Section (<c>Ip</c>, …) → key (the /proc name, e.g. <c>RetransSegs</c>) → value; null when not gathered.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>? Snmp { get; init; }

    /// <summary>The shaping qdiscs' counters: <c>bw_limit</c> (HTB root) and <c>bloat_reduction</c> (its leaf), with a prefix for the host side.</summary>
    public IReadOnlyList<(string Id, TcStatistics Statistics)> TrafficControl { get; init; } = [];

    /// <summary>
    /// Gathers the statistics of the namespace <paramref name="inside"/> works on: always the shaping counters of
    /// <paramref name="eth0"/>, and what the three switches ask for. The /proc files are read and the inet_diag
    /// socket opened on this thread while it visits the namespace (<c>/proc/thread-self/net</c>: <c>/proc/net</c>
    /// would show the namespace of the process's main thread).
    /// </summary>
    /// <exception cref="IOException">A file could not be read or parsed, or inet_diag failed; the message names which.</exception>
    public static ContainerNetworkStatistics Collect(PlanExecutor inside, string eth0, bool summary, bool details, bool snmp)
    {
        ArgumentNullException.ThrowIfNull(inside);
        var (sockstat, snmpText, rtts) = inside.Namespace.Visit(() =>
        {
            var sockstatText = summary ? Read("/proc/thread-self/net/sockstat") : null;
            var snmpFile = snmp ? Read("/proc/thread-self/net/snmp") : null;
            List<uint>? samples = null;
            if (details)
            {
                using var diag = NetlinkSocket.Open(NetlinkFamily.SockDiag);
                samples = [.. diag.GetTcpSockets(AddressFamily.InterNetwork, withInfo: true)
                    .Select(s => s.Info?.RttMicroseconds ?? 0).Where(rtt => rtt != 0)];
            }

            return (sockstatText, snmpFile, samples);
        });

        var (active, timeWait) = sockstat is null ? (null, null) : ParseSockstat(sockstat);
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>? sections;
        try
        {
            sections = snmpText is null ? null : ParseSnmp(snmpText);
        }
        catch (FormatException e)
        {
            throw new IOException($"reading /proc/thread-self/net/snmp: {e.Message}", e);
        }

        return new ContainerNetworkStatistics
        {
            TcpActiveConnections = active,
            TcpTimeWaitConnections = timeWait,
            Rtt = rtts is null ? null : Percentiles(rtts),
            Snmp = sections,
            TrafficControl = ShapingStatistics(inside, eth0, ""),
        };
    }

    /// <summary>
    /// The shaping counters of <paramref name="device"/>: the HTB root as <c>{prefix}bw_limit</c> and the qdisc
    /// under class 1:1 (fq_codel, or its stand-in) as <c>{prefix}bloat_reduction</c>; nothing without an HTB root.
    /// </summary>
    public static IReadOnlyList<(string Id, TcStatistics Statistics)> ShapingStatistics(PlanExecutor executor, string device, string prefix)
    {
        ArgumentNullException.ThrowIfNull(executor);
        return executor.Query(socket =>
        {
            var found = new List<(string, TcStatistics)>();
            if (socket.GetQdisc(device, TcHandle.Root) is not { Kind: "htb" } root)
            {
                return found;
            }

            if (root.Statistics is { } rootStatistics)
            {
                found.Add((prefix + "bw_limit", rootStatistics));
            }

            if (socket.GetQdisc(device, PortMappingPlans.HtbClass)?.Statistics is { } leaf)
            {
                found.Add((prefix + "bloat_reduction", leaf));
            }

            return found;
        });
    }

    /// <summary>The numbers after <c>inuse</c> and <c>tw</c> on sockstat's <c>TCP:</c> line (absent or malformed → null).</summary>
    public static (ulong? InUse, ulong? TimeWait) ParseSockstat(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("TCP:", StringComparison.Ordinal));
        if (line is null)
        {
            return (null, null);
        }

        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        ulong? After(string key) =>
            Array.IndexOf(words, key) is var i and >= 0 && i + 1 < words.Length
                && ulong.TryParse(words[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value)
                ? value
                : null;
        return (After("inuse"), After("tw"));
    }

    /// <summary>
    /// /proc/net/snmp: pairs of lines, <c>Section: Key Key…</c> then <c>Section: value value…</c>. Only
    /// <see cref="SnmpSections"/> are kept. A line that is not <c>name: fields</c>, a value that is not an integer or
    /// a value line that does not match its header fails, as in Mesos.
    /// </summary>
    /// <exception cref="FormatException">The text is not in that format.</exception>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> ParseSnmp(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var sections = new Dictionary<string, IReadOnlyDictionary<string, long>>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < lines.Length; i += 2)
        {
            var (name, keys) = SplitSnmpLine(lines[i]);
            var (valueName, values) = SplitSnmpLine(lines[i + 1]);
            if (name != valueName || keys.Length != values.Length)
            {
                throw new FormatException($"snmp: the values of '{valueName}' do not match the header of '{name}'");
            }

            if (!SnmpSections.Contains(name))
            {
                continue;
            }

            var section = new Dictionary<string, long>(StringComparer.Ordinal);
            for (var k = 0; k < keys.Length; k++)
            {
                section[keys[k]] = long.TryParse(values[k], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
                    ? value
                    : throw new FormatException($"snmp: {name} {keys[k]} is '{values[k]}', not an integer");
            }

            sections[name] = section;
        }

        return sections;
    }

    /// <summary>Mesos's percentiles: sorted ascending, pXX = sorted[⌊n·XX/100⌋]; null when there is no sample.</summary>
    public static RttPercentiles? Percentiles(IReadOnlyCollection<uint> rtts)
    {
        ArgumentNullException.ThrowIfNull(rtts);
        if (rtts.Count == 0)
        {
            return null;
        }

        var sorted = rtts.Order().ToArray();
        double At(int percent) => sorted[sorted.Length * percent / 100];
        return new RttPercentiles(At(50), At(90), At(95), At(99));
    }

    private static (string Name, string[] Fields) SplitSnmpLine(string line)
    {
        var parts = line.Split(':');
        return parts.Length == 2
            ? (parts[0].Trim(), parts[1].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            : throw new FormatException($"snmp: '{line}' is not 'Section: fields'");
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"reading {path}: {e.Message}", e);
        }
    }
}
