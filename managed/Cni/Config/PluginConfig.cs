using System.Text.Json.Nodes;

namespace NetIsolator.Cni.Config;

/// <summary>
/// One plugin of a network list: its JSON exactly as written (unknown fields intact), plus the fields the runtime
/// reads: <c>type</c>, <c>capabilities</c> and <c>ipam.type</c>.
/// </summary>
public sealed class PluginConfig
{
    private readonly JsonObject _raw;

    internal PluginConfig(int index, JsonObject raw, string type, IReadOnlyDictionary<string, bool> capabilities, string? ipamType)
    {
        Index = index;
        _raw = raw;
        Type = type;
        Capabilities = capabilities;
        IpamType = ipamType;
    }

    /// <summary>The position in the list's <c>plugins</c>.</summary>
    public int Index { get; }

    /// <summary>The plugin binary's name, looked up in CNI_PATH (never contains '/' or "..").</summary>
    public string Type { get; }

    /// <summary>The <c>capabilities</c> map as written (true and false entries).</summary>
    public IReadOnlyDictionary<string, bool> Capabilities { get; }

    /// <summary><c>ipam.type</c> when the plugin has an <c>ipam</c> section (its binary is looked up the same way).</summary>
    public string? IpamType { get; }

    /// <summary>True when the plugin declares <paramref name="capability"/> as true.</summary>
    public bool HasCapability(string capability) => Capabilities.TryGetValue(capability, out var on) && on;

    /// <summary>A deep copy of the plugin's JSON as written (for a single-plugin .conf, the whole file).</summary>
    public JsonObject RawJson() => (JsonObject)_raw.DeepClone();

    /// <summary>Reads one field of the raw JSON without copying the whole object; the node must not be modified.</summary>
    internal JsonNode? this[string key] => _raw[key];

    internal JsonObject Raw => _raw;

    /// <summary><c>plugins[1] (portmap)</c>, for messages.</summary>
    public override string ToString() => $"plugins[{Index}] ({Type})";
}
