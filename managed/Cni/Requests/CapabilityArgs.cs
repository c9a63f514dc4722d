using System.Text.Json.Nodes;

namespace NetIsolator.Cni.Requests;

/// <summary>The capability names of CONVENTIONS.md.</summary>
public static class CapabilityNames
{
    public const string PortMappings = "portMappings";
    public const string IpRanges = "ipRanges";
    public const string Bandwidth = "bandwidth";
    public const string Dns = "dns";
    public const string Ips = "ips";
    public const string Mac = "mac";
    public const string DeviceId = "deviceID";
    public const string Aliases = "aliases";
    public const string CgroupPath = "cgroupPath";
    public const string InfinibandGuid = "infinibandGUID";
}

/// <summary>A <c>portMappings</c> entry: <c>{hostPort, containerPort, protocol, hostIP?}</c>.</summary>
public sealed record PortMapping(int HostPort, int ContainerPort, string Protocol = "tcp", string? HostIp = null)
{
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["hostPort"] = HostPort, ["containerPort"] = ContainerPort, ["protocol"] = Protocol };
        if (!string.IsNullOrEmpty(HostIp))
        {
            json["hostIP"] = HostIp;
        }

        return json;
    }
}

/// <summary>The <c>bandwidth</c> capability: rates in bits per second, bursts in bits.</summary>
public sealed record BandwidthLimits(long? IngressRate = null, long? IngressBurst = null, long? EgressRate = null, long? EgressBurst = null)
{
    public JsonObject ToJson()
    {
        var json = new JsonObject();
        Add(json, "ingressRate", IngressRate);
        Add(json, "ingressBurst", IngressBurst);
        Add(json, "egressRate", EgressRate);
        Add(json, "egressBurst", EgressBurst);
        return json;
    }

    private static void Add(JsonObject json, string key, long? value)
    {
        if (value is { } number)
        {
            json[key] = number;
        }
    }
}

/// <summary>The <c>dns</c> capability: <c>{servers, searches, options}</c>.</summary>
public sealed record DnsCapability(IReadOnlyList<string> Servers, IReadOnlyList<string>? Searches = null, IReadOnlyList<string>? Options = null)
{
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["servers"] = Strings(Servers) };
        if (Searches is { Count: > 0 })
        {
            json["searches"] = Strings(Searches);
        }

        if (Options is { Count: > 0 })
        {
            json["options"] = Strings(Options);
        }

        return json;
    }

    internal static JsonArray Strings(IEnumerable<string> values) =>
        new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);
}

/// <summary>
/// The capability arguments the runtime can supply for one attachment (libcni RuntimeConf.CapabilityArgs). Only
/// those a plugin declares true in its <c>capabilities</c> reach that plugin, under <c>runtimeConfig</c>.
/// Immutable: each <c>With…</c> returns a new set.
/// </summary>
public sealed class CapabilityArgs
{
    private readonly Dictionary<string, JsonNode?> _values;

    private CapabilityArgs(Dictionary<string, JsonNode?> values) => _values = values;

    public static CapabilityArgs Empty { get; } = new(new Dictionary<string, JsonNode?>(StringComparer.Ordinal));

    public IEnumerable<string> Names => _values.Keys;

    public int Count => _values.Count;

    /// <summary>A copy of the value for <paramref name="capability"/>, or null.</summary>
    public bool TryGet(string capability, out JsonNode? value)
    {
        var found = _values.TryGetValue(capability, out var stored);
        value = stored?.DeepClone();
        return found;
    }

    /// <summary>Sets any capability to any JSON value (copied).</summary>
    public CapabilityArgs With(string capability, JsonNode? value)
    {
        ArgumentException.ThrowIfNullOrEmpty(capability);
        var copy = new Dictionary<string, JsonNode?>(_values, StringComparer.Ordinal) { [capability] = value?.DeepClone() };
        return new CapabilityArgs(copy);
    }

    public CapabilityArgs WithPortMappings(IEnumerable<PortMapping> mappings) =>
        With(CapabilityNames.PortMappings, new JsonArray([.. mappings.Select(m => (JsonNode)m.ToJson())]));

    /// <summary><c>ips</c>: addresses in CIDR notation for IPAM to hand out.</summary>
    public CapabilityArgs WithIps(IEnumerable<string> ips) => With(CapabilityNames.Ips, DnsCapability.Strings(ips));

    public CapabilityArgs WithMac(string mac) => With(CapabilityNames.Mac, JsonValue.Create(mac));

    public CapabilityArgs WithBandwidth(BandwidthLimits limits) => With(CapabilityNames.Bandwidth, limits.ToJson());

    public CapabilityArgs WithDns(DnsCapability dns) => With(CapabilityNames.Dns, dns.ToJson());

    public CapabilityArgs WithCgroupPath(string path) => With(CapabilityNames.CgroupPath, JsonValue.Create(path));
}
