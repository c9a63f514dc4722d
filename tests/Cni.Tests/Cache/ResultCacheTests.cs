using System.Text;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Cache;
using Xunit;

namespace NetIsolator.Cni.Tests.Cache;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ResultCacheTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("netiso-cache-test-").FullName;
    private readonly List<CacheProblem> _problems = [];
    private readonly ResultCache _cache;

    public ResultCacheTests()
    {
        _cache = new ResultCache(Path.Join(_root, "cni"), _problems.Add);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static CachedAttachment Attachment(string network = "mesos-net", string containerId = "c1", string ifName = "eth0") => new()
    {
        NetworkName = network,
        ContainerId = containerId,
        IfName = ifName,
        Config = Encoding.UTF8.GetBytes("""{"cniVersion":"1.0.0","name":"mesos-net","plugins":[{"type":"bridge"}]}"""),
        NetNs = $"/var/run/mesos/isolators/network/cni/{containerId}/ns",
        CniArgs = [new("IgnoreUnknown", "1"), new("K8S_POD_NAME", "web")],
        CapabilityArgs = new JsonObject { ["portMappings"] = new JsonArray(new JsonObject { ["hostPort"] = 8080, ["containerPort"] = 80, ["protocol"] = "tcp" }) },
        Result = (JsonObject)JsonNode.Parse("""{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/ns"}],"ips":[{"address":"10.213.0.2/24","gateway":"10.213.0.1","interface":0}]}""")!,
    };

    [Fact]
    public void SaveThenLoad_RoundTripsEveryField()
    {
        var saved = Attachment();
        _cache.Save(saved);

        Assert.True(_cache.TryLoad("mesos-net", "c1", "eth0", out var loaded));
        Assert.Equal(saved.NetworkName, loaded.NetworkName);
        Assert.Equal(saved.ContainerId, loaded.ContainerId);
        Assert.Equal(saved.IfName, loaded.IfName);
        Assert.Equal(saved.Config.ToArray(), loaded.Config.ToArray());
        Assert.Equal(saved.NetNs, loaded.NetNs);
        Assert.Equal(saved.CniArgs, loaded.CniArgs);
        Assert.True(JsonNode.DeepEquals(saved.CapabilityArgs, loaded.CapabilityArgs));
        Assert.True(JsonNode.DeepEquals(saved.Result, loaded.Result));
        Assert.Empty(_problems);
    }

    [Fact]
    public void Save_WritesLibcniLayoutAndFormat()
    {
        _cache.Save(Attachment());

        var path = Path.Join(_root, "cni", "results", "mesos-net-c1-eth0");
        Assert.Equal(path, _cache.PathFor("mesos-net", "c1", "eth0"));
        var json = JsonNode.Parse(File.ReadAllBytes(path))!.AsObject();
        Assert.Equal("cniCacheV1", (string?)json["kind"]);
        Assert.Equal("c1", (string?)json["containerId"]);
        Assert.Equal("eth0", (string?)json["ifName"]);
        Assert.Equal("mesos-net", (string?)json["networkName"]);
        Assert.Equal(Convert.ToBase64String(Attachment().Config.Span), (string?)json["config"]);
        Assert.Equal("/var/run/mesos/isolators/network/cni/c1/ns", (string?)json["netns"]);
        Assert.Equal("""[["IgnoreUnknown","1"],["K8S_POD_NAME","web"]]""", json["cniArgs"]!.ToJsonString());
        Assert.Equal(8080, (int)json["capabilityArgs"]!["portMappings"]![0]!["hostPort"]!);
        Assert.Equal("10.213.0.2/24", (string?)json["result"]!["ips"]![0]!["address"]);
    }

    [Fact]
    public void Save_OmitsEmptyOptionalFieldsAsLibcniDoes()
    {
        _cache.Save(new CachedAttachment { NetworkName = "n", ContainerId = "c", IfName = "eth0", Config = "{}"u8.ToArray() });

        var json = JsonNode.Parse(File.ReadAllBytes(_cache.PathFor("n", "c", "eth0")))!.AsObject();
        Assert.Equal(["kind", "containerId", "config", "ifName", "networkName"], json.Select(p => p.Key).ToArray());
        Assert.True(_cache.TryLoad("n", "c", "eth0", out var loaded));
        Assert.Null(loaded.NetNs);
        Assert.Empty(loaded.CniArgs);
        Assert.Null(loaded.Result);
    }

    [Fact]
    public void Load_ReadsAFileWrittenByLibcni()
    {
        // As Go's encoding/json writes libcni's cachedInfo (config is []byte, so base64).
        var config = Convert.ToBase64String("""{"name":"net1"}"""u8);
        Directory.CreateDirectory(_cache.ResultsDirectory);
        File.WriteAllText(
            _cache.PathFor("net1", "abc", "eth0"),
            $$$"""{"kind":"cniCacheV1","containerId":"abc","config":"{{{config}}}","ifName":"eth0","networkName":"net1","netns":"/var/run/netns/abc","cniArgs":[["K","V"]],"capabilityArgs":{"dns":{"servers":["10.0.0.1"]}},"result":{"cniVersion":"0.4.0","ips":[]}}""");

        Assert.True(_cache.TryLoad("net1", "abc", "eth0", out var loaded));
        Assert.Equal("""{"name":"net1"}""", Encoding.UTF8.GetString(loaded.Config.Span));
        Assert.Equal([new KeyValuePair<string, string>("K", "V")], loaded.CniArgs);
        Assert.Equal("0.4.0", (string?)loaded.Result!["cniVersion"]);
    }

    [Fact]
    public void Save_UsesMode0600In0700Directory_AndLeavesNoTemporaryFiles()
    {
        _cache.Save(Attachment());
        _cache.Save(Attachment());
        _cache.Save(Attachment(containerId: "c2"));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_cache.ResultsDirectory));
        var files = Directory.GetFiles(_cache.ResultsDirectory).Select(f => Path.GetFileName(f)!).Order().ToArray();
        Assert.Equal(["mesos-net-c1-eth0", "mesos-net-c2-eth0"], files);
        foreach (var file in Directory.GetFiles(_cache.ResultsDirectory))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }
    }

    [Fact]
    public void Save_TightensAnExistingResultsDirectory()
    {
        Directory.CreateDirectory(_cache.ResultsDirectory);
        File.SetUnixFileMode(_cache.ResultsDirectory, (UnixFileMode)0b111_101_101);

        _cache.Save(Attachment());

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_cache.ResultsDirectory));
    }

    [Fact]
    public void Save_RemakesTheDirectoryRemovedAfterAnEarlierSave()
    {
        _cache.Save(Attachment());
        Directory.Delete(Path.Join(_root, "cni"), recursive: true);

        _cache.Save(Attachment(containerId: "c2"));

        Assert.True(_cache.TryLoad("mesos-net", "c2", "eth0", out _));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_cache.ResultsDirectory));
    }

    [Fact]
    public void Save_ReplacesAtomically()
    {
        _cache.Save(Attachment());
        var updated = Attachment();
        _cache.Save(new CachedAttachment
        {
            NetworkName = updated.NetworkName,
            ContainerId = updated.ContainerId,
            IfName = updated.IfName,
            Config = "{\"v\":2}"u8.ToArray(),
        });

        Assert.True(_cache.TryLoad("mesos-net", "c1", "eth0", out var loaded));
        Assert.Equal("{\"v\":2}", Encoding.UTF8.GetString(loaded.Config.Span));
        Assert.Single(Directory.GetFiles(_cache.ResultsDirectory));
    }

    [Fact]
    public void TryLoad_Missing_IsFalseWithoutAProblem()
    {
        Assert.False(_cache.TryLoad("mesos-net", "c1", "eth0", out _));
        _cache.Save(Attachment(containerId: "other"));
        Assert.False(_cache.TryLoad("mesos-net", "c1", "eth0", out _));
        Assert.Empty(_problems);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{not json")]
    [InlineData("[]")]
    [InlineData("{\"kind\":\"somethingElse\",\"containerId\":\"c1\",\"ifName\":\"eth0\",\"networkName\":\"mesos-net\"}")]
    [InlineData("{\"kind\":\"cniCacheV1\",\"containerId\":\"c1\",\"ifName\":\"eth0\"}")]
    [InlineData("{\"kind\":\"cniCacheV1\",\"containerId\":\"c1\",\"ifName\":\"eth0\",\"networkName\":\"mesos-net\",\"config\":\"@@not base64@@\"}")]
    [InlineData("{\"kind\":\"cniCacheV1\",\"containerId\":\"c1\",\"ifName\":\"eth0\",\"networkName\":\"mesos-net\",\"result\":[1]}")]
    [InlineData("{\"kind\":\"cniCacheV1\",\"containerId\":\"c1\",\"ifName\":\"eth0\",\"networkName\":\"mesos-net\",\"cniArgs\":[[\"onlyKey\"]]}")]
    [InlineData("{\"kind\":\"cniCacheV1\",\"containerId\":\"OTHER\",\"ifName\":\"eth0\",\"networkName\":\"mesos-net\"}")]
    public void CorruptFile_IsReportedAndIgnored(string content)
    {
        _cache.Save(Attachment(containerId: "c2"));
        File.WriteAllText(_cache.PathFor("mesos-net", "c1", "eth0"), content);

        Assert.False(_cache.TryLoad("mesos-net", "c1", "eth0", out _));
        var problem = Assert.Single(_problems);
        Assert.Equal(_cache.PathFor("mesos-net", "c1", "eth0"), problem.Path);
        Assert.StartsWith("ignoring CNI cache file", problem.ToString());

        _problems.Clear();
        var listed = _cache.List();
        Assert.Equal(["c2"], listed.Select(a => a.ContainerId).ToArray());
        Assert.Single(_problems);

        // A corrupt cache never blocks DEL: it can be deleted like any other.
        Assert.True(_cache.Delete("mesos-net", "c1", "eth0"));
    }

    [Fact]
    public void UnreadableEntry_IsReportedAndIgnored()
    {
        _cache.Save(Attachment(containerId: "c2"));
        Directory.CreateDirectory(_cache.PathFor("mesos-net", "c1", "eth0"));

        Assert.False(_cache.TryLoad("mesos-net", "c1", "eth0", out _));
        Assert.Single(_problems);
        Assert.Single(_cache.List());
    }

    [Fact]
    public void List_EnumeratesSortedAndFiltersByContainer()
    {
        _cache.Save(Attachment(network: "net-b", containerId: "c1"));
        _cache.Save(Attachment(network: "net-a", containerId: "c1", ifName: "eth1"));
        _cache.Save(Attachment(network: "net-a", containerId: "c1"));
        _cache.Save(Attachment(network: "net-a", containerId: "c10"));
        _cache.Save(Attachment(network: "net-a", containerId: "x-c1"));
        File.WriteAllText(Path.Join(_cache.ResultsDirectory, ".tmp-leftover"), "partial");

        var all = _cache.List();
        Assert.Equal(
            ["net-a-c1-eth0", "net-a-c1-eth1", "net-a-c10-eth0", "net-a-x-c1-eth0", "net-b-c1-eth0"],
            all.Select(a => ResultCache.FileNameFor(a.NetworkName, a.ContainerId, a.IfName)).ToArray());

        var c1 = _cache.List("c1");
        Assert.Equal(["net-a/eth0", "net-a/eth1", "net-b/eth0"], c1.Select(a => $"{a.NetworkName}/{a.IfName}").ToArray());
        Assert.All(c1, a => Assert.Equal("c1", a.ContainerId));
        Assert.Empty(_cache.List("nothing"));
        Assert.Empty(_problems);
    }

    [Fact]
    public void List_WithoutDirectory_IsEmpty()
    {
        Assert.Empty(_cache.List());
        Assert.Empty(_cache.List("c1"));
    }

    [Fact]
    public void List_SkipsFilesWhoseNameDoesNotMatchTheirContent()
    {
        _cache.Save(Attachment());
        File.Copy(_cache.PathFor("mesos-net", "c1", "eth0"), Path.Join(_cache.ResultsDirectory, "renamed-c1-eth0"));

        Assert.Single(_cache.List());
        Assert.Contains("belongs in \"mesos-net-c1-eth0\"", Assert.Single(_problems).Reason);
    }

    [Fact]
    public void Delete_IsIdempotent()
    {
        Assert.False(_cache.Delete("mesos-net", "c1", "eth0"));
        _cache.Save(Attachment());
        _cache.Save(Attachment(containerId: "c2"));

        Assert.True(_cache.Delete("mesos-net", "c1", "eth0"));
        Assert.False(_cache.Delete("mesos-net", "c1", "eth0"));
        Assert.False(_cache.TryLoad("mesos-net", "c1", "eth0", out _));
        Assert.True(_cache.TryLoad("mesos-net", "c2", "eth0", out _));
    }

    [Theory]
    [InlineData("../etc", "c1", "eth0")]
    [InlineData("net/x", "c1", "eth0")]
    [InlineData("net", "../../c1", "eth0")]
    [InlineData("net", "c/1", "eth0")]
    [InlineData("net", "c..1", "eth0")]
    [InlineData("net", "c1", "..")]
    [InlineData("net", "c1", ".")]
    [InlineData("net", "c1", "eth/0")]
    [InlineData("net", "c1", "eth:0")]
    [InlineData("net", "c1", "eth 0")]
    [InlineData("net", "c1", "averyverylongifname")]
    [InlineData("net\0", "c1", "eth0")]
    [InlineData("net", "c\01", "eth0")]
    [InlineData("net", "c1", "eth\00")]
    [InlineData("", "c1", "eth0")]
    [InlineData("net", "", "eth0")]
    [InlineData("net", "c1", "")]
    [InlineData(".hidden", "c1", "eth0")]
    [InlineData("-net", "c1", "eth0")]
    [InlineData("net", "c1é", "eth0")]
    public void HostileNames_AreRefusedEverywhere(string network, string containerId, string ifName)
    {
        Assert.Throws<ArgumentException>(() => ResultCache.FileNameFor(network, containerId, ifName));
        Assert.Throws<ArgumentException>(() => _cache.Save(new CachedAttachment { NetworkName = network, ContainerId = containerId, IfName = ifName }));
        Assert.Throws<ArgumentException>(() => _cache.TryLoad(network, containerId, ifName, out _));
        Assert.Throws<ArgumentException>(() => _cache.Delete(network, containerId, ifName));
        Assert.False(Directory.Exists(_cache.ResultsDirectory));
    }

    [Fact]
    public void OverlongNames_AreRefused()
    {
        var longId = new string('a', 250);
        var e = Assert.Throws<ArgumentException>(() => ResultCache.FileNameFor("net", longId, "eth0"));
        Assert.Contains("exceeds 255 bytes", e.Message);
        Assert.Equal($"net-{new string('a', 240)}-eth0", ResultCache.FileNameFor("net", new string('a', 240), "eth0"));
    }

    [Fact]
    public void FileNames_AreDeterministicAndLibcniCompatible()
    {
        Assert.Equal("mesos-net-3f1c.child_1-eth0", ResultCache.FileNameFor("mesos-net", "3f1c.child_1", "eth0"));
        Assert.Equal(ResultCache.FileNameFor("a", "b", "c"), ResultCache.FileNameFor("a", "b", "c"));
    }

    [Fact]
    public void RelativeCacheDirectory_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => new ResultCache("var/lib/cni"));
    }
}
