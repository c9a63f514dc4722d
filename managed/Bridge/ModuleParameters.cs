using System.Globalization;

namespace NetIsolator.Bridge;

/// <summary>
/// The <c>parameters</c> of one module in the agent's --modules manifest. Reading a key marks it as known; once
/// the isolator is constructed, the bridge rejects every key nobody read, so a misspelt parameter fails the agent
/// start with a message instead of being silently ignored. When a key is repeated, the last value wins.
/// </summary>
public sealed class ModuleParameters
{
    private readonly IReadOnlyList<KeyValuePair<string, string>> _parameters;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public ModuleParameters(string moduleName, IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        ModuleName = moduleName;
        _parameters = parameters;
    }

    /// <summary>The module these parameters belong to; error texts name it.</summary>
    public string ModuleName { get; }

    /// <summary>The value of <paramref name="key"/>, or null when it is absent.</summary>
    public string? Get(string key)
    {
        _read.Add(key);
        string? value = null;
        foreach (var (k, v) in _parameters)
        {
            if (k == key)
            {
                value = v;
            }
        }
        return value;
    }

    /// <summary>The value of <paramref name="key"/>; absent or empty is an error.</summary>
    public string Require(string key)
    {
        var value = Get(key);
        return string.IsNullOrEmpty(value) ? throw Invalid(key, "is required") : value;
    }

    public string Get(string key, string defaultValue) => Get(key) ?? defaultValue;

    /// <summary>"true" or "false", as Mesos's boolean flags are written.</summary>
    public bool GetBoolean(string key, bool defaultValue) => Get(key) switch
    {
        null => defaultValue,
        "true" => true,
        "false" => false,
        var other => throw Invalid(key, $"must be true or false, not '{other}'"),
    };

    public long GetInt64(string key, long defaultValue, long minimum = long.MinValue, long maximum = long.MaxValue)
    {
        var text = Get(key);
        if (text is null)
        {
            return defaultValue;
        }
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            throw Invalid(key, $"must be an integer, not '{text}'");
        }
        return value < minimum || value > maximum
            ? throw Invalid(key, $"must be between {minimum} and {maximum}, not {value}")
            : value;
    }

    /// <summary>Marks keys as consumed by someone other than the isolator (the provider's own parameters).</summary>
    internal void MarkRead(params string[] keys) => _read.UnionWith(keys);

    /// <summary>Throws if a key was never read: it is unknown to this module, most likely misspelt.</summary>
    internal void RejectUnknown()
    {
        var unknown = _parameters.Select(p => p.Key).Where(k => !_read.Contains(k)).Distinct().ToList();
        if (unknown.Count > 0)
        {
            var known = string.Join(", ", _read.Order(StringComparer.Ordinal).Select(k => $"'{k}'"));
            throw new ModuleParameterException(
                $"module '{ModuleName}': unknown parameter(s) {string.Join(", ", unknown.Select(k => $"'{k}'"))}; "
                + $"known: {known}");
        }
    }

    private ModuleParameterException Invalid(string key, string problem) =>
        new($"module '{ModuleName}': parameter '{key}' {problem}");
}

/// <summary>A module parameter is missing, malformed or unknown.</summary>
public sealed class ModuleParameterException(string message) : Exception(message);
