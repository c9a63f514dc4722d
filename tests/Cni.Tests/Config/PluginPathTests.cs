using NetIsolator.Cni.Config;
using Xunit;

namespace NetIsolator.Cni.Tests.Config;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PluginPathTests
{
    private static string Plugin(ConfigDir dir, string sub, string name, UnixFileMode mode)
    {
        var folder = Directory.CreateDirectory(Path.Join(dir.Path, sub)).FullName;
        var path = Path.Join(folder, name);
        File.WriteAllText(path, "#!/bin/sh\n");
        File.SetUnixFileMode(path, mode);
        return path;
    }

    [Fact]
    public void The_first_executable_in_search_order_wins()
    {
        using var dir = new ConfigDir();
        const UnixFileMode rwx = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Plugin(dir, "one", "bridge", UnixFileMode.UserRead | UnixFileMode.UserWrite); // not executable
        var second = Plugin(dir, "two", "bridge", rwx);
        Plugin(dir, "three", "bridge", rwx);
        var searchPath = $"{dir.Path}/missing::{dir.Path}/one:{dir.Path}/two:{dir.Path}/three";

        Assert.Equal(second, PluginPath.Find("bridge", searchPath));
        Assert.Null(PluginPath.TryFind("portmap", searchPath));
    }

    [Fact]
    public void A_directory_named_like_the_plugin_is_not_a_plugin()
    {
        using var dir = new ConfigDir();
        Directory.CreateDirectory(Path.Join(dir.Path, "bridge"));
        Assert.Null(PluginPath.TryFind("bridge", dir.Path));
    }

    [Fact]
    public void Not_found_lists_the_searched_directories()
    {
        var e = Assert.Throws<PluginNotFoundException>(() => PluginPath.Find("bridge", "/nonexistent/a:/nonexistent/b"));
        Assert.Equal("failed to find CNI plugin \"bridge\" in CNI_PATH \"/nonexistent/a:/nonexistent/b\"", e.Message);
        Assert.Equal("bridge", e.PluginType);
    }

    [Theory]
    [InlineData("../sh")]
    [InlineData("/bin/sh")]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("")]
    public void Types_that_are_paths_are_refused(string type)
    {
        var e = Assert.Throws<CniConfigException>(() => PluginPath.TryFind(type, "/bin:/usr/bin"));
        Assert.Contains("plugin type", e.Message);
    }
}
