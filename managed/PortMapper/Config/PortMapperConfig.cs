using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using NetIsolator.Cni;
using NetIsolator.Cni.Config;
using NetIsolator.Cni.Requests;
using NetIsolator.Cni.Results;
using NetIsolator.Cni.Versions;
using NetIsolator.PortMapper.Plugin;

namespace NetIsolator.PortMapper.Config;

/// <summary>Which iptables the rules go to; <see cref="Auto"/> follows the host's <c>iptables</c>.</summary>
public enum BackendChoice
{
    Auto,
    Nft,
    Legacy,
}

/// <summary>
/// The plugin's stdin, validated before anything is touched. Mesos's keys (<c>name</c>, <c>chain</c>,
/// <c>excludeDevices</c>, <c>delegate</c>, <c>args["org.apache.mesos"].network_info.port_mappings</c>) plus the
/// standard ones (<c>cniVersion</c>, <c>runtimeConfig.portMappings</c>, <c>prevResult</c>) and two of ours:
/// <c>snat</c> (hairpin and host-loopback masquerading, default true, the name portmap uses) and
/// <c>iptablesBackend</c> (<c>"nft"</c> or <c>"legacy"</c>; default: what the host's <c>iptables</c> is).
/// </summary>
/// <remarks>
/// Mappings come from <c>runtimeConfig.portMappings</c> when the runtime sent that key (our CNI isolator sends both
/// forms when the config declares the capability; they describe the same NetworkInfo), otherwise from Mesos's
/// NetworkInfo. Every problem is code 101 except an unsupported <c>cniVersion</c>, which is the spec's code 1.
/// </remarks>
public sealed class PortMapperConfig
{
    /// <summary>iptables' limit on chain names (XT_EXTENSION_MAXNAMELEN - 1).</summary>
    public const int MaxChainLength = 28;

    /// <summary>Stdin larger than this is refused rather than parsed.</summary>
    public const int MaxConfigBytes = 1 << 20;

    private static readonly string[] ReservedChains =
        ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING", "ACCEPT", "DROP", "RETURN", "QUEUE", "DNAT", "SNAT", "MASQUERADE", "MARK"];

    public required string Name { get; init; }

    /// <summary>The version the request was made at (0.1.0 when the config declares none).</summary>
    public required CniVersion CniVersion { get; init; }

    /// <summary><c>cniVersion</c> as written, or null.</summary>
    public string? DeclaredCniVersion { get; init; }

    /// <summary>The nat chain holding the DNAT rules.</summary>
    public required string Chain { get; init; }

    /// <summary><c>excludeDevices</c>, every one of them, in order and without duplicates.</summary>
    public IReadOnlyList<string> ExcludeDevices { get; init; } = [];

    /// <summary>The delegate plugin's config as written.</summary>
    public required JsonObject Delegate { get; init; }

    public required string DelegateType { get; init; }

    /// <summary>The delegate's version: its own <c>cniVersion</c>, else the request's.</summary>
    public required CniVersion DelegateVersion { get; init; }

    /// <summary><c>args</c> as written (Mesos puts its NetworkInfo here), or null.</summary>
    public JsonObject? Args { get; init; }

    /// <summary><c>runtimeConfig</c> as written, or null.</summary>
    public JsonObject? RuntimeConfig { get; init; }

    /// <summary><c>prevResult</c> as written (DEL and CHECK at 0.4.0 and later), or null.</summary>
    public JsonNode? PrevResult { get; init; }

    /// <summary>The port mappings, validated: ports 1-65535, protocol tcp/udp/sctp (lower case), hostIP canonical.</summary>
    public IReadOnlyList<PortMapping> Mappings { get; init; } = [];

    public bool Snat { get; init; } = true;

    /// <summary>The whole request as parsed (GC's attachment lists are passed on from it).</summary>
    public JsonObject Raw { get; init; } = [];

    public BackendChoice Backend { get; init; } = BackendChoice.Auto;

    /// <summary>Parses and validates stdin; throws <see cref="PortMapperException"/> naming the key and the problem.</summary>
    /// <param name="stdin">The request.</param>
    /// <param name="withMappings">
    /// False for DEL, GC and STATUS, which never use the mappings: a request whose mappings ADD refused must still be
    /// deletable, or its delegate's state (address, veth) would stay forever.
    /// </param>
    public static PortMapperConfig Parse(ReadOnlySpan<byte> stdin, bool withMappings = true)
    {
        JsonObject json;
        try
        {
            json = JsonNode.Parse(stdin) as JsonObject ?? throw PortMapperException.BadArgs("config: expected a JSON object");
            _ = json.Count; // materialises the properties, so duplicate keys surface here
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new PortMapperException(MesosErrorCodes.BadArgs, $"config: not valid JSON: {e.Message}", inner: e);
        }

        try
        {
            return Read(json, withMappings);
        }
        catch (ConfigFieldException e)
        {
            throw PortMapperException.BadArgs(e.Message);
        }
    }

    private static PortMapperConfig Read(JsonObject json, bool withMappings)
    {
        var top = new JsonFields("config", m => new ConfigFieldException(m));
        var declared = top.OptString(json, "cniVersion");
        var version = CniVersion.Default;
        if (declared is not null && (!CniVersion.TryParse(declared, out version, out _) || !version.IsSupported))
        {
            throw new PortMapperException(
                CniErrorCodes.IncompatibleVersion,
                $"config: \"cniVersion\": \"{CniNames.Printable(declared)}\" is not supported (supported: {string.Join(", ", CniVersion.Supported)})");
        }

        var name = top.ReqString(json, "name");
        if (NetworkName.Problem(name) is { } nameProblem)
        {
            throw top.Error("name", $"\"{CniNames.Printable(name)}\" {nameProblem}");
        }

        var chain = top.ReqString(json, "chain");
        if (ChainProblem(chain) is { } chainProblem)
        {
            throw top.Error("chain", $"\"{CniNames.Printable(chain)}\" {chainProblem}");
        }

        var devices = new List<string>();
        var deviceList = top.StringArray(json, "excludeDevices");
        for (var i = 0; i < deviceList.Count; i++)
        {
            if (DeviceProblem(deviceList[i]) is { } deviceProblem)
            {
                throw top.Item("excludeDevices", i).Error($"\"{CniNames.Printable(deviceList[i])}\" {deviceProblem}");
            }

            if (!devices.Contains(deviceList[i], StringComparer.Ordinal))
            {
                devices.Add(deviceList[i]);
            }
        }

        var delegateConfig = top.OptObject(json, "delegate") ?? throw top.Missing("delegate");
        var delegateScope = top.Child("delegate");
        var delegateType = delegateScope.ReqString(delegateConfig, "type");
        if (PluginPath.NameProblem(delegateType) is { } typeProblem)
        {
            throw delegateScope.Error("type", $"\"{CniNames.Printable(delegateType)}\" {typeProblem}");
        }

        var delegateVersion = version;
        if (delegateScope.OptString(delegateConfig, "cniVersion") is { } delegateDeclared
            && (!CniVersion.TryParse(delegateDeclared, out delegateVersion, out _) || !delegateVersion.IsSupported))
        {
            throw delegateScope.Error("cniVersion", $"\"{CniNames.Printable(delegateDeclared)}\" is not supported (supported: {string.Join(", ", CniVersion.Supported)})");
        }

        var args = top.OptObject(json, "args");
        var runtimeConfig = top.OptObject(json, "runtimeConfig");
        List<PortMapping> mappings = [];
        if (withMappings)
        {
            var mesosMappings = MesosMappings(args, top);
            mappings = runtimeConfig is not null && runtimeConfig.ContainsKey(CapabilityNames.PortMappings)
                ? CapabilityMappings(runtimeConfig, top.Child("runtimeConfig"))
                : mesosMappings;
            CheckConflicts(mappings, top);
        }

        var backend = top.OptString(json, "iptablesBackend") switch
        {
            null => BackendChoice.Auto,
            "nft" => BackendChoice.Nft,
            "legacy" => BackendChoice.Legacy,
            var other => throw top.Error("iptablesBackend", $"expected \"nft\" or \"legacy\", got \"{CniNames.Printable(other)}\""),
        };

        return new PortMapperConfig
        {
            Name = name,
            CniVersion = version,
            DeclaredCniVersion = declared,
            Chain = chain,
            ExcludeDevices = devices,
            Delegate = delegateConfig,
            DelegateType = delegateType,
            DelegateVersion = delegateVersion,
            Args = args,
            RuntimeConfig = runtimeConfig,
            PrevResult = json["prevResult"],
            Mappings = mappings,
            Snat = top.OptBool(json, "snat") ?? true,
            Backend = backend,
            Raw = json,
        };
    }

    /// <summary>Null when <paramref name="chain"/> can name a user-defined chain; otherwise why not.</summary>
    public static string? ChainProblem(string chain)
    {
        if (chain.Length is 0 or > MaxChainLength)
        {
            return $"must be 1 to {MaxChainLength} characters long";
        }

        if (!chain.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') || chain[0] == '-')
        {
            return "may hold only ASCII letters, digits, '_', '-' and '.', and must not start with '-'";
        }

        return ReservedChains.Contains(chain, StringComparer.Ordinal) ? "is a built-in chain or target name" : null;
    }

    /// <summary>Null when <paramref name="device"/> is an interface name iptables' <c>-i</c> takes (a trailing '+' is its wildcard).</summary>
    public static string? DeviceProblem(string device)
    {
        if (CniNames.InterfaceNameProblem(device) is { } problem)
        {
            return problem;
        }

        return device.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '@' or '+')
            ? null
            : "may hold only ASCII letters, digits, '_', '-', '.', '@' and '+'";
    }

    // Mesos: args["org.apache.mesos"].network_info is a NetworkInfo; only its port_mappings matter here.
    private static List<PortMapping> MesosMappings(JsonObject? args, JsonFields top)
    {
        if (args is null)
        {
            return [];
        }

        var argsScope = top.Child("args");
        if (argsScope.OptObject(args, RequestArgs.MesosKey) is not { } mesos)
        {
            return [];
        }

        var mesosScope = argsScope.Child(RequestArgs.MesosKey);
        if (mesosScope.OptObject(mesos, "network_info") is not { } networkInfo)
        {
            throw mesosScope.Missing("network_info");
        }

        var scope = mesosScope.Child("network_info");
        return scope.ObjectArray(networkInfo, "port_mappings", (entry, s) => Mapping(s, entry, "host_port", "container_port", hostIpKey: null));
    }

    // The portMappings capability (CONVENTIONS.md): [{hostPort, containerPort, protocol, hostIP}].
    private static List<PortMapping> CapabilityMappings(JsonObject runtimeConfig, JsonFields scope) =>
        scope.ObjectArray(runtimeConfig, CapabilityNames.PortMappings, (entry, s) => Mapping(s, entry, "hostPort", "containerPort", "hostIP"));

    private static PortMapping Mapping(JsonFields scope, JsonObject entry, string hostPortKey, string containerPortKey, string? hostIpKey)
    {
        var hostPort = Port(scope, entry, hostPortKey);
        var containerPort = Port(scope, entry, containerPortKey);
        var protocol = (scope.OptString(entry, "protocol") is { Length: > 0 } p ? p : "tcp").ToLowerInvariant();
        if (protocol is not ("tcp" or "udp" or "sctp"))
        {
            throw scope.Error("protocol", $"\"{CniNames.Printable(protocol)}\" is not tcp, udp or sctp");
        }

        string? hostIp = null;
        if (hostIpKey is not null && scope.OptString(entry, hostIpKey) is { Length: > 0 } ipText)
        {
            if (!CniIp.TryParse(ipText, out var address))
            {
                throw scope.Error(hostIpKey, $"\"{CniNames.Printable(ipText)}\" is not an IP address");
            }

            if (address.IsIPv4MappedToIPv6)
            {
                address = address.MapToIPv4();
            }

            // The unspecified address means "every address", as it does for portmap.
            hostIp = address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ? null : address.ToString();
        }

        return new PortMapping(hostPort, containerPort, protocol, hostIp);
    }

    private static int Port(JsonFields scope, JsonObject entry, string key)
    {
        var port = scope.OptInt(entry, key) ?? throw scope.Missing(key);
        return port is >= 1 and <= 65535 ? port : throw scope.Error(key, $"{port} is not a port (1-65535)");
    }

    // Two mappings of one host port and protocol would race for the same packets: the first DNAT rule would win.
    private static void CheckConflicts(IReadOnlyList<PortMapping> mappings, JsonFields top)
    {
        for (var i = 0; i < mappings.Count; i++)
        {
            for (var j = 0; j < i; j++)
            {
                var (a, b) = (mappings[i], mappings[j]);
                if (a.HostPort == b.HostPort && a.Protocol == b.Protocol
                    && (a.HostIp is null || b.HostIp is null || a.HostIp == b.HostIp))
                {
                    var on = (a.HostIp ?? b.HostIp) is { } ip ? $" on {ip}" : "";
                    throw top.Error($"port mappings {j} and {i} both map host port {a.Protocol}/{a.HostPort}{on}");
                }
            }
        }
    }

    private sealed class ConfigFieldException(string message) : Exception(message);
}
