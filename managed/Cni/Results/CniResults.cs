using System.Text.Json;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Versions;

namespace NetIsolator.Cni.Results;

/// <summary>Parsing plugin results at any supported version.</summary>
public static class CniResults
{
    /// <summary>
    /// Parses a result printed by a plugin (or cached). A result without <c>cniVersion</c> takes
    /// <paramref name="fallbackVersion"/>, the network list's version (libcni ParsePrevResult); without either it is
    /// an error. Errors name the version and the field: <c>result (cniVersion 0.4.0): ips[1]: "address": …</c>.
    /// </summary>
    public static CniResult Parse(ReadOnlySpan<byte> json, CniVersion? fallbackVersion = null)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new CniResultException($"result: not valid JSON: {e.Message}");
        }

        return Parse(node, fallbackVersion);
    }

    /// <summary>As <see cref="Parse(ReadOnlySpan{byte}, CniVersion?)"/> over an already parsed node (not modified).</summary>
    public static CniResult Parse(JsonNode? node, CniVersion? fallbackVersion = null)
    {
        if (node is not JsonObject json)
        {
            throw new CniResultException($"result: expected a JSON object, got {JsonFields.KindOf(node)}");
        }

        var top = new JsonFields("result", m => new CniResultException(m));
        var versionText = top.OptString(json, "cniVersion");
        CniVersion version;
        if (string.IsNullOrEmpty(versionText))
        {
            version = fallbackVersion
                ?? throw new CniResultException("result: missing \"cniVersion\" and no config version to assume");
        }
        else if (!CniVersion.TryParse(versionText, out version, out var problem))
        {
            throw new CniResultException($"result: \"cniVersion\": invalid version \"{versionText}\": {problem}");
        }

        var codec = ResultCodecs.For(version);
        return codec.Read(json, version, new JsonFields($"result (cniVersion {version})", m => new CniResultException(m)));
    }

    /// <summary>Parses a result and converts it to <paramref name="version"/> (missing cniVersion means that version).</summary>
    public static CniResult ParseAs(ReadOnlySpan<byte> json, CniVersion version) =>
        Parse(json, version).ConvertTo(version);
}

/// <summary>A result that is malformed, or that cannot be expressed at the requested version.</summary>
public sealed class CniResultException(string message) : FormatException(message);
