using NetIsolator.Cni.Tests.Results;
using NetIsolator.Cni.Versions;
using Xunit;

namespace NetIsolator.Cni.Tests.Versions;

public sealed class PluginVersionInfoTests
{
    [Fact]
    public void Parses_a_modern_answer()
    {
        var info = PluginVersionInfo.Parse(Json.Utf8(
            """{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"""));
        Assert.Equal("1.1.0", info.CniVersion);
        Assert.Equal(7, info.SupportedVersions.Count);
        Assert.True(info.Supports(CniVersion.V040));
        Assert.Equal(CniVersion.V110, info.HighestCommon());
    }

    [Fact]
    public void Highest_common_ignores_versions_the_runtime_does_not_know()
    {
        var info = PluginVersionInfo.Parse(Json.Utf8("""{"cniVersion":"1.2.0","supportedVersions":["0.4.0","1.0.0","1.2.0"]}"""));
        Assert.Equal(CniVersion.V100, info.HighestCommon());
        Assert.False(info.Supports(CniVersion.V110));
    }

    [Fact]
    public void Unknown_version_command_means_0_1_0_only()
    {
        Assert.True(PluginVersionInfo.IsUnknownVersionCommand("unknown CNI_COMMAND: VERSION"));
        Assert.False(PluginVersionInfo.IsUnknownVersionCommand("failed to open netns"));
        Assert.Equal(["0.1.0"], PluginVersionInfo.Legacy.SupportedVersions);
        Assert.True(PluginVersionInfo.Legacy.Supports(CniVersion.V010));
        Assert.False(PluginVersionInfo.Legacy.Supports(CniVersion.V020));
    }

    [Theory]
    [InlineData("""{"supportedVersions":["0.1.0"]}""", "\"cniVersion\"")]
    [InlineData("""{"cniVersion":"1.0.0"}""", "\"supportedVersions\"")]
    [InlineData("""{"cniVersion":"1.0.0","supportedVersions":["1.0.0",4]}""", "supportedVersions[1]")]
    [InlineData("""{"cniVersion":"1.0.0","supportedVersions":["1.0.0","one"]}""", "supportedVersions[1]")]
    [InlineData("""["1.0.0"]""", "expected a JSON object")]
    [InlineData("not json", "not valid JSON")]
    public void Malformed_answers_name_the_field(string json, string expected)
    {
        var e = Assert.Throws<CniVersionException>(() => PluginVersionInfo.Parse(Json.Utf8(json)));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("VERSION answer", e.Message);
    }

    [Fact]
    public void Request_carries_the_latest_version_by_default()
    {
        Json.Equal("""{"cniVersion":"1.1.0"}""", PluginVersionInfo.BuildRequest());
        Json.Equal("""{"cniVersion":"0.4.0"}""", PluginVersionInfo.BuildRequest(CniVersion.V040));
    }
}
