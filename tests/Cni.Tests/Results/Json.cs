using System.Text;
using System.Text.Json.Nodes;
using Xunit;

namespace NetIsolator.Cni.Tests.Results;

/// <summary>JSON golden comparisons: structural equality, with both documents in the failure message.</summary>
internal static class Json
{
    public static JsonNode Parse(string json) => JsonNode.Parse(json)!;

    /// <summary>A JSON string literal for <paramref name="text"/>, quotes and escapes included.</summary>
    public static string Quote(string text) => JsonValue.Create(text).ToJsonString();

    public static byte[] Utf8(string json) => Encoding.UTF8.GetBytes(json);

    public static void Equal(string expected, JsonNode? actual)
    {
        var want = JsonNode.Parse(expected);
        Assert.True(
            JsonNode.DeepEquals(want, actual),
            $"JSON differs.\nexpected: {want?.ToJsonString()}\nactual:   {actual?.ToJsonString()}");
    }

    public static void Equal(string expected, byte[] actual) => Equal(expected, JsonNode.Parse(actual));
}
