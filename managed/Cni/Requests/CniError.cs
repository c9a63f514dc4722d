using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Results;

namespace NetIsolator.Cni.Requests;

/// <summary>The well-known CNI error codes (SPEC "Error"); 100 and above are plugin-specific.</summary>
public static class CniErrorCodes
{
    public const uint IncompatibleVersion = 1;
    public const uint UnsupportedField = 2;
    public const uint UnknownContainer = 3;
    public const uint InvalidEnvironmentVariables = 4;
    public const uint IoFailure = 5;
    public const uint DecodingFailure = 6;
    public const uint InvalidNetworkConfig = 7;
    public const uint TryAgainLater = 11;
    public const uint PluginNotAvailable = 50;
    public const uint PluginNotAvailableLimitedConnectivity = 51;
    public const uint FirstPluginSpecific = 100;

    /// <summary>A short name for a well-known code, or null for others.</summary>
    public static string? Describe(uint code) => code switch
    {
        IncompatibleVersion => "incompatible CNI version",
        UnsupportedField => "unsupported field in network configuration",
        UnknownContainer => "container unknown or does not exist",
        InvalidEnvironmentVariables => "invalid necessary environment variables",
        IoFailure => "I/O failure",
        DecodingFailure => "failed to decode content",
        InvalidNetworkConfig => "invalid network config",
        TryAgainLater => "try again later",
        PluginNotAvailable => "plugin not available",
        PluginNotAvailableLimitedConnectivity => "plugin not available, existing containers' connectivity limited",
        _ => null,
    };
}

/// <summary>
/// The error object a failing plugin prints on stdout: <c>{"cniVersion", "code", "msg", "details"}</c>.
/// </summary>
public sealed record CniError(uint Code, string Msg, string? Details = null, string? CniVersion = null)
{
    /// <summary>True for <see cref="CniErrorCodes.TryAgainLater"/>.</summary>
    public bool IsTryAgainLater => Code == CniErrorCodes.TryAgainLater;

    /// <summary>True for codes 100 and above.</summary>
    public bool IsPluginSpecific => Code >= CniErrorCodes.FirstPluginSpecific;

    /// <summary>
    /// Parses an error object; errors name the field (<c>error object: "code": expected a non-negative integer</c>).
    /// <c>code</c> is required; <c>msg</c> defaults to empty.
    /// </summary>
    public static CniError Parse(ReadOnlySpan<byte> json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new CniErrorFormatException($"error object: not valid JSON: {e.Message}");
        }

        var fields = new JsonFields("error object", m => new CniErrorFormatException(m));
        if (node is not JsonObject obj)
        {
            throw fields.Error($"expected a JSON object, got {JsonFields.KindOf(node)}");
        }

        var code = fields.OptInt(obj, "code", 0) ?? throw fields.Missing("code");
        return new CniError(
            (uint)code,
            fields.OptString(obj, "msg") ?? "",
            fields.OptString(obj, "details"),
            fields.OptString(obj, "cniVersion"));
    }

    /// <summary>As <see cref="Parse"/>, returning false instead of throwing (for falling back to raw output).</summary>
    public static bool TryParse(ReadOnlySpan<byte> json, [NotNullWhen(true)] out CniError? error)
    {
        try
        {
            error = Parse(json);
            return true;
        }
        catch (CniErrorFormatException)
        {
            error = null;
            return false;
        }
    }

    public JsonObject ToJson()
    {
        var json = new JsonObject();
        if (CniVersion is not null)
        {
            json["cniVersion"] = CniVersion;
        }

        json["code"] = Code;
        json["msg"] = Msg;
        if (!string.IsNullOrEmpty(Details))
        {
            json["details"] = Details;
        }

        return json;
    }

    public byte[] ToUtf8Bytes() => Encoding.UTF8.GetBytes(ToJson().ToJsonString());

    /// <summary><c>[code 7 (invalid network config)] msg: details</c>.</summary>
    public override string ToString()
    {
        var name = CniErrorCodes.Describe(Code);
        var head = name is null ? $"[code {Code}] {Msg}" : $"[code {Code} ({name})] {Msg}";
        return string.IsNullOrEmpty(Details) ? head : $"{head}: {Details}";
    }
}

/// <summary>Output that is not a CNI error object.</summary>
public sealed class CniErrorFormatException(string message) : FormatException(message);
