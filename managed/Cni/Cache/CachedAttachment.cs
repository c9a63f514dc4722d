using System.Text.Json.Nodes;

namespace NetIsolator.Cni.Cache;

/// <summary>
/// One cached network attachment: what libcni stores in <c>&lt;cacheDir&gt;/results/&lt;net&gt;-&lt;cid&gt;-&lt;ifname&gt;</c>
/// (kind <c>cniCacheV1</c>) after a successful ADD, so that DEL and CHECK get the same config and the ADD result.
/// </summary>
public sealed class CachedAttachment
{
    /// <summary>The network (conflist) name, JSON <c>networkName</c>.</summary>
    public required string NetworkName { get; init; }

    /// <summary>JSON <c>containerId</c>.</summary>
    public required string ContainerId { get; init; }

    /// <summary>JSON <c>ifName</c>.</summary>
    public required string IfName { get; init; }

    /// <summary>The exact config bytes used for ADD (JSON <c>config</c>, base64 as Go encodes []byte).</summary>
    public ReadOnlyMemory<byte> Config { get; init; }

    /// <summary>JSON <c>netns</c>, omitted when null or empty.</summary>
    public string? NetNs { get; init; }

    /// <summary>JSON <c>cniArgs</c> as <c>[["K","V"], ...]</c>, omitted when empty.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> CniArgs { get; init; } = [];

    /// <summary>JSON <c>capabilityArgs</c> (e.g. portMappings), omitted when null.</summary>
    public JsonObject? CapabilityArgs { get; init; }

    /// <summary>JSON <c>result</c>: the final ADD result, omitted when null.</summary>
    public JsonObject? Result { get; init; }
}

/// <summary>A cache file that could not be used; it is reported and skipped, never fatal.</summary>
/// <param name="Path">The file.</param>
/// <param name="Reason">What was wrong with it.</param>
/// <param name="Error">The underlying exception, if any.</param>
public sealed record CacheProblem(string Path, string Reason, Exception? Error = null)
{
    public override string ToString() => $"ignoring CNI cache file {Path}: {Reason}";
}
