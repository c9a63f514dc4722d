using System.Collections;
using NetIsolator.Helpers;
using Xunit;

namespace NetIsolator.Helpers.Tests;

public sealed class HelperFlagsTests
{
    private static readonly FlagDefinition[] Definitions =
    [
        new("pid", FlagKind.String, ""),
        new("bind_readonly", FlagKind.Boolean, ""),
        new("help", FlagKind.Boolean, ""),
    ];

    private static HelperFlags Parse(string[] arguments, IDictionary? environment = null) =>
        HelperFlags.Parse(Definitions, arguments, "MESOS_CONTAINERIZER_", environment ?? new Hashtable());

    [Fact]
    public void TakesMesosCommandLines_NameEqualsValue_AndBareAndNegatedBooleans()
    {
        var flags = Parse(["--pid=42", "--bind_readonly", "--help=false"]);
        Assert.Equal("42", flags.String("pid"));
        Assert.True(flags.Boolean("bind_readonly"));
        Assert.False(flags.Boolean("help", fallback: true));
        Assert.False(Parse(["--no-bind_readonly"]).Boolean("bind_readonly", fallback: true));
        Assert.Equal("a=b", Parse(["--pid=a=b"]).String("pid"));
        Assert.Equal("", Parse(["--pid="]).String("pid"));
    }

    [Fact]
    public void FlagsMissingFromTheCommandLine_ComeFromTheEnvironment_WhichTheCommandLineOverrides()
    {
        var environment = new Hashtable { ["MESOS_CONTAINERIZER_PID"] = "7", ["MESOS_CONTAINERIZER_BIND_READONLY"] = "true" };
        var fromEnvironment = Parse([], environment);
        Assert.Equal("7", fromEnvironment.String("pid"));
        Assert.True(fromEnvironment.Boolean("bind_readonly"));
        Assert.Equal("8", Parse(["--pid=8"], environment).String("pid"));
        Assert.Null(Parse([]).String("pid"));
        Assert.False(Parse([]).Boolean("bind_readonly"));
    }

    [Theory]
    [InlineData("--rootfs=/x", "unknown flag '--rootfs'")]
    [InlineData("--no-pid", "unknown flag '--no-pid'")]
    [InlineData("--pid", "flag '--pid' needs a value (--pid=VALUE)")]
    [InlineData("--bind_readonly=yes", "'--bind_readonly' must be 'true' or 'false', not 'yes'")]
    [InlineData("pid=3", "unexpected argument 'pid=3' (flags are given as --name=value)")]
    [InlineData("--", "unexpected argument '--' (flags are given as --name=value)")]
    public void RefusesWhatDoesNotFit_NamingTheArgument(string argument, string message) =>
        Assert.Equal(message, Assert.Throws<FlagException>(() => Parse([argument])).Message);

    [Fact]
    public void RefusesDuplicates_AndABadBooleanInTheEnvironment()
    {
        Assert.Equal("flag '--pid' is given more than once", Assert.Throws<FlagException>(() => Parse(["--pid=1", "--pid=2"])).Message);
        var environment = new Hashtable { ["MESOS_CONTAINERIZER_HELP"] = "1" };
        Assert.Equal("'MESOS_CONTAINERIZER_HELP' must be 'true' or 'false', not '1'",
            Assert.Throws<FlagException>(() => Parse([], environment)).Message);
    }

    [Fact]
    public void Usage_ListsEveryFlag()
    {
        var usage = HelperFlags.Usage("netisolator-helper x", Definitions);
        Assert.StartsWith("Usage: netisolator-helper x [options]\n", usage);
        Assert.Contains("--pid=VALUE", usage);
        Assert.Contains("--bind_readonly ", usage);
    }
}
