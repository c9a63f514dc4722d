using System.Collections.Concurrent;
using NetIsolator.Isolators.PortMappingIsolation.Plan;

namespace NetIsolator.Isolators.PortMappingIsolation;

/// <summary>
/// The isolator's counters under Mesos's names (<c>port_mapping/…</c>, reference §5), including the four Mesos
/// increments but never registers (<c>adding_eth0_egress_filters_*</c>, <c>removing_eth0_egress_filters_*</c>),
/// here registered with their intended spelling. All start at 0 so that a snapshot lists every name.
/// </summary>
public sealed class PortMappingMetrics
{
    public const string Prefix = "port_mapping/";

    private static readonly string[] Names =
    [
        .. Pairs("adding", ["eth0_ip", "lo_ip", "veth_ip", "veth_icmp", "veth_arp", "eth0_icmp", "eth0_arp", "eth0_egress"], "errors", "already_exist"),
        .. Pairs("removing", ["eth0_ip", "lo_ip", "veth_ip", "eth0_icmp", "eth0_arp", "eth0_egress"], "errors", "do_not_exist"),
        .. Pairs("updating", ["eth0_icmp", "eth0_arp"], "errors", "already_exist", "do_not_exist"),
        "updating_container_ip_filters_errors",
        // Not Mesos's: an unknown orphan recovery could not clean up (Mesos fails the whole recovery instead).
        "recovering_unknown_orphans_errors",
    ];

    private readonly ConcurrentDictionary<string, long> _counters = new(StringComparer.Ordinal);

    public PortMappingMetrics()
    {
        foreach (var name in Names)
        {
            _counters[Prefix + name] = 0;
        }
    }

    /// <summary>Push gauge <c>per_cpu_egress_rate_limit</c>: bytes/s per CPU, 0 when unused.</summary>
    public ulong PerCpuEgressRateLimit { get; set; }

    /// <summary>Push gauge <c>per_cpu_ingress_rate_limit</c>.</summary>
    public ulong PerCpuIngressRateLimit { get; set; }

    /// <summary>Bumps <c>port_mapping/&lt;name&gt;</c>.</summary>
    /// <exception cref="ArgumentException">Not one of Mesos's names.</exception>
    public void Increment(string name)
    {
        var key = Prefix + name;
        if (!_counters.ContainsKey(key))
        {
            throw new ArgumentException($"'{key}' is not a port-mapping metric", nameof(name));
        }

        _counters.AddOrUpdate(key, 1, (_, value) => value + 1);
    }

    public long this[string name] => _counters[Prefix + name];

    /// <summary>Every counter and gauge by its full name, as <c>/metrics/snapshot</c> lists them.</summary>
    public IReadOnlyDictionary<string, double> Snapshot()
    {
        var snapshot = _counters.ToDictionary(p => p.Key, p => (double)p.Value, StringComparer.Ordinal);
        snapshot[Prefix + "per_cpu_egress_rate_limit"] = PerCpuEgressRateLimit;
        snapshot[Prefix + "per_cpu_ingress_rate_limit"] = PerCpuIngressRateLimit;
        return snapshot;
    }

    /// <summary>
    /// The Mesos counter stem (<c>veth_ip</c>, <c>eth0_arp</c>, …) of a filter the isolator adds or removes on the
    /// host side, or null for filters Mesos does not count (those inside the container).
    /// </summary>
    public static string? Stem(FilterSpec filter, HostNetwork host, string veth)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(host);
        var kind = filter.Protocol == EtherType.Arp ? "arp" : filter.Match is IcmpMatch ? "icmp" : "ip";
        if (filter.Device == veth)
        {
            return $"veth_{kind}";
        }

        if (filter.Device == host.Eth0)
        {
            return filter.Parent == Linux.Netlink.Tc.TcHandle.Ingress ? $"eth0_{kind}" : "eth0_egress";
        }

        return filter.Device == host.Lo ? "lo_ip" : null;
    }

    private static IEnumerable<string> Pairs(string verb, string[] stems, params string[] outcomes) =>
        stems.SelectMany(stem => outcomes.Select(outcome => $"{verb}_{stem}_filters_{outcome}"));
}
