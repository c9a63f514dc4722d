using System.Text.Json;
using System.Text.Json.Nodes;

namespace NetIsolator.Cni.Results;

/// <summary>
/// Typed reads from a <see cref="JsonObject"/> whose errors say where: <c>&lt;subject&gt;: &lt;path&gt;: &lt;problem&gt;</c>,
/// e.g. <c>'/etc/cni/net.d/10-x.conflist': plugins[1]: missing "type"</c>. Shared by the config, result and request code.
/// </summary>
internal readonly struct JsonFields
{
    private readonly string _subject;
    private readonly string _path;
    private readonly Func<string, Exception> _fail;

    public JsonFields(string subject, Func<string, Exception> fail, string path = "")
    {
        _subject = subject;
        _fail = fail;
        _path = path;
    }

    public string Path => _path;

    public JsonFields Child(string key) => new(_subject, _fail, _path.Length == 0 ? key : $"{_path}.{key}");

    public JsonFields Item(string key, int index) =>
        new(_subject, _fail, _path.Length == 0 ? $"{key}[{index}]" : $"{_path}.{key}[{index}]");

    /// <summary>An error about this scope (no key).</summary>
    public Exception Error(string problem) =>
        _fail(_path.Length == 0 ? $"{_subject}: {problem}" : $"{_subject}: {_path}: {problem}");

    /// <summary>An error about <paramref name="key"/> in this scope.</summary>
    public Exception Error(string key, string problem) => Error($"\"{key}\": {problem}");

    public Exception Missing(string key) => Error($"missing \"{key}\"");

    public static string KindOf(JsonNode? node) => node switch
    {
        null => "null",
        _ => node.GetValueKind() switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "null",
        },
    };

    public string? OptString(JsonObject obj, string key)
    {
        if (!obj.TryGetPropertyValue(key, out var node) || node is null)
        {
            return null;
        }

        return node is JsonValue value && value.TryGetValue(out string? text)
            ? text
            : throw Error(key, $"expected a string, got {KindOf(node)}");
    }

    public string ReqString(JsonObject obj, string key) => OptString(obj, key) ?? throw Missing(key);

    public bool? OptBool(JsonObject obj, string key)
    {
        if (!obj.TryGetPropertyValue(key, out var node) || node is null)
        {
            return null;
        }

        return node is JsonValue value && value.TryGetValue(out bool flag)
            ? flag
            : throw Error(key, $"expected a boolean, got {KindOf(node)}");
    }

    public int? OptInt(JsonObject obj, string key, int min = int.MinValue)
    {
        if (!obj.TryGetPropertyValue(key, out var node) || node is null)
        {
            return null;
        }

        if (node is not JsonValue value || node.GetValueKind() != JsonValueKind.Number)
        {
            throw Error(key, $"expected an integer, got {KindOf(node)}");
        }

        if (!value.TryGetValue(out int number))
        {
            // JsonValue over a JsonElement only converts exact integers in range.
            throw Error(key, $"expected an integer, got {node.ToJsonString()}");
        }

        return number >= min ? number : throw Error(key, $"must be at least {min}, got {number}");
    }

    public JsonObject? OptObject(JsonObject obj, string key)
    {
        if (!obj.TryGetPropertyValue(key, out var node) || node is null)
        {
            return null;
        }

        return node as JsonObject ?? throw Error(key, $"expected an object, got {KindOf(node)}");
    }

    public JsonArray? OptArray(JsonObject obj, string key)
    {
        if (!obj.TryGetPropertyValue(key, out var node) || node is null)
        {
            return null;
        }

        return node as JsonArray ?? throw Error(key, $"expected an array, got {KindOf(node)}");
    }

    /// <summary>Each element of an optional array, which must be an object; the callback gets the element's scope.</summary>
    public List<T> ObjectArray<T>(JsonObject obj, string key, Func<JsonObject, JsonFields, T> read)
    {
        var array = OptArray(obj, key);
        var items = new List<T>(array?.Count ?? 0);
        for (var i = 0; i < (array?.Count ?? 0); i++)
        {
            var scope = Item(key, i);
            if (array![i] is not JsonObject item)
            {
                throw scope.Error($"expected an object, got {KindOf(array[i])}");
            }

            items.Add(read(item, scope));
        }

        return items;
    }

    public List<string> StringArray(JsonObject obj, string key)
    {
        var array = OptArray(obj, key);
        var items = new List<string>(array?.Count ?? 0);
        for (var i = 0; i < (array?.Count ?? 0); i++)
        {
            if (array![i] is not JsonValue value || !value.TryGetValue(out string? text))
            {
                throw Item(key, i).Error($"expected a string, got {KindOf(array[i])}");
            }

            items.Add(text);
        }

        return items;
    }
}
