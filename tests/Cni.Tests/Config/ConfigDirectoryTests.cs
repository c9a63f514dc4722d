using NetIsolator.Cni.Config;
using Xunit;

namespace NetIsolator.Cni.Tests.Config;

public sealed class ConfigDirectoryTests
{
    [Fact]
    public void Loads_conf_json_and_conflist_in_sorted_order_and_ignores_other_files()
    {
        using var dir = new ConfigDir();
        dir.Write("30-c.json", """{"cniVersion":"0.3.1","name":"c","type":"macvlan"}""");
        dir.Write("10-a.conflist", NetworkConfigListTests.BridgeConflist.Replace("mesos-bridge", "a"));
        dir.Write("20-b.conf", """{"cniVersion":"0.2.0","name":"b","type":"bridge"}""");
        dir.Write("README.md", "not a config");
        dir.Write("40-d.conf.bak", """{"name":"d","type":"bridge"}""");
        Directory.CreateDirectory(Path.Join(dir.Path, "50-sub.conf"));

        var contents = ConfigDirectory.Load(dir.Path);

        Assert.Equal(["a", "b", "c"], contents.Networks.Select(n => n.Name));
        Assert.Empty(contents.Problems);
        Assert.True(contents.TryGet("b", out var b));
        Assert.True(b.IsSinglePlugin);
        Assert.EndsWith("20-b.conf", b.Source);
        Assert.Equal(3, contents.ByName["a"].Plugins.Count);
        Assert.False(contents.TryGet("d", out _));
    }

    [Fact]
    public void Bad_files_are_reported_with_file_and_key_and_the_good_ones_still_load()
    {
        using var dir = new ConfigDir();
        var broken = dir.Write("10-broken.conflist", """{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"bridge"},{}]}""");
        var notJson = dir.Write("15-garbage.conf", "{ nope");
        var hostile = dir.Write("17-hostile.conf", """{"name":"../etc","type":"bridge"}""");
        var confAsList = dir.Write("18-flat.conflist", """{"cniVersion":"1.0.0","name":"flat","type":"bridge"}""");
        dir.Write("20-good.conf", """{"cniVersion":"0.4.0","name":"good","type":"bridge"}""");

        var contents = ConfigDirectory.Load(dir.Path);

        Assert.Equal(["good"], contents.Networks.Select(n => n.Name));
        Assert.Equal([broken, notJson, hostile, confAsList], contents.Problems.Select(p => p.Path));
        Assert.Equal($"'{broken}': plugins[1]: missing \"type\"", contents.Problems[0].Message);
        Assert.StartsWith($"'{notJson}': not valid JSON", contents.Problems[1].Message);
        Assert.Contains($"'{hostile}': \"name\": \"../etc\" must start with", contents.Problems[2].Message);
        Assert.Equal($"'{confAsList}': missing \"plugins\"", contents.Problems[3].Message);
    }

    [Fact]
    public void Duplicate_names_keep_the_first_file_in_sorted_order_and_report_the_later()
    {
        using var dir = new ConfigDir();
        var later = dir.Write("99-dup.conf", """{"cniVersion":"0.4.0","name":"net","type":"macvlan"}""");
        var first = dir.Write("01-first.conflist", """{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"bridge"}]}""");

        var contents = ConfigDirectory.Load(dir.Path);

        var net = Assert.Single(contents.Networks);
        Assert.Equal(first, net.Source);
        Assert.Equal("bridge", net.Plugins[0].Type);
        var problem = Assert.Single(contents.Problems);
        Assert.Equal(later, problem.Path);
        Assert.Contains("network \"net\" is already defined by", problem.Message);
        Assert.Contains(first, problem.Message);
    }

    [Fact]
    public void A_missing_directory_is_an_error_naming_it()
    {
        var missing = Path.Join(Path.GetTempPath(), "netiso-no-such-dir-" + Guid.NewGuid());
        var e = Assert.Throws<CniConfigException>(() => ConfigDirectory.Load(missing));
        Assert.Contains(missing, e.Message);
    }

    [Fact]
    public void LoadFile_names_an_unreadable_file()
    {
        using var dir = new ConfigDir();
        var e = Assert.Throws<CniConfigException>(() => NetworkConfigList.LoadFile(Path.Join(dir.Path, "gone.conf")));
        Assert.Contains("gone.conf': cannot read", e.Message);
    }

    [Fact]
    public void An_oversized_file_is_refused()
    {
        using var dir = new ConfigDir();
        var big = dir.Write("big.conf", "{\"name\":\"n\",\"type\":\"b\",\"pad\":\"" + new string('x', NetworkConfigList.MaxConfigBytes) + "\"}");
        var e = Assert.Throws<CniConfigException>(() => NetworkConfigList.LoadFile(big));
        Assert.Contains("more than", e.Message);
    }
}
