using System.Text;
using NetIsolator.Cni.Invocation;
using Xunit;

namespace NetIsolator.Cni.Tests.Invocation;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PluginLocatorTests : IDisposable
{
    /// <summary>The executor's lookup, whose failures are CniPluginExceptions of kind NotFound or InvalidType.</summary>
    private static string Locate(string type, string cniPath) => new ProcessPluginExecutor().FindPlugin(type, cniPath);

    private readonly TempDirectory _first = new();
    private readonly TempDirectory _second = new();

    public void Dispose()
    {
        _first.Dispose();
        _second.Dispose();
    }

    [Fact]
    public void Find_ReturnsTheFirstExecutableInPathOrder()
    {
        var inSecond = _second.WriteScript("bridge", "true");
        Assert.Equal(inSecond, Locate("bridge", $"{_first.Path}::relative/dir:{_second.Path}"));

        var inFirst = _first.WriteScript("bridge", "true");
        Assert.Equal(inFirst, Locate("bridge", $"{_first.Path}:{_second.Path}"));
    }

    [Fact]
    public void Find_SkipsNonExecutableFilesAndDirectories()
    {
        File.WriteAllText(_first.Join("bridge"), "not executable");
        Directory.CreateDirectory(_first.Join("host-local"));
        var good = _second.WriteScript("bridge", "true");

        Assert.Equal(good, Locate("bridge", $"{_first.Path}:{_second.Path}"));
        var e = Assert.Throws<CniPluginException>(() => Locate("host-local", _first.Path));
        Assert.Equal(PluginFailureKind.NotFound, e.Kind);
    }

    [Fact]
    public void Find_Missing_NamesTheTypeAndTheSearchPath()
    {
        var cniPath = $"{_first.Path}:{_second.Path}";

        var e = Assert.Throws<CniPluginException>(() => Locate("macvlan", cniPath));

        Assert.Equal(PluginFailureKind.NotFound, e.Kind);
        Assert.Equal("macvlan", e.PluginType);
        Assert.Equal($"failed to find CNI plugin \"macvlan\" in CNI_PATH \"{cniPath}\"", e.Message);
    }

    [Fact]
    public void Find_NotExecutable_SaysSo()
    {
        var path = _first.Join("bridge");
        File.WriteAllText(path, "#!/bin/sh\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var e = Assert.Throws<CniPluginException>(() => Locate("bridge", _first.Path));

        Assert.Equal(PluginFailureKind.NotFound, e.Kind);
        Assert.Contains($"{path} is not executable", e.Message);
    }

    [Fact]
    public void Find_EmptyPath_SaysSo()
    {
        var e = Assert.Throws<CniPluginException>(() => Locate("bridge", ""));
        Assert.Contains("empty CNI_PATH", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("../bin/sh")]
    [InlineData("/bin/sh")]
    [InlineData("sub/bridge")]
    [InlineData("bridge/")]
    [InlineData("a..b")]
    [InlineData("bri\0dge")]
    [InlineData("bridge\n")]
    [InlineData(" bridge")]
    public void Find_HostileTypes_AreRefusedBeforeTouchingTheFileSystem(string type)
    {
        // Make sure a lookup that did reach the file system could succeed.
        _first.WriteScript("sh", "true");

        var e = Assert.Throws<CniPluginException>(() => Locate(type, $"{_first.Path}:/bin:/usr/bin"));

        Assert.Equal(PluginFailureKind.InvalidType, e.Kind);
        Assert.StartsWith("invalid CNI plugin type", e.Message);
        Assert.DoesNotContain('\0', e.Message);
    }

    [Fact]
    public void Find_OverlongType_IsRefused()
    {
        var e = Assert.Throws<CniPluginException>(() => Locate(new string('a', 300), _first.Path));
        Assert.Equal(PluginFailureKind.InvalidType, e.Kind);
    }

    [Fact]
    public void Executor_FindPlugin_UsesTheLocator()
    {
        var path = _first.WriteScript("loopback", "true");
        Assert.Equal(path, new ProcessPluginExecutor().FindPlugin("loopback", _first.Path));
    }
}
