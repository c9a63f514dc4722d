using System.Net;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Versions;

namespace NetIsolator.Cni.Results;

/// <summary>
/// The one in-memory shape of a CNI ADD result, whatever version it was read at: a superset of every spec version
/// (1.1.0's fields included). The version it currently claims is <see cref="CniVersion"/>; <see cref="ConvertTo"/>
/// re-expresses it at another version, dropping what that version cannot carry.
/// </summary>
public sealed class CniResult
{
    public required CniVersion CniVersion { get; init; }

    public IReadOnlyList<CniInterface> Interfaces { get; init; } = [];

    public IReadOnlyList<CniIpConfig> Ips { get; init; } = [];

    public IReadOnlyList<CniRoute> Routes { get; init; } = [];

    public CniDns Dns { get; init; } = CniDns.Empty;

    /// <summary>This result at <paramref name="version"/> (see <see cref="ResultConverters"/> for the rules).</summary>
    public CniResult ConvertTo(CniVersion version) => ResultConverters.Convert(this, version);

    /// <summary>The JSON object a plugin at <see cref="CniVersion"/> would print for this result.</summary>
    public JsonObject ToJson() => ResultCodecs.For(CniVersion).Write(this);

    /// <summary><see cref="ToJson"/> as compact UTF-8.</summary>
    public byte[] ToUtf8Bytes() => System.Text.Encoding.UTF8.GetBytes(ToJson().ToJsonString());

    public override string ToString() => ToJson().ToJsonString();

    internal CniResult With(
        CniVersion? version = null,
        IReadOnlyList<CniInterface>? interfaces = null,
        IReadOnlyList<CniIpConfig>? ips = null,
        IReadOnlyList<CniRoute>? routes = null) => new()
    {
        CniVersion = version ?? CniVersion,
        Interfaces = interfaces ?? Interfaces,
        Ips = ips ?? Ips,
        Routes = routes ?? Routes,
        Dns = Dns,
    };
}

/// <summary>
/// An interface a plugin created. <see cref="Mtu"/>, <see cref="SocketPath"/> and <see cref="PciId"/> exist from
/// spec 1.1.0 on.
/// </summary>
public sealed record CniInterface(string Name)
{
    public string? Mac { get; init; }

    public int? Mtu { get; init; }

    /// <summary>The netns path for interfaces inside the container; absent for host-side ones.</summary>
    public string? Sandbox { get; init; }

    public string? SocketPath { get; init; }

    public string? PciId { get; init; }
}

/// <summary>
/// An address a plugin assigned. <see cref="Interface"/> indexes <see cref="CniResult.Interfaces"/> (0.3.0 on);
/// results converted up from 0.2.0 have none.
/// </summary>
public sealed record CniIpConfig(IpPrefix Address)
{
    public IPAddress? Gateway { get; init; }

    public int? Interface { get; init; }

    public bool IsIPv4 => Address.IsIPv4;
}

/// <summary>A route. Everything but <see cref="Destination"/> and <see cref="Gateway"/> exists from spec 1.1.0 on.</summary>
public sealed record CniRoute(IpPrefix Destination)
{
    public IPAddress? Gateway { get; init; }

    public int? Mtu { get; init; }

    public int? AdvMss { get; init; }

    public int? Priority { get; init; }

    public int? Table { get; init; }

    public int? Scope { get; init; }

    /// <summary>True when any field newer than 1.0.0 is set.</summary>
    public bool HasV11Fields => Mtu is not null || AdvMss is not null || Priority is not null || Table is not null
        || Scope is not null;
}

/// <summary>DNS settings, identical in every spec version.</summary>
public sealed record CniDns
{
    public static CniDns Empty { get; } = new();

    public IReadOnlyList<string> Nameservers { get; init; } = [];

    public string? Domain { get; init; }

    public IReadOnlyList<string> Search { get; init; } = [];

    public IReadOnlyList<string> Options { get; init; } = [];

    public bool IsEmpty => Nameservers.Count == 0 && string.IsNullOrEmpty(Domain) && Search.Count == 0
        && Options.Count == 0;
}
