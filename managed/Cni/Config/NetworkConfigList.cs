using System.Text.Json;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Results;
using NetIsolator.Cni.Versions;

namespace NetIsolator.Cni.Config;

/// <summary>
/// A network: a list of plugins run in order, loaded from a <c>.conflist</c> or from a single-plugin
/// <c>.conf</c>/<c>.json</c> that was wrapped into a one-plugin list (libcni ConfListFromConf: the name and cniVersion
/// are lifted to the list). Keeps the exact bytes it was read from so the runtime can checkpoint them for DEL.
/// </summary>
public sealed class NetworkConfigList
{
    /// <summary>Config files larger than this are refused rather than read.</summary>
    public const int MaxConfigBytes = 1 << 20;

    private readonly byte[] _bytes;

    private NetworkConfigList(
        string source,
        byte[] bytes,
        string name,
        CniVersion cniVersion,
        string? declaredCniVersion,
        IReadOnlyList<string> cniVersions,
        bool disableCheck,
        bool disableGc,
        bool isSinglePlugin,
        IReadOnlyList<PluginConfig> plugins)
    {
        Source = source;
        _bytes = bytes;
        Name = name;
        CniVersion = cniVersion;
        DeclaredCniVersion = declaredCniVersion;
        CniVersions = cniVersions;
        DisableCheck = disableCheck;
        DisableGc = disableGc;
        IsSinglePlugin = isSinglePlugin;
        Plugins = plugins;
    }

    /// <summary>Where the config came from (a file path, or what the caller passed to <see cref="FromBytes"/>).</summary>
    public string Source { get; }

    /// <summary>The exact bytes the list was parsed from; <see cref="FromBytes"/> over them gives the same list.</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    public string Name { get; }

    /// <summary>
    /// The version every plugin is run at: the highest supported of <c>cniVersions</c> ∪ {<c>cniVersion</c>}, or
    /// <c>cniVersion</c> alone, or 0.1.0 when neither is written.
    /// </summary>
    public CniVersion CniVersion { get; }

    /// <summary><c>cniVersion</c> as written; null when absent.</summary>
    public string? DeclaredCniVersion { get; }

    /// <summary><c>cniVersions</c> (1.1.0) as written; empty when absent.</summary>
    public IReadOnlyList<string> CniVersions { get; }

    public bool DisableCheck { get; }

    public bool DisableGc { get; }

    /// <summary>True when the source was a single-plugin config (no <c>plugins</c> key) wrapped into a list.</summary>
    public bool IsSinglePlugin { get; }

    public IReadOnlyList<PluginConfig> Plugins { get; }

    /// <summary>Reads and parses one config file; the error names the file, the key and the problem.</summary>
    public static NetworkConfigList LoadFile(string path)
    {
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > MaxConfigBytes)
            {
                throw new CniConfigException($"'{path}': file is {stream.Length} bytes, more than {MaxConfigBytes}");
            }

            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CniConfigException($"'{path}': cannot read: {e.Message}", e);
        }

        var requireList = path.EndsWith(".conflist", StringComparison.Ordinal);
        return Parse(bytes, path, requireList);
    }

    /// <summary>
    /// Parses a config from bytes (a checkpoint, a test literal). A JSON object with a <c>plugins</c> key is a list;
    /// anything else is a single-plugin config. <paramref name="source"/> names it in errors.
    /// </summary>
    public static NetworkConfigList FromBytes(ReadOnlySpan<byte> bytes, string source) =>
        Parse(bytes.ToArray(), source, requireList: false);

    /// <summary>The list as a conflist JSON object (a single-plugin config shows in its wrapped form); a fresh copy.</summary>
    public JsonObject ToConfListJson()
    {
        var json = new JsonObject();
        if (DeclaredCniVersion is not null)
        {
            json["cniVersion"] = DeclaredCniVersion;
        }

        if (CniVersions.Count > 0)
        {
            json["cniVersions"] = new JsonArray([.. CniVersions.Select(v => (JsonNode?)JsonValue.Create(v))]);
        }

        json["name"] = Name;
        if (DisableCheck)
        {
            json["disableCheck"] = true;
        }

        if (DisableGc)
        {
            json["disableGC"] = true;
        }

        json["plugins"] = new JsonArray([.. Plugins.Select(p => (JsonNode)p.RawJson())]);
        return json;
    }

    public override string ToString() => $"network \"{Name}\" ('{Source}')";

    private static NetworkConfigList Parse(byte[] bytes, string source, bool requireList)
    {
        var subject = $"'{source}'";
        var top = new JsonFields(subject, m => new CniConfigException(m));
        JsonObject json;
        try
        {
            var node = JsonNode.Parse(bytes);
            json = node as JsonObject ?? throw top.Error($"expected a JSON object, got {JsonFields.KindOf(node)}");
            _ = json.Count; // materialises the properties, so duplicate keys surface here
        }
        catch (JsonException e)
        {
            throw new CniConfigException($"{subject}: not valid JSON: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new CniConfigException($"{subject}: invalid JSON object: {e.Message}", e);
        }

        var isList = json.ContainsKey("plugins");
        if (requireList && !isList)
        {
            throw top.Missing("plugins");
        }

        var name = top.ReqString(json, "name");
        if (NetworkName.Problem(name) is { } nameProblem)
        {
            throw top.Error("name", $"\"{Escape(name)}\" {nameProblem}");
        }

        var declaredVersion = top.OptString(json, "cniVersion");
        var cniVersions = top.StringArray(json, "cniVersions");
        var version = SelectVersion(top, declaredVersion, cniVersions);

        List<PluginConfig> plugins;
        bool disableCheck = false, disableGc = false;
        if (isList)
        {
            disableCheck = ReadFlag(top, json, "disableCheck");
            disableGc = ReadFlag(top, json, "disableGC");
            var array = top.OptArray(json, "plugins") ?? throw top.Missing("plugins");
            if (array.Count == 0)
            {
                throw top.Error("plugins", "must list at least one plugin");
            }

            plugins = [];
            for (var i = 0; i < array.Count; i++)
            {
                var scope = top.Item("plugins", i);
                if (array[i] is not JsonObject plugin)
                {
                    throw scope.Error($"expected an object, got {JsonFields.KindOf(array[i])}");
                }

                plugins.Add(ReadPlugin(i, plugin, scope));
            }

            if (plugins.Count > 1 && !CniFeatures.SupportsConfigLists(version))
            {
                throw top.Error(
                    "cniVersion",
                    $"{version} does not support chaining {plugins.Count} plugins; lists need 0.3.0 or later");
            }
        }
        else
        {
            plugins = [ReadPlugin(0, json, top)];
        }

        return new NetworkConfigList(
            source, bytes, name, version, declaredVersion, cniVersions, disableCheck, disableGc, !isList, plugins);
    }

    private static CniVersion SelectVersion(JsonFields top, string? declared, List<string> cniVersions)
    {
        CniVersion declaredVersion = default;
        if (declared is not null && !CniVersion.TryParse(declared, out declaredVersion, out var problem))
        {
            throw top.Error("cniVersion", $"invalid version \"{declared}\": {problem}");
        }

        var supportedList = string.Join(", ", CniVersion.Supported);
        if (cniVersions.Count == 0)
        {
            if (declared is null)
            {
                return CniVersion.Default;
            }

            return declaredVersion.IsSupported
                ? declaredVersion
                : throw top.Error("cniVersion", $"\"{declared}\" is not supported (supported: {supportedList})");
        }

        CniVersion? best;
        try
        {
            best = CniFeatures.SelectHighestSupported(declared is null ? cniVersions : [.. cniVersions, declared]);
        }
        catch (CniVersionException e)
        {
            throw top.Error(e.Message);
        }

        return best ?? throw top.Error(
            "cniVersions",
            $"none of [{string.Join(", ", cniVersions)}]{(declared is null ? "" : $" nor cniVersion \"{declared}\"")} "
            + $"is supported (supported: {supportedList})");
    }

    private static bool ReadFlag(JsonFields scope, JsonObject json, string key)
    {
        // libcni accepts both a boolean and the strings "true"/"false" here.
        if (json[key] is JsonValue value && value.TryGetValue(out string? text))
        {
            return text switch
            {
                "true" => true,
                "false" => false,
                _ => throw scope.Error(key, $"expected true or false, got \"{text}\""),
            };
        }

        return scope.OptBool(json, key) ?? false;
    }

    private static PluginConfig ReadPlugin(int index, JsonObject plugin, JsonFields scope)
    {
        var type = scope.ReqString(plugin, "type");
        if (PluginPath.NameProblem(type) is { } typeProblem)
        {
            throw scope.Error("type", $"\"{Escape(type)}\" {typeProblem}");
        }

        var capabilities = new Dictionary<string, bool>(StringComparer.Ordinal);
        if (scope.OptObject(plugin, "capabilities") is { } caps)
        {
            var capsScope = scope.Child("capabilities");
            foreach (var (key, _) in caps)
            {
                capabilities[key] = capsScope.OptBool(caps, key)
                    ?? throw capsScope.Error(key, "expected a boolean, got null");
            }
        }

        string? ipamType = null;
        if (scope.OptObject(plugin, "ipam") is { } ipam)
        {
            var ipamScope = scope.Child("ipam");
            ipamType = ipamScope.ReqString(ipam, "type");
            if (PluginPath.NameProblem(ipamType) is { } ipamProblem)
            {
                throw ipamScope.Error("type", $"\"{Escape(ipamType)}\" {ipamProblem}");
            }
        }

        return new PluginConfig(index, plugin, type, capabilities, ipamType);
    }

    private static string Escape(string text)
    {
        var shown = text.Length > 64 ? text[..64] + "…" : text;
        return JsonEncodedText.Encode(shown, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString();
    }
}
