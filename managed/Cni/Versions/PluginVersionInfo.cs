using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NetIsolator.Cni.Versions;

/// <summary>
/// A plugin's answer to VERSION: <c>{"cniVersion": "1.1.0", "supportedVersions": ["0.1.0", …]}</c>.
/// A plugin too old to know VERSION fails with "unknown CNI_COMMAND: VERSION", which means it speaks 0.1.0 only
/// (<see cref="Legacy"/>; libcni GetVersionInfo does the same).
/// </summary>
public sealed class PluginVersionInfo
{
    /// <summary>The message an old plugin prints (as its error <c>msg</c> or on stderr) when it does not know VERSION.</summary>
    public const string UnknownVersionCommandMessage = "unknown CNI_COMMAND: VERSION";

    private PluginVersionInfo(string cniVersion, IReadOnlyList<string> supportedVersions)
    {
        CniVersion = cniVersion;
        SupportedVersions = supportedVersions;
    }

    /// <summary>What a plugin that does not implement VERSION supports: 0.1.0.</summary>
    public static PluginVersionInfo Legacy { get; } = new("0.1.0", ["0.1.0"]);

    /// <summary>The <c>cniVersion</c> the plugin answered with (informational).</summary>
    public string CniVersion { get; }

    /// <summary>The versions the plugin says it speaks, verbatim.</summary>
    public IReadOnlyList<string> SupportedVersions { get; }

    /// <summary>True when the plugin lists <paramref name="version"/> (compared numerically, so "0.4" matches 0.4.0).</summary>
    public bool Supports(CniVersion version) =>
        SupportedVersions.Any(v => Versions.CniVersion.TryParse(v, out var parsed) && parsed == version);

    /// <summary>The highest version both the plugin and the runtime speak, or null when they share none.</summary>
    public CniVersion? HighestCommon() => CniFeatures.SelectHighestSupported(
        SupportedVersions.Where(v => Versions.CniVersion.TryParse(v, out _)));

    /// <summary>True when a failed VERSION call's message says the plugin does not know the verb.</summary>
    public static bool IsUnknownVersionCommand(string? message) =>
        message is not null && message.Contains(UnknownVersionCommandMessage, StringComparison.Ordinal);

    /// <summary>Parses a VERSION answer; errors name the field.</summary>
    public static PluginVersionInfo Parse(ReadOnlySpan<byte> json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new CniVersionException($"VERSION answer: not valid JSON: {e.Message}");
        }

        if (node is not JsonObject obj)
        {
            throw new CniVersionException(
                $"VERSION answer: expected a JSON object, got {Describe(node)} ({Truncate(json)})");
        }

        var cniVersion = obj["cniVersion"] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        if (cniVersion is null)
        {
            throw new CniVersionException("VERSION answer: \"cniVersion\": missing or not a string");
        }

        if (obj["supportedVersions"] is not JsonArray array)
        {
            throw new CniVersionException("VERSION answer: \"supportedVersions\": missing or not an array");
        }

        var supported = new List<string>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonValue item || !item.TryGetValue(out string? text))
            {
                throw new CniVersionException($"VERSION answer: supportedVersions[{i}]: not a string");
            }

            if (!Versions.CniVersion.TryParse(text, out _, out var problem))
            {
                throw new CniVersionException($"VERSION answer: supportedVersions[{i}]: invalid version \"{text}\": {problem}");
            }

            supported.Add(text);
        }

        return new PluginVersionInfo(cniVersion, supported);
    }

    /// <summary>Builds the VERSION request's stdin: <c>{"cniVersion": "&lt;version&gt;"}</c> (default: the latest).</summary>
    public static byte[] BuildRequest(CniVersion? version = null) =>
        Encoding.UTF8.GetBytes(new JsonObject { ["cniVersion"] = (version ?? Versions.CniVersion.Latest).ToString() }
            .ToJsonString());

    private static string Describe(JsonNode? node) => node is null ? "null" : node.GetValueKind().ToString();

    private static string Truncate(ReadOnlySpan<byte> json)
    {
        var text = Encoding.UTF8.GetString(json);
        return text.Length <= 80 ? text : text[..80] + "…";
    }
}
