using System.Text.Json;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Results;

namespace NetIsolator.Isolators.Cni;

/// <summary>Network mode of a <c>mesos</c> entry of <c>--default_container_dns</c> (Mesos's proto enum names).</summary>
public enum MesosDnsNetworkMode
{
    Unknown,
    Host,
    Cni,
}

/// <summary>Network mode of a <c>docker</c> entry of <c>--default_container_dns</c> (Mesos's proto enum names).</summary>
public enum DockerDnsNetworkMode
{
    Unknown,
    Host,
    Bridge,
    User,
}

/// <summary>One <c>mesos</c> entry. <see cref="NetworkName"/> null is the wildcard entry for its mode.</summary>
public sealed record MesosDnsEntry(MesosDnsNetworkMode NetworkMode, string? NetworkName, CniDns Dns);

/// <summary>One <c>docker</c> entry. Parsed and validated only; nothing here uses it.</summary>
public sealed record DockerDnsEntry(DockerDnsNetworkMode NetworkMode, string? NetworkName, CniDns Dns);

/// <summary>An invalid <c>--default_container_dns</c>: the agent must refuse to start.</summary>
public sealed class ContainerDnsInfoException(string message) : FormatException(message);

/// <summary>
/// The agent flag <c>--default_container_dns</c> (Mesos's <c>ContainerDNSInfo</c>): fallback DNS settings used when a
/// CNI plugin's result carries no nameserver (see <see cref="DnsSelection"/>). Accepted as inline JSON or as
/// <c>file://path</c>, validated at start-up by the same rules Mesos applies when it parses its flags.
/// </summary>
/// <remarks>
/// Shape (proto field names, enums as strings):
/// <c>{"mesos":[{"network_mode":"CNI","network_name":"net1","dns":{"nameservers":[..],"domain":"..","search":[..],"options":[..]}}],"docker":[..]}</c>.
/// <para>Deliberate departures from Mesos, each of which can only stop an agent whose flag would have produced a
/// broken or meaningless configuration:</para>
/// <list type="bullet">
/// <item>an empty <c>network_name</c> is rejected (Mesos would key an entry by <c>""</c>, a name no CNI network can
/// have);</item>
/// <item>an empty DNS string, or one holding whitespace or control characters, is rejected: it cannot be written as a
/// resolv.conf token (Mesos would write a corrupt file, or let a newline inject lines);</item>
/// <item>an empty <c>domain</c> counts as absent (Mesos would write a bare <c>domain </c> line).</item>
/// </list>
/// Unknown keys are ignored and JSON <c>null</c> counts as absent, as with Mesos's JSON-to-protobuf conversion, so a
/// flag Mesos accepts is accepted here.
/// </remarks>
public sealed class ContainerDnsInfo
{
    private const string Flag = "default_container_dns";
    private const string FilePrefix = "file://";

    private readonly Dictionary<string, CniDns> _cniByNetwork;

    private ContainerDnsInfo(IReadOnlyList<MesosDnsEntry> mesos, IReadOnlyList<DockerDnsEntry> docker)
    {
        Mesos = mesos;
        Docker = docker;
        _cniByNetwork = new Dictionary<string, CniDns>(StringComparer.Ordinal);
        foreach (var entry in mesos.Where(e => e.NetworkMode == MesosDnsNetworkMode.Cni))
        {
            if (entry.NetworkName is null)
            {
                DefaultCniDns = entry.Dns;
            }
            else
            {
                _cniByNetwork.Add(entry.NetworkName, entry.Dns);
            }
        }
    }

    /// <summary>No flag given: no fallback DNS at all.</summary>
    public static ContainerDnsInfo Empty { get; } = new([], []);

    public IReadOnlyList<MesosDnsEntry> Mesos { get; }

    public IReadOnlyList<DockerDnsEntry> Docker { get; }

    /// <summary>The CNI entry without a <c>network_name</c>, if any: the fallback for every CNI network.</summary>
    public CniDns? DefaultCniDns { get; }

    /// <summary>The CNI entries that name a network.</summary>
    public IReadOnlyDictionary<string, CniDns> CniDnsByNetwork => _cniByNetwork;

    /// <summary>
    /// The flag's DNS for CNI network <paramref name="networkName"/>: its own entry if there is one (even one without
    /// nameservers), else the wildcard entry, else null.
    /// </summary>
    public CniDns? ForCniNetwork(string networkName) =>
        _cniByNetwork.TryGetValue(networkName, out var dns) ? dns : DefaultCniDns;

    /// <summary>
    /// Parses the flag's value: inline JSON, or <c>file://path</c> naming a file that holds it. Null or blank means
    /// the flag is not set (<see cref="Empty"/>).
    /// </summary>
    /// <exception cref="ContainerDnsInfoException">The value is unreadable, not JSON, or breaks a rule.</exception>
    public static ContainerDnsInfo Parse(string? flagValue)
    {
        if (string.IsNullOrWhiteSpace(flagValue))
        {
            return Empty;
        }

        var text = flagValue;
        if (flagValue.StartsWith(FilePrefix, StringComparison.Ordinal))
        {
            var path = flagValue[FilePrefix.Length..];
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException
                or NotSupportedException)
            {
                throw Fail($"cannot read '{path}': {e.Message}");
            }
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(text);
        }
        catch (JsonException e)
        {
            throw Fail($"invalid JSON: {e.Message}");
        }

        return Parse(root);
    }

    /// <summary>Parses and validates an already-parsed JSON document.</summary>
    /// <exception cref="ContainerDnsInfoException">The document breaks a rule.</exception>
    public static ContainerDnsInfo Parse(JsonNode? root)
    {
        if (root is not JsonObject obj)
        {
            throw Fail("must be a JSON object");
        }

        try
        {
            var mesos = ParseList(obj, "mesos", ParseMesosEntry);
            var docker = ParseList(obj, "docker", ParseDockerEntry);
            ValidateMesos(mesos);
            ValidateDocker(docker);
            return new ContainerDnsInfo(mesos, docker);
        }
        catch (ArgumentException e)
        {
            // JsonObject reports a duplicate key when it is first read.
            throw Fail($"invalid JSON: {e.Message}");
        }
    }

    private static void ValidateMesos(IReadOnlyList<MesosDnsEntry> entries)
    {
        var named = new HashSet<string>(StringComparer.Ordinal);
        var wildcardSeen = false;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            var where = $"mesos[{i}]";
            switch (entry.NetworkMode)
            {
                case MesosDnsNetworkMode.Unknown:
                    throw Fail($"{where}: network_mode UNKNOWN is not allowed (set HOST or CNI)");
                case MesosDnsNetworkMode.Host:
                    throw Fail($"{where}: network_mode HOST is not yet supported");
                case MesosDnsNetworkMode.Cni when entry.NetworkName is null:
                    if (wildcardSeen)
                    {
                        throw Fail($"{where}: more than one CNI entry without network_name");
                    }

                    wildcardSeen = true;
                    break;
                case MesosDnsNetworkMode.Cni:
                    if (!named.Add(entry.NetworkName))
                    {
                        throw Fail($"{where}: more than one CNI entry for network_name '{entry.NetworkName}'");
                    }

                    break;
            }
        }
    }

    // Mesos's own docker rules, kept so that a flag shared with the Docker containerizer is judged alike.
    private static void ValidateDocker(IReadOnlyList<DockerDnsEntry> entries)
    {
        var named = new HashSet<string>(StringComparer.Ordinal);
        var bridgeSeen = false;
        var userWildcardSeen = false;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            var where = $"docker[{i}]";
            switch (entry.NetworkMode)
            {
                case DockerDnsNetworkMode.Unknown:
                    throw Fail($"{where}: network_mode UNKNOWN is not allowed (set HOST, BRIDGE or USER)");
                case DockerDnsNetworkMode.Host:
                    throw Fail($"{where}: network_mode HOST is not yet supported");
                case DockerDnsNetworkMode.Bridge:
                    if (bridgeSeen)
                    {
                        throw Fail($"{where}: more than one BRIDGE entry");
                    }

                    bridgeSeen = true;
                    break;
                case DockerDnsNetworkMode.User when entry.NetworkName is null:
                    if (userWildcardSeen)
                    {
                        throw Fail($"{where}: more than one USER entry without network_name");
                    }

                    userWildcardSeen = true;
                    break;
                case DockerDnsNetworkMode.User:
                    if (!named.Add(entry.NetworkName))
                    {
                        throw Fail($"{where}: more than one USER entry for network_name '{entry.NetworkName}'");
                    }

                    break;
            }
        }
    }

    private static List<T> ParseList<T>(JsonObject root, string key, Func<JsonObject, string, T> parseEntry)
    {
        var list = new List<T>();
        switch (root[key])
        {
            case null:
                return list;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    var where = $"{key}[{i}]";
                    if (array[i] is not JsonObject entry)
                    {
                        throw Fail($"{where}: must be a JSON object");
                    }

                    list.Add(parseEntry(entry, where));
                }

                return list;
            default:
                throw Fail($"{key} must be an array");
        }
    }

    private static MesosDnsEntry ParseMesosEntry(JsonObject entry, string where) => new(
        ParseMode(entry, where, MesosDnsNetworkMode.Unknown, ("UNKNOWN", MesosDnsNetworkMode.Unknown),
            ("HOST", MesosDnsNetworkMode.Host), ("CNI", MesosDnsNetworkMode.Cni)),
        ParseNetworkName(entry, where),
        ParseDns(entry, where));

    private static DockerDnsEntry ParseDockerEntry(JsonObject entry, string where) => new(
        ParseMode(entry, where, DockerDnsNetworkMode.Unknown, ("UNKNOWN", DockerDnsNetworkMode.Unknown),
            ("HOST", DockerDnsNetworkMode.Host), ("BRIDGE", DockerDnsNetworkMode.Bridge),
            ("USER", DockerDnsNetworkMode.User)),
        ParseNetworkName(entry, where),
        ParseDns(entry, where));

    // An omitted network_mode is the proto default, UNKNOWN, which validation then rejects.
    private static TMode ParseMode<TMode>(JsonObject entry, string where, TMode absent,
        params (string Name, TMode Mode)[] modes)
    {
        var node = entry["network_mode"];
        if (node is null)
        {
            return absent;
        }

        var names = string.Join(", ", modes.Select(m => m.Name));
        var text = AsString(node) ?? throw Fail($"{where}: network_mode must be a string (one of {names})");
        foreach (var (name, mode) in modes)
        {
            if (text == name)
            {
                return mode;
            }
        }

        throw Fail($"{where}: network_mode '{text}' is not one of {names}");
    }

    private static string? ParseNetworkName(JsonObject entry, string where)
    {
        var node = entry["network_name"];
        if (node is null)
        {
            return null;
        }

        var name = AsString(node) ?? throw Fail($"{where}: network_name must be a string");
        return name.Length == 0 ? throw Fail($"{where}: network_name must not be empty") : name;
    }

    private static CniDns ParseDns(JsonObject entry, string where)
    {
        switch (entry["dns"])
        {
            case null:
                throw Fail($"{where}: dns is required");
            case JsonObject dns:
                var domain = dns["domain"] is { } domainNode
                    ? AsString(domainNode) ?? throw Fail($"{where}: dns.domain must be a string")
                    : null;
                if (!string.IsNullOrEmpty(domain))
                {
                    CheckToken(domain, $"{where}: dns.domain");
                }

                return new CniDns
                {
                    Nameservers = ParseStrings(dns, "nameservers", where),
                    Domain = string.IsNullOrEmpty(domain) ? null : domain,
                    Search = ParseStrings(dns, "search", where),
                    Options = ParseStrings(dns, "options", where),
                };
            default:
                throw Fail($"{where}: dns must be a JSON object");
        }
    }

    private static string[] ParseStrings(JsonObject dns, string key, string where)
    {
        switch (dns[key])
        {
            case null:
                return [];
            case JsonArray array:
                var values = new string[array.Count];
                for (var i = 0; i < array.Count; i++)
                {
                    var field = $"{where}: dns.{key}[{i}]";
                    values[i] = (array[i] is { } item ? AsString(item) : null)
                        ?? throw Fail($"{field} must be a string");
                    CheckToken(values[i], field);
                }

                return values;
            default:
                throw Fail($"{where}: dns.{key} must be an array of strings");
        }
    }

    private static void CheckToken(string value, string field)
    {
        if (ResolvConfTokens.Problem(value) is { } problem)
        {
            throw Fail($"{field} {problem}");
        }
    }

    private static string? AsString(JsonNode node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static ContainerDnsInfoException Fail(string message) => new($"{Flag}: {message}");
}
