using NetIsolator.Cni.Requests;
using NetIsolator.Cni.Tests.Results;
using Xunit;

namespace NetIsolator.Cni.Tests.Requests;

public sealed class CniErrorTests
{
    [Fact]
    public void Parses_a_plugin_error()
    {
        var error = CniError.Parse(Json.Utf8("""
            {"cniVersion":"1.0.0","code":7,"msg":"invalid network config","details":"missing bridge name"}
            """));
        Assert.Equal(CniErrorCodes.InvalidNetworkConfig, error.Code);
        Assert.Equal("invalid network config", error.Msg);
        Assert.Equal("missing bridge name", error.Details);
        Assert.Equal("1.0.0", error.CniVersion);
        Assert.Equal("[code 7 (invalid network config)] invalid network config: missing bridge name", error.ToString());
    }

    [Fact]
    public void Well_known_codes_have_their_spec_values()
    {
        Assert.Equal(
            new uint[] { 1, 2, 3, 4, 5, 6, 7, 11, 50, 51, 100 },
            new[] { CniErrorCodes.IncompatibleVersion, CniErrorCodes.UnsupportedField, CniErrorCodes.UnknownContainer,
             CniErrorCodes.InvalidEnvironmentVariables, CniErrorCodes.IoFailure, CniErrorCodes.DecodingFailure,
             CniErrorCodes.InvalidNetworkConfig, CniErrorCodes.TryAgainLater, CniErrorCodes.PluginNotAvailable,
             CniErrorCodes.PluginNotAvailableLimitedConnectivity, CniErrorCodes.FirstPluginSpecific });
        Assert.True(new CniError(11, "busy").IsTryAgainLater);
        Assert.True(new CniError(101, "portmapper").IsPluginSpecific);
        Assert.Equal("[code 101] portmapper", new CniError(101, "portmapper").ToString());
    }

    [Fact]
    public void Round_trips_through_json()
    {
        var error = new CniError(CniErrorCodes.TryAgainLater, "locked", "ipam store", "1.1.0");
        Json.Equal("""{"cniVersion":"1.1.0","code":11,"msg":"locked","details":"ipam store"}""", error.ToUtf8Bytes());
        Assert.Equal(error, CniError.Parse(error.ToUtf8Bytes()));
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("no such file or directory", "not valid JSON")]
    [InlineData("""{"msg":"x"}""", "error object: missing \"code\"")]
    [InlineData("""{"code":"7"}""", "error object: \"code\": expected an integer")]
    [InlineData("""{"code":-1}""", "\"code\": must be at least 0")]
    [InlineData("""{"code":7,"msg":3}""", "\"msg\": expected a string")]
    [InlineData("""["x"]""", "expected a JSON object")]
    public void Malformed_error_objects_name_the_field(string json, string expected)
    {
        var e = Assert.Throws<CniErrorFormatException>(() => CniError.Parse(Json.Utf8(json)));
        Assert.Contains(expected, e.Message);
        Assert.False(CniError.TryParse(Json.Utf8(json), out _));
    }
}
