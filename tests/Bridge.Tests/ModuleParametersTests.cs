namespace NetIsolator.Bridge.Tests;

public sealed class ModuleParametersTests
{
    private const string Module = "org_test_Module";

    private static ModuleParameters Parameters(params (string Key, string Value)[] parameters) =>
        new(Module, parameters.Select(p => KeyValuePair.Create(p.Key, p.Value)).ToList());

    [Fact]
    public void ModuleNameIsKept() => Assert.Equal(Module, Parameters().ModuleName);

    [Fact]
    public void LastValueOfARepeatedKeyWins()
    {
        var parameters = Parameters(("label", "first"), ("other", "x"), ("label", "second"));

        Assert.Equal("second", parameters.Get("label"));
        Assert.Equal("second", parameters.Require("label"));
        Assert.Equal("second", parameters.Get("label", "default"));
    }

    [Fact]
    public void RepeatedKeyLastValueWinsForTypedGetters()
    {
        var parameters = Parameters(("flag", "true"), ("n", "1"), ("flag", "false"), ("n", "2"));

        Assert.False(parameters.GetBoolean("flag", true));
        Assert.Equal(2, parameters.GetInt64("n", 0));
    }

    [Fact]
    public void AbsentKeyGivesNullOrTheDefault()
    {
        var parameters = Parameters(("label", "x"));

        Assert.Null(parameters.Get("missing"));
        Assert.Equal("fallback", parameters.Get("missing", "fallback"));
        Assert.True(parameters.GetBoolean("missing", true));
        Assert.Equal(-7, parameters.GetInt64("missing", -7, minimum: 0));
    }

    [Fact]
    public void RequireOfAnAbsentKeyThrowsNamingModuleAndKey()
    {
        var error = Assert.Throws<ModuleParameterException>(() => Parameters(("other", "x")).Require("network"));

        Assert.Equal($"module '{Module}': parameter 'network' is required", error.Message);
    }

    [Fact]
    public void RequireOfAnEmptyValueThrowsNamingModuleAndKey()
    {
        var error = Assert.Throws<ModuleParameterException>(() => Parameters(("network", "")).Require("network"));

        Assert.Contains($"'{Module}'", error.Message);
        Assert.Contains("'network' is required", error.Message);
    }

    [Fact]
    public void RequireReturnsAPresentValue() => Assert.Equal("net1", Parameters(("network", "net1")).Require("network"));

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public void GetBooleanAcceptsTrueAndFalse(string text, bool expected)
    {
        Assert.Equal(expected, Parameters(("flag", text)).GetBoolean("flag", !expected));
    }

    [Theory]
    [InlineData("True")]
    [InlineData("FALSE")]
    [InlineData("yes")]
    [InlineData("1")]
    [InlineData("")]
    [InlineData(" true")]
    public void GetBooleanRejectsAnythingButTrueAndFalseQuotingTheValue(string text)
    {
        var error = Assert.Throws<ModuleParameterException>(() => Parameters(("flag", text)).GetBoolean("flag", false));

        Assert.Equal($"module '{Module}': parameter 'flag' must be true or false, not '{text}'", error.Message);
    }

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("42", 42L)]
    [InlineData("-42", -42L)]
    [InlineData("+5", 5L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("-9223372036854775808", long.MinValue)]
    public void GetInt64ParsesIntegers(string text, long expected)
    {
        Assert.Equal(expected, Parameters(("n", text)).GetInt64("n", 99));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData("1.5")]
    [InlineData("1e3")]
    [InlineData("0x10")]
    [InlineData(" 5")]
    [InlineData("5 ")]
    [InlineData("1,000")]
    [InlineData("9223372036854775808")]
    public void GetInt64RejectsNonIntegersQuotingTheValue(string text)
    {
        var error = Assert.Throws<ModuleParameterException>(() => Parameters(("n", text)).GetInt64("n", 0));

        Assert.Equal($"module '{Module}': parameter 'n' must be an integer, not '{text}'", error.Message);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("11")]
    [InlineData("-3")]
    public void GetInt64RejectsValuesOutsideTheRange(string text)
    {
        var error = Assert.Throws<ModuleParameterException>(
            () => Parameters(("n", text)).GetInt64("n", 5, minimum: 1, maximum: 10));

        Assert.Equal($"module '{Module}': parameter 'n' must be between 1 and 10, not {long.Parse(text)}", error.Message);
    }

    [Theory]
    [InlineData("1", 1L)]
    [InlineData("10", 10L)]
    public void GetInt64AcceptsTheRangeBoundsInclusively(string text, long expected)
    {
        Assert.Equal(expected, Parameters(("n", text)).GetInt64("n", 5, minimum: 1, maximum: 10));
    }

    [Fact]
    public void RejectUnknownListsEachUnreadKeyOnceAndTheKnownKeys()
    {
        var parameters = Parameters(("label", "x"), ("lable", "y"), ("extra", "1"), ("lable", "z"));
        parameters.Get("label");
        parameters.Get("timeout"); // read but absent: still a known key

        var error = Assert.Throws<ModuleParameterException>(parameters.RejectUnknown);

        Assert.Equal($"module '{Module}': unknown parameter(s) 'lable', 'extra'; known: 'label', 'timeout'", error.Message);
    }

    [Fact]
    public void RejectUnknownAcceptsKeysReadByAnyGetter()
    {
        var parameters = Parameters(("a", "x"), ("b", "true"), ("c", "3"), ("d", "y"), ("e", "z"));
        parameters.Get("a");
        parameters.GetBoolean("b", false);
        parameters.GetInt64("c", 0);
        parameters.Require("d");
        parameters.Get("e", "default");

        parameters.RejectUnknown();
    }

    [Fact]
    public void RejectUnknownAcceptsMarkReadKeys()
    {
        var parameters = Parameters(("assembly", "/opt/x.dll"), ("dotnet_root", "/usr/share/dotnet"), ("label", "x"));
        parameters.MarkRead("assembly", "dotnet_root");
        parameters.Get("label");

        parameters.RejectUnknown();
    }

    [Fact]
    public void MarkReadKeysAreListedAsKnown()
    {
        var parameters = Parameters(("oops", "1"));
        parameters.MarkRead("dotnet_root", "assembly");

        var error = Assert.Throws<ModuleParameterException>(parameters.RejectUnknown);

        Assert.EndsWith("unknown parameter(s) 'oops'; known: 'assembly', 'dotnet_root'", error.Message);
    }

    [Fact]
    public void RejectUnknownWithNoParametersPasses() => Parameters().RejectUnknown();
}
