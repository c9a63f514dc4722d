using System.Text.Json.Nodes;
using NetIsolator.Cni.Cache;
using NetIsolator.Cni.Config;
using NetIsolator.Cni.Invocation;
using NetIsolator.Cni.Requests;
using NetIsolator.Cni.Runtime;
using NetIsolator.Cni.Versions;
using Xunit;

namespace NetIsolator.Cni.Tests.Runtime;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CniRuntimeMockTests : IDisposable
{
    private readonly MockWorld _world = new();

    public CniRuntimeMockTests()
    {
        _world.Plugin("alpha", octet: 2);
        _world.Plugin("beta", octet: 3);
        _world.Plugin("gamma", octet: 4);
    }

    public void Dispose() => _world.Dispose();

    private CniRuntime Runtime => _world.Runtime;

    [Theory]
    [InlineData("0.3.1")]
    [InlineData("0.4.0")]
    [InlineData("1.0.0")]
    [InlineData("1.1.0")]
    public async Task Add_RunsInOrder_ChainsPrevResultAtListVersion_AndCachesTheFinalResult(string version)
    {
        var list = _world.List(version, "alpha", "beta", "gamma");
        var conf = Conf.For("c1") with { CniArgs = [new("K8S_POD_NAME", "p1")] };

        var result = await Runtime.AddNetworkListAsync(list, conf);

        Assert.Equal(["ADD alpha", "ADD beta", "ADD gamma"], _world.Sequence());
        var calls = _world.Calls();
        Assert.Null(calls[0].PrevResult);
        Assert.All(calls, c => Assert.Equal(version, (string?)c.Stdin!["cniVersion"]));
        Assert.All(calls, c => Assert.Equal("mocknet", (string?)c.Stdin!["name"]));
        Assert.Equal("cfg-beta", (string?)calls[1].Stdin!["marker"]);
        Assert.Equal("/run/netns/mock-container", calls[0].NetNs);

        // plugin 2 got plugin 1's result, plugin 3 got plugin 2's, each at the list's version.
        Assert.Equal(version, (string?)calls[1].PrevResult!["cniVersion"]);
        Assert.Equal("alpha0", (string?)calls[1].PrevResult!["interfaces"]![0]!["name"]);
        Assert.Equal("10.214.0.2/24", (string?)calls[1].PrevResult!["ips"]![0]!["address"]);
        Assert.Equal("beta0", (string?)calls[2].PrevResult!["interfaces"]![0]!["name"]);
        if (version == "0.3.1")
        {
            Assert.Equal("4", (string?)calls[1].PrevResult!["ips"]![0]!["version"]);
        }

        Assert.Equal(CniVersion.Parse(version), result.CniVersion);
        Assert.Equal("gamma0", result.Interfaces[0].Name);

        Assert.True(_world.Cache.TryLoad("mocknet", "c1", "eth0", out var cached));
        Assert.Equal(list.Bytes.ToArray(), cached.Config.ToArray());
        Assert.Equal("/run/netns/mock-container", cached.NetNs);
        Assert.Equal([new KeyValuePair<string, string>("K8S_POD_NAME", "p1")], cached.CniArgs);
        Assert.Equal("gamma0", (string?)cached.Result!["interfaces"]![0]!["name"]);
        Assert.Equal("gamma0", (await Runtime.GetCachedResultAsync(list, conf))!.Interfaces[0].Name);
        Assert.Single(Runtime.CachedAttachments("c1"));
        Assert.Empty(Runtime.CachedAttachments("c2"));
    }

    [Theory]
    [InlineData("0.3.1", false)]
    [InlineData("0.4.0", true)]
    [InlineData("1.0.0", true)]
    public async Task Del_RunsInReverse_WithCachedPrevResultFrom040_AndRemovesTheCacheEntry(string version, bool expectPrev)
    {
        var list = _world.List(version, "alpha", "beta", "gamma");
        var conf = Conf.For("c1");
        await Runtime.AddNetworkListAsync(list, conf);
        _world.ClearCalls();

        await Runtime.DelNetworkListAsync(list, conf);

        Assert.Equal(["DEL gamma", "DEL beta", "DEL alpha"], _world.Sequence());
        foreach (var call in _world.Calls())
        {
            if (expectPrev)
            {
                Assert.Equal("gamma0", (string?)call.PrevResult!["interfaces"]![0]!["name"]);
                Assert.Equal(version, (string?)call.PrevResult!["cniVersion"]);
            }
            else
            {
                Assert.Null(call.PrevResult);
            }
        }

        Assert.False(File.Exists(_world.Cache.PathFor("mocknet", "c1", "eth0")));
        Assert.Null(await Runtime.GetCachedResultAsync(list, conf));
    }

    [Fact]
    public async Task Del_WithoutCacheEntry_StillRunsDelWithTheGivenList_AndRepeats()
    {
        var list = _world.List("1.0.0", "alpha", "beta");

        await Runtime.DelNetworkListAsync(list, Conf.For("never-added"));
        await Runtime.DelNetworkListAsync(list, Conf.For("never-added"));

        Assert.Equal(["DEL beta", "DEL alpha", "DEL beta", "DEL alpha"], _world.Sequence());
        Assert.All(_world.Calls(), c => Assert.Null(c.PrevResult));
    }

    [Fact]
    public async Task Del_WithNullListAndNoCacheEntry_DoesNothing()
    {
        await Runtime.DelNetworkListAsync(null, Conf.For("never-added"));

        Assert.Empty(_world.Sequence());
    }

    [Fact]
    public async Task Del_FromTheCacheAlone_AfterTheConfigFileIsGone_WithoutNetns()
    {
        var list = _world.List("1.0.0", "alpha", "beta");
        var inputs = new RuntimeInputs { Capabilities = CapabilityArgs.Empty.WithPortMappings([new PortMapping(8080, 80)]) };
        await Runtime.AddNetworkListAsync(list, Conf.For("c1") with { Inputs = inputs, CniArgs = [new("A", "1")] });
        File.Delete(list.Source);
        _world.ClearCalls();

        // A fresh runtime (as after an agent restart) with nothing but the cache.
        var restarted = _world.NewRuntime();
        await restarted.DelNetworkListAsync(null, Conf.For("c1", netns: null));

        var calls = _world.Calls();
        Assert.Equal(["DEL beta", "DEL alpha"], _world.Sequence());
        Assert.All(calls, c => Assert.Equal("<unset>", c.NetNs));
        Assert.All(calls, c => Assert.Equal("beta0", (string?)c.PrevResult!["interfaces"]![0]!["name"]));
        Assert.All(calls, c => Assert.Equal("cfg-" + c.Type, (string?)c.Stdin!["marker"]));
        Assert.Empty(_world.Cache.List());
    }

    [Fact]
    public async Task Del_WithNullNetns_PassesNoNetns()
    {
        var list = _world.List("0.4.0", "alpha");
        await Runtime.AddNetworkListAsync(list, Conf.For("c1"));
        _world.ClearCalls();

        await Runtime.DelNetworkListAsync(list, Conf.For("c1", netns: null));

        var call = Assert.Single(_world.Calls());
        Assert.Equal("<unset>", call.NetNs);
        Assert.Empty(_world.Cache.List());
    }

    [Fact]
    public async Task Del_WithCorruptCacheEntry_DropsItWithALogLine_AndStillRunsDel()
    {
        var list = _world.List("1.0.0", "alpha");
        await Runtime.AddNetworkListAsync(list, Conf.For("c1"));
        var path = _world.Cache.PathFor("mocknet", "c1", "eth0");
        File.WriteAllText(path, "{ not json");
        _world.ClearCalls();

        await Runtime.DelNetworkListAsync(list, Conf.For("c1"));

        var call = Assert.Single(_world.Calls());
        Assert.Null(call.PrevResult);
        Assert.False(File.Exists(path));
        Assert.Contains(_world.RuntimeLog, l => l.Contains("dropping the CNI cache entry", StringComparison.Ordinal) && l.Contains(path, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AddFailure_InPlugin2_NamesIt_DoesNotRunDel_AndTheCacheStillAllowsDel()
    {
        _world.Plugin("beta", failOn: "ADD");
        var list = _world.List("1.0.0", "alpha", "beta", "gamma");

        var e = await Assert.ThrowsAsync<CniRuntimeException>(() => Runtime.AddNetworkListAsync(list, Conf.For("c1")));

        Assert.Equal(1, e.PluginIndex);
        Assert.Equal("beta", e.PluginType);
        Assert.Equal("c1", e.ContainerId);
        Assert.Equal("mocknet", e.NetworkName);
        Assert.Equal("running the plugin", e.Step);
        Assert.Equal(100u, e.PluginError!.ErrorCode);
        Assert.Contains("network \"mocknet\"", e.Message);
        Assert.Contains("plugins[1] (beta)", e.Message);
        Assert.Contains("'c1'", e.Message);
        Assert.Contains("beta refuses ADD", e.Message);
        Assert.Contains("stderr from beta", e.Message);
        Assert.Equal(["ADD alpha", "ADD beta"], _world.Sequence());

        // Checkpointed without a result.
        Assert.True(_world.Cache.TryLoad("mocknet", "c1", "eth0", out var pending));
        Assert.Null(pending.Result);
        Assert.Null(await Runtime.GetCachedResultAsync(list, Conf.For("c1")));

        // DEL from the cache alone runs every plugin in reverse, without prevResult, and clears the entry.
        _world.ClearCalls();
        await _world.NewRuntime().DelNetworkListAsync(null, Conf.For("c1"));
        Assert.Equal(["DEL gamma", "DEL beta", "DEL alpha"], _world.Sequence());
        Assert.All(_world.Calls(), c => Assert.Null(c.PrevResult));
        Assert.Empty(_world.Cache.List());
    }

    [Fact]
    public async Task Add_RunsThePrerequisiteThenTheCheckpoint_BeforeTheFirstPluginHasItsConfig()
    {
        var list = _world.List("1.0.0", "alpha", "beta");
        var order = new List<string>();

        await Runtime.AddNetworkListAsync(list, Conf.For("c1"), prerequisite: async () =>
        {
            // The first plugin is started by now, but blocked reading its config: it has logged no call, and the
            // runtime's own checkpoint comes after this.
            await Task.Delay(100);
            order.Add($"prerequisite: calls={_world.Calls().Count} cached={_world.Cache.List().Count}");
        });

        Assert.Equal(["prerequisite: calls=0 cached=0"], order);
        Assert.Equal(["ADD alpha", "ADD beta"], _world.Sequence());
        Assert.True(_world.Cache.TryLoad("mocknet", "c1", "eth0", out var cached));
        Assert.NotNull(cached.Result);
    }

    [Fact]
    public async Task Add_WithAFailingPrerequisite_RunsNoPlugin_WritesNoCheckpoint_AndThrowsItsException()
    {
        var list = _world.List("1.0.0", "alpha", "beta");
        var failure = new IOException("the container's checkpoint could not be written");

        var thrown = await Assert.ThrowsAsync<IOException>(() =>
            Runtime.AddNetworkListAsync(list, Conf.For("c1"), prerequisite: () => Task.FromException(failure)));

        Assert.Same(failure, thrown);
        Assert.Empty(_world.Sequence());
        Assert.Empty(_world.Cache.List());

        // Nothing to undo: the next ADD of the same attachment is not refused.
        await Runtime.AddNetworkListAsync(list, Conf.For("c1"));
        Assert.Equal(["ADD alpha", "ADD beta"], _world.Sequence());
    }

    [Fact]
    public async Task Add_Twice_IsRefusedUntilDel_ButARetryAfterAFailedAddIsAllowed()
    {
        var list = _world.List("1.0.0", "alpha");
        await Runtime.AddNetworkListAsync(list, Conf.For("c1"));

        var e = await Assert.ThrowsAsync<CniRuntimeException>(() => Runtime.AddNetworkListAsync(list, Conf.For("c1")));
        Assert.Contains("already added", e.Message);

        await Runtime.DelNetworkListAsync(list, Conf.For("c1"));
        _world.Plugin("alpha", failOn: "ADD");
        await Assert.ThrowsAsync<CniRuntimeException>(() => Runtime.AddNetworkListAsync(list, Conf.For("c1")));
        _world.Plugin("alpha");
        await Runtime.AddNetworkListAsync(list, Conf.For("c1"));

        var other = _world.List("1.0.0", "alpha", "beta");
        await Runtime.DelNetworkListAsync(list, Conf.For("c1"));
        _world.Plugin("alpha", failOn: "ADD");
        await Assert.ThrowsAsync<CniRuntimeException>(() => Runtime.AddNetworkListAsync(list, Conf.For("c1")));
        var pendingDel = await Assert.ThrowsAsync<CniRuntimeException>(() => Runtime.AddNetworkListAsync(other, Conf.For("c1")));
        Assert.Contains("pending DEL", pendingDel.Message);
    }

    [Fact]
    public async Task Check_At031_IsNotSupported_AndNothingRuns()
    {
        var list = _world.List("0.3.1", "alpha");
        await Runtime.AddNetworkListAsync(list, Conf.For("c1"));
        _world.ClearCalls();

        var e = await Assert.ThrowsAsync<CniRuntimeException>(() => Runtime.CheckNetworkListAsync(list, Conf.For("c1")));

        Assert.Contains("does not support the CHECK command", e.Message);
        Assert.Empty(_world.Sequence());
    }

    [Fact]
    public async Task Check_WithDisableCheck_IsSkipped()
    {
        var list = _world.ListWith("1.0.0", new JsonObject { ["disableCheck"] = true }, "alpha");
        await Runtime.AddNetworkListAsync(list, Conf.For("c1"));
        _world.ClearCalls();

        await Runtime.CheckNetworkListAsync(list, Conf.For("c1"));

        Assert.Empty(_world.Sequence());
    }

    [Fact]
    public async Task Check_RunsInOrderWithTheCachedResult_AndNeedsOne()
    {
        var list = _world.List("1.0.0", "alpha", "beta");
        var missing = await Assert.ThrowsAsync<CniRuntimeException>(() => Runtime.CheckNetworkListAsync(list, Conf.For("c1")));
        Assert.Contains("no cached ADD result", missing.Message);

        await Runtime.AddNetworkListAsync(list, Conf.For("c1"));
        _world.ClearCalls();
        await Runtime.CheckNetworkListAsync(list, Conf.For("c1"));

        Assert.Equal(["CHECK alpha", "CHECK beta"], _world.Sequence());
        Assert.All(_world.Calls(), c => Assert.Equal("beta0", (string?)c.PrevResult!["interfaces"]![0]!["name"]));

        _world.Plugin("beta", failOn: "CHECK");
        var failed = await Assert.ThrowsAsync<CniRuntimeException>(() => Runtime.CheckNetworkListAsync(list, Conf.For("c1")));
        Assert.Equal(1, failed.PluginIndex);
        Assert.Equal(PluginCommand.Check, failed.Command);
    }

    [Fact]
    public async Task Gc_DeletesStaleAttachments_KeepsValidOnes_SendsGc_AndContinuesPastFailures()
    {
        var list = _world.List("1.1.0", "alpha", "beta");
        foreach (var id in new[] { "keep1", "stale1", "stale2", "stale3" })
        {
            await Runtime.AddNetworkListAsync(list, Conf.For(id));
        }

        // An attachment of another network is not this GC's business.
        _world.Plugin("other");
        var otherNet = NetworkConfigList.FromBytes(Conf.Utf8("""{"cniVersion":"1.1.0","name":"othernet","plugins":[{"type":"other"}]}"""), "othernet");
        await Runtime.AddNetworkListAsync(otherNet, Conf.For("stale9"));

        // Every stale DEL fails in beta (the first to run in reverse order).
        _world.Plugin("beta", failOn: "DEL");
        _world.ClearCalls();

        var errors = await Runtime.GcNetworkListAsync(list, [("keep1", "eth0")]);

        // Every stale attachment got a DEL attempt; the failure is reported, not fatal.
        var dels = _world.Calls().Where(c => c.Command == "DEL").ToList();
        Assert.Equal(["stale1", "stale2", "stale3"], dels.Select(c => c.ContainerId).Distinct().Order());
        Assert.DoesNotContain(dels, c => c.ContainerId is "keep1" or "stale9");
        Assert.NotEmpty(errors);
        Assert.Contains(errors, e => e.Message.Contains("stale1", StringComparison.Ordinal) && e.Message.Contains("beta refuses DEL", StringComparison.Ordinal));

        // GC went to every plugin with the valid attachments, after the DELs.
        var gcs = _world.Calls().Where(c => c.Command == "GC").ToList();
        Assert.Equal(["alpha", "beta"], gcs.Select(c => c.Type));
        foreach (var gc in gcs)
        {
            var valid = gc.Stdin![PluginRequests.ValidAttachmentsKey]!.AsArray();
            Assert.Equal("keep1", (string?)Assert.Single(valid)!["containerID"]);
            Assert.Equal("", gc.ContainerId);
        }

        Assert.True(_world.Cache.TryLoad("mocknet", "keep1", "eth0", out _));
        Assert.True(_world.Cache.TryLoad("othernet", "stale9", "eth0", out _));
    }

    [Fact]
    public async Task Gc_ContinuesPastOneFailingDel_AndReturnsExactlyItsError()
    {
        var list = _world.List("1.1.0", "alpha");
        await Runtime.AddNetworkListAsync(list, Conf.For("keep1"));
        await Runtime.AddNetworkListAsync(list, Conf.For("stale1"));
        await Runtime.AddNetworkListAsync(list, Conf.For("stale2"));
        await Runtime.AddNetworkListAsync(list, Conf.For("stale3"));

        // Only stale2's DEL fails.
        File.WriteAllText(Path.Join(_world.BinDir, "alpha"), File.ReadAllText(Path.Join(_world.BinDir, "alpha")).Replace(
            "if [ \"$CNI_COMMAND\" = ADD ]",
            "if [ \"$CNI_COMMAND\" = DEL ] && [ \"$CNI_CONTAINERID\" = stale2 ]; then echo '{\"code\":5,\"msg\":\"stale2 is stuck\"}'; exit 1; fi\nif [ \"$CNI_COMMAND\" = ADD ]"));
        _world.ClearCalls();

        var errors = await Runtime.GcNetworkListAsync(list, [("keep1", "eth0")]);

        var error = Assert.Single(errors);
        var runtimeError = Assert.IsType<CniRuntimeException>(error);
        Assert.Equal("stale2", runtimeError.ContainerId);
        Assert.Contains("stale2 is stuck", error.Message);
        Assert.Equal(["keep1", "stale2"], _world.Cache.List().Select(a => a.ContainerId).Order());
        Assert.Equal(["DEL alpha", "DEL alpha", "DEL alpha", "GC alpha"], _world.Sequence());
    }

    [Theory]
    [InlineData("1.0.0", false)]
    [InlineData("1.1.0", true)]
    public async Task Gc_SendsGcOnlyFrom110_AndNothingWithDisableGc(string version, bool expectGc)
    {
        var list = _world.List(version, "alpha");
        await Runtime.AddNetworkListAsync(list, Conf.For("stale1"));
        _world.ClearCalls();

        Assert.Empty(await Runtime.GcNetworkListAsync(list, []));

        Assert.Equal(expectGc ? ["DEL alpha", "GC alpha"] : ["DEL alpha"], _world.Sequence());

        var disabled = _world.ListWith(version, new JsonObject { ["disableGC"] = true }, "alpha");
        await Runtime.AddNetworkListAsync(disabled, Conf.For("stale2"));
        _world.ClearCalls();
        Assert.Empty(await Runtime.GcNetworkListAsync(disabled, []));
        Assert.Empty(_world.Sequence());
        Assert.Single(_world.Cache.List());
    }

    public static TheoryData<string, string> HostileAttachments => new()
    {
        { "", "eth0" },
        { "-leading-dash", "eth0" },
        { "../../etc/passwd", "eth0" },
        { "a/b", "eth0" },
        { "a b", "eth0" },
        { "c1;rm -rf", "eth0" },
        { "c1\n", "eth0" },
        { "é", "eth0" },
        { new string('a', 300), "eth0" },
        { "c1", "" },
        { "c1", "." },
        { "c1", ".." },
        { "c1", "eth0/../x" },
        { "c1", "eth:0" },
        { "c1", "eth 0" },
        { "c1", "eth\t0" },
        { "c1", "abcdefghijklmnop" },
    };

    [Theory]
    [MemberData(nameof(HostileAttachments))]
    public async Task HostileContainerIdsAndIfnames_AreRejectedBeforeAnyPluginRuns(string containerId, string ifName)
    {
        var list = _world.List("1.0.0", "alpha");
        var conf = Conf.For(containerId, ifName: ifName);

        var add = await Assert.ThrowsAsync<InvalidRuntimeConfException>(() => Runtime.AddNetworkListAsync(list, conf));
        await Assert.ThrowsAsync<InvalidRuntimeConfException>(() => Runtime.DelNetworkListAsync(list, conf));
        await Assert.ThrowsAsync<InvalidRuntimeConfException>(() => Runtime.DelNetworkListAsync(null, conf));
        await Assert.ThrowsAsync<InvalidRuntimeConfException>(() => Runtime.CheckNetworkListAsync(list, conf));

        var named = RuntimeConf.ContainerIdProblem(containerId) is not null ? containerId : ifName;
        if (named.Length is > 0 and < 80 && !named.Any(char.IsControl))
        {
            Assert.Contains(named, add.Message);
        }

        Assert.Empty(_world.Calls());
        Assert.False(Directory.Exists(_world.Cache.ResultsDirectory) && Directory.EnumerateFileSystemEntries(_world.Cache.ResultsDirectory).Any());
    }

    [Fact]
    public async Task AddWithoutNetns_AndBadCniArgs_AreRejected()
    {
        var list = _world.List("1.0.0", "alpha");
        await Assert.ThrowsAsync<InvalidRuntimeConfException>(() => Runtime.AddNetworkListAsync(list, Conf.For("c1", netns: null)));
        await Assert.ThrowsAsync<InvalidRuntimeConfException>(() => Runtime.AddNetworkListAsync(list, Conf.For("c1", netns: "relative/ns")));
        var e = await Assert.ThrowsAsync<InvalidRuntimeConfException>(() =>
            Runtime.AddNetworkListAsync(list, Conf.For("c1") with { CniArgs = [new("A", "1;B=2")] }));
        Assert.Contains("CNI_ARGS", e.Message);
        Assert.Empty(_world.Calls());
    }

    [Fact]
    public async Task SameContainer_OperationsAreSerialized_DifferentContainersOverlap()
    {
        _world.Plugin("slow", sleepSeconds: 0.6);
        var list = _world.List("1.0.0", "slow");

        // Same container: ADD and DEL issued together run one after the other.
        var add = Runtime.AddNetworkListAsync(list, Conf.For("same"));
        var del = Runtime.DelNetworkListAsync(list, Conf.For("same"));
        var add2 = Runtime.AddNetworkListAsync(list, Conf.For("same"));
        await Task.WhenAll(add, del, add2);
        var same = _world.Intervals().Where(i => i.Container == "same").OrderBy(i => i.Start).ToList();
        Assert.Equal(3, same.Count);
        for (var i = 1; i < same.Count; i++)
        {
            Assert.True(same[i].Start >= same[i - 1].End, $"run {i} started before run {i - 1} ended");
        }

        Assert.Equal(["ADD slow", "DEL slow", "ADD slow"], _world.Sequence());

        // Different containers: they overlap.
        _world.ClearCalls();
        await Task.WhenAll(Enumerable.Range(0, 3).Select(i => Runtime.AddNetworkListAsync(list, Conf.For($"par{i}"))));
        var parallel = _world.Intervals().OrderBy(i => i.Start).ToList();
        Assert.Equal(3, parallel.Count);
        Assert.True(parallel[1].Start < parallel[0].End, "different containers should run in parallel");
    }

    [Fact]
    public async Task Gc_WaitsForRunningOperations()
    {
        _world.Plugin("slow", sleepSeconds: 0.6);
        var list = _world.List("1.1.0", "slow");
        var add = Runtime.AddNetworkListAsync(list, Conf.For("c1"));
        await PluginHasStarted();

        var errors = await Runtime.GcNetworkListAsync(list, [("c1", "eth0")]);
        await add;

        Assert.Empty(errors);
        Assert.Equal(["ADD slow", "GC slow"], _world.Sequence());
        var runs = _world.Intervals().OrderBy(i => i.Start).ToList();
        Assert.True(runs[1].Start >= runs[0].End);
    }

    [Fact]
    public async Task Cancellation_WhileWaitingForTheContainerLock_LeavesNothingBehind()
    {
        _world.Plugin("slow", sleepSeconds: 0.6);
        var list = _world.List("1.0.0", "slow");
        var first = Runtime.AddNetworkListAsync(list, Conf.For("c1"));
        await PluginHasStarted();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Runtime.DelNetworkListAsync(list, Conf.For("c1"), cts.Token));
        await first;

        Assert.Equal(["ADD slow"], _world.Sequence());
        await Runtime.DelNetworkListAsync(list, Conf.For("c1"));
        Assert.Empty(_world.Cache.List());
    }

    [Fact]
    public async Task Version_AndValidation()
    {
        _world.Plugin("old", supported: "\"0.3.1\"");
        File.WriteAllText(Path.Join(_world.BinDir, "ancient"), "#!/bin/sh\necho '{\"code\":4,\"msg\":\"unknown CNI_COMMAND: VERSION\"}'\nexit 1\n");
        File.SetUnixFileMode(Path.Join(_world.BinDir, "ancient"), (UnixFileMode)0b111_101_101);

        var info = await Runtime.GetVersionInfoAsync("alpha");
        Assert.True(info.Supports(CniVersion.V110));
        Assert.Equal(["0.1.0"], (await Runtime.GetVersionInfoAsync("ancient")).SupportedVersions);
        var missing = await Assert.ThrowsAsync<CniRuntimeException>(() => Runtime.GetVersionInfoAsync("nope"));
        Assert.Contains("nope", missing.Message);

        var good = NetworkConfigList.FromBytes(Conf.Utf8("""
            {"cniVersion":"1.0.0","name":"n","plugins":[{"type":"alpha","ipam":{"type":"beta"}},{"type":"gamma","capabilities":{"portMappings":true,"mac":false}}]}
            """), "good");
        Assert.Equal(["portMappings"], await Runtime.ValidateNetworkListAsync(good));

        var bad = NetworkConfigList.FromBytes(Conf.Utf8("""
            {"cniVersion":"1.0.0","name":"n","plugins":[{"type":"alpha","ipam":{"type":"nope-ipam"}},{"type":"old"},{"type":"nope"}]}
            """), "bad");
        var e = await Assert.ThrowsAsync<CniRuntimeException>(() => Runtime.ValidateNetworkListAsync(bad));
        Assert.Contains("plugins[0] (alpha) ipam \"nope-ipam\"", e.Message);
        Assert.Contains("plugins[1] (old) \"old\" does not support cniVersion 1.0.0", e.Message);
        Assert.Contains("plugins[2] (nope)", e.Message);
    }

    [Fact]
    public async Task Status_RunsFrom110_StopsAtFirstError()
    {
        var list = _world.List("1.1.0", "alpha", "beta", "gamma");
        await Runtime.GetStatusNetworkListAsync(list);
        Assert.Equal(["STATUS alpha", "STATUS beta", "STATUS gamma"], _world.Sequence());

        _world.ClearCalls();
        await Runtime.GetStatusNetworkListAsync(_world.List("1.0.0", "alpha"));
        Assert.Empty(_world.Sequence());

        _world.Plugin("beta", failOn: "STATUS");
        var e = await Assert.ThrowsAsync<CniRuntimeException>(() => Runtime.GetStatusNetworkListAsync(list));
        Assert.Equal(1, e.PluginIndex);
        Assert.Equal(["STATUS alpha", "STATUS beta"], _world.Sequence());
    }

    /// <summary>Waits (bounded) until a mock plugin has started, so a test about "while an operation runs" does not
    /// depend on how fast a loaded machine schedules it.</summary>
    private async Task PluginHasStarted()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!(File.Exists(_world.TimingPath) && File.ReadAllText(_world.TimingPath).Contains("start ")))
        {
            Assert.True(DateTime.UtcNow < deadline, "the mock plugin never started");
            await Task.Delay(10);
        }
    }
}
