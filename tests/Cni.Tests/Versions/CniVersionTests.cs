using NetIsolator.Cni.Versions;
using Xunit;

namespace NetIsolator.Cni.Tests.Versions;

public sealed class CniVersionTests
{
    public static TheoryData<string> AllSpecVersions => new(CniVersion.Supported.Select(v => v.ToString()));

    [Theory]
    [MemberData(nameof(AllSpecVersions))]
    public void Every_supported_version_round_trips_and_is_supported(string text)
    {
        var version = CniVersion.Parse(text);
        Assert.Equal(text, version.ToString());
        Assert.True(version.IsSupported);
    }

    [Fact]
    public void Supported_set_is_exactly_the_seven_spec_versions_ascending()
    {
        Assert.Equal(
            ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
            CniVersion.Supported.Select(v => v.ToString()));
        Assert.Equal(CniVersion.Supported.Order(), CniVersion.Supported);
        Assert.Equal(CniVersion.V110, CniVersion.Latest);
    }

    [Theory]
    [InlineData("0.4", "0.4.0")]
    [InlineData("1", "1.0.0")]
    [InlineData("0.10.0", "0.10.0")]
    public void Short_forms_fill_missing_parts_with_zero(string text, string canonical) =>
        Assert.Equal(canonical, CniVersion.Parse(text).ToString());

    [Theory]
    [InlineData("")]
    [InlineData("1.0.0.0")]
    [InlineData("v1.0.0")]
    [InlineData("1..0")]
    [InlineData("-1.0.0")]
    [InlineData("1.0.0-rc1")]
    public void Malformed_versions_are_rejected_with_the_text(string text)
    {
        var e = Assert.Throws<CniVersionException>(() => CniVersion.Parse(text));
        Assert.Contains($"\"{text}\"", e.Message);
    }

    [Fact]
    public void Comparison_is_numeric_not_lexical()
    {
        Assert.True(CniVersion.Parse("0.10.0") > CniVersion.V040);
        Assert.True(CniVersion.V031 > CniVersion.V030);
        Assert.True(CniVersion.V100 > CniVersion.V040);
        Assert.True(CniVersion.V110 >= CniVersion.Parse("1.1"));
    }

    [Theory]
    [InlineData("0.5.0")]
    [InlineData("1.2.0")]
    [InlineData("2.0.0")]
    public void Parseable_but_unknown_versions_are_not_supported(string text)
    {
        Assert.False(CniVersion.Parse(text).IsSupported);
        var e = Assert.Throws<CniVersionException>(() => CniVersion.ParseSupported(text));
        Assert.Contains("not supported", e.Message);
        Assert.Contains("1.1.0", e.Message);
    }

    [Theory]
    [InlineData("0.2.0", false, false, false, false)]
    [InlineData("0.3.0", true, false, false, false)]
    [InlineData("0.3.1", true, false, false, false)]
    [InlineData("0.4.0", true, true, true, false)]
    [InlineData("1.0.0", true, true, true, false)]
    [InlineData("1.1.0", true, true, true, true)]
    public void Feature_gates_follow_the_spec(string text, bool lists, bool check, bool delPrev, bool gc)
    {
        var v = CniVersion.Parse(text);
        Assert.Equal(lists, CniFeatures.SupportsConfigLists(v));
        Assert.Equal(check, CniFeatures.SupportsCheck(v));
        Assert.Equal(delPrev, CniFeatures.DelReceivesPrevResult(v));
        Assert.Equal(gc, CniFeatures.SupportsGc(v));
        Assert.Equal(gc, CniFeatures.SupportsStatus(v));
    }

    [Fact]
    public void Highest_supported_is_selected_and_newer_unknown_versions_skipped()
    {
        Assert.Equal(CniVersion.V110, CniFeatures.SelectHighestSupported(["0.4.0", "1.1.0", "1.0.0"]));
        Assert.Equal(CniVersion.V100, CniFeatures.SelectHighestSupported(["1.0.0", "1.2.0", "9.0.0"]));
        Assert.Null(CniFeatures.SelectHighestSupported(["1.2.0"]));
        var e = Assert.Throws<CniVersionException>(() => CniFeatures.SelectHighestSupported(["1.0.0", "x"]));
        Assert.Contains("cniVersions[1]", e.Message);
    }
}
