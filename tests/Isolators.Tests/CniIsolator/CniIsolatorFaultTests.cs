using System.Diagnostics;
using Mesos;
using Mesos.Slave;
using NetIsolator.Bridge;
using NetIsolator.Isolators.Cni;
using NetIsolator.Linux;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>
/// The CNI isolator against faulty plugins (mock /bin/sh scripts run in the sandbox's fake host namespace), hostile
/// prepare inputs, and agent crashes (an isolator dropped without cleanup and a new one recovering the same ROOT).
/// Each test's <see cref="CniSandbox"/> checks that nothing is left (nsfs mounts, ROOT/&lt;CID&gt;, leases).
/// </summary>
[Collection("CniIsolatorRoot")]
public sealed class CniIsolatorFaultTests : IDisposable
{
    private readonly CniSandbox _sandbox = new();
    private readonly CniFaultPlugins _plugins;

    public CniIsolatorFaultTests() => _plugins = new CniFaultPlugins(_sandbox);

    public void Dispose() => _sandbox.Dispose();

    // ----------------------------------------------------------------------------------------------------------
    // faulty plugins

    [RootTheory]
    [InlineData(PluginFault.Crash, "exit")]
    [InlineData(PluginFault.Garbage, "")]
    [InlineData(PluginFault.CniError, "try again later")]
    public async Task FaultyPlugin_FailsIsolate_NamingNetworkAndPlugin_ThenCleanupDelsAndLeavesNothing(PluginFault fault, string problem)
    {
        var type = $"mock-{fault.ToString().ToLowerInvariant()}";
        _plugins.WriteFaultyNetwork("faulty", type, fault);
        var isolator = _plugins.CreateIsolator();
        var (id, pid, error) = await IsolateMustFail(isolator, new NetworkInfo { Name = "faulty" });

        Assert.Contains(id.Value, error.Message);
        Assert.Contains("'faulty'", error.Message);
        Assert.Contains(type, error.Message);
        Assert.Contains(problem, error.Message, StringComparison.OrdinalIgnoreCase);
        if (fault == PluginFault.CniError)
        {
            Assert.Contains("11", error.Message);
        }

        Assert.Empty((await isolator.StatusAsync(id)).NetworkInfos);
        await AssertCleanupDelsAndLeavesNothing(isolator, id, pid);
    }

    [RootFact]
    public async Task TheFirstPlugin_GetsItsConfigOnlyOnceTheCheckpointPinAndFilesAreInPlace()
    {
        // The mock reads its config, then looks at what isolate has made: the plan beside CNI_NETNS, CNI_NETNS
        // itself a mount (the pin), and the container's hosts file.
        var seen = Path.Join(_sandbox.Directory, "seen");
        var probe = Path.Join(_plugins.Directory, "probe");
        File.WriteAllText(probe, $$"""
            #!/bin/sh
            cat > /dev/null
            if [ "$CNI_COMMAND" = "ADD" ]; then
              dir=$(dirname "$CNI_NETNS")
              echo "plan=$(test -f "$dir/plan.json" && echo y) pin=$(mountpoint -q "$CNI_NETNS" && echo y) hosts=$(test -f "$dir/hosts" && echo y)" > '{{seen}}'
              printf '{"cniVersion":"1.0.0","ips":[{"address":"10.250.0.2/24"}]}'
            fi
            exit 0

            """);
        File.SetUnixFileMode(probe, (UnixFileMode)0b111_101_101);
        _plugins.WriteNetwork("probed", "probe");
        var isolator = _plugins.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.PrepareAndStartAsync(isolator, id, new NetworkInfo { Name = "probed" });

        await isolator.IsolateAsync(id, pid);

        Assert.Equal("plan=y pin=y hosts=y", File.ReadAllText(seen).Trim());
        Assert.Contains("10.250.0.2", File.ReadAllText(Path.Join(CniLayout.ContainerDirectory(isolator.Root!, id.Value), "hosts")));
        await isolator.CleanupAsync(id);
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.Empty(_sandbox.NsfsMountsUnderRoot());
    }

    [RootFact]
    public async Task GarbageOutput_IsReportedAsUnparsableResult()
    {
        _plugins.WriteFaultyNetwork("faulty", "mock-garbage", PluginFault.Garbage);
        var isolator = _plugins.CreateIsolator();
        var (id, pid, error) = await IsolateMustFail(isolator, new NetworkInfo { Name = "faulty" });

        // Whatever the wording, the message must say the output could not be used (not a bare "failed").
        Assert.Matches("(?i)pars|json|invalid|malformed|decod|result", error.Message);
        await AssertCleanupDelsAndLeavesNothing(isolator, id, pid);
    }

    [RootFact]
    public async Task HangingPlugin_IsKilledOnTheTimeout_IsolateFailsWithinSeconds_NamingTheTimeout()
    {
        _plugins.WriteFaultyNetwork("slow", "mock-hang", PluginFault.Hang);
        var isolator = _plugins.CreateIsolator(TimeSpan.FromSeconds(1));
        var id = CniSandbox.NewId();
        var pid = await _sandbox.PrepareAndStartAsync(isolator, id, new NetworkInfo { Name = "slow" });

        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<IsolatorException>(() => isolator.IsolateAsync(id, pid));
        watch.Stop();

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"isolate took {watch.Elapsed}");
        Assert.Contains("'slow'", error.Message);
        Assert.Contains("mock-hang", error.Message);
        Assert.Contains("timed out", error.Message);

        // The plugin and its child were killed with it (no sleep 30 left behind).
        var pids = File.ReadAllText(_plugins.HangPids).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
        Assert.Equal(2, pids.Count);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (pids.Any(CniFaultPlugins.IsAlive) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.DoesNotContain(pids, CniFaultPlugins.IsAlive);
        await AssertCleanupDelsAndLeavesNothing(isolator, id, pid);
    }

    [RootFact]
    public async Task FaultyPlugin_OnTheSecondNetwork_CleanupDelsBoth()
    {
        var prefix = _sandbox.AddNetwork("good");
        _plugins.WriteFaultyNetwork("faulty", "mock-crash", PluginFault.Crash);
        var isolator = _plugins.CreateIsolator();
        var (id, pid, error) = await IsolateMustFail(isolator, new NetworkInfo { Name = "good" }, new NetworkInfo { Name = "faulty" });
        Assert.Contains("'faulty'", error.Message);
        Assert.Contains("eth1", error.Message);
        Assert.Contains($"inet {prefix}", CniSandbox.Addresses(pid, "eth0"));
        Assert.Single(_sandbox.Leases());

        await AssertCleanupDelsAndLeavesNothing(isolator, id, pid, ifName: "eth1");
        Assert.DoesNotContain("veth", _sandbox.HostLinks());
    }

    [RootTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task MissingPluginBinary_FailsPrepare_NamingTheTypeAndTheSearchPath(bool ipam)
    {
        File.WriteAllText(Path.Join(_sandbox.ConfigDir, "ghost.conflist"), ipam
            ? """{"cniVersion":"1.0.0","name":"ghost","plugins":[{"type":"bridge","bridge":"nbghost","ipam":{"type":"no-such-ipam"}}]}"""
            : """{"cniVersion":"1.0.0","name":"ghost","plugins":[{"type":"no-such-plugin"}]}""");
        var isolator = _plugins.CreateIsolator();
        var id = CniSandbox.NewId();

        var error = await Assert.ThrowsAsync<IsolatorException>(() => isolator.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "ghost" })));

        Assert.Contains(ipam ? "'no-such-ipam'" : "'no-such-plugin'", error.Message);
        Assert.Contains("'ghost'", error.Message);
        Assert.Contains(_plugins.Directory, error.Message);
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.Empty(_plugins.Calls());
        // Nothing was recorded: the same id prepares once the network is usable, and cleanup is a no-op.
        await isolator.CleanupAsync(id);
        Assert.Null(await isolator.PrepareAsync(id, CniSandbox.Config()));
    }

    private async Task AssertCleanupDelsAndLeavesNothing(NetIsolator.Isolators.Cni.CniIsolator isolator, ContainerID id, int pid, string ifName = "eth0")
    {
        var pin = CniLayout.NamespacePin(isolator.Root!, id.Value);
        Assert.True(PersistentNetworkNamespace.IsPinned(pin), "isolate pinned the namespace before the plugin ran");

        await isolator.CleanupAsync(id);

        Assert.Contains($"DEL {ifName} {id.Value}", _plugins.Calls());
        Assert.False(File.Exists(pin));
        Assert.False(Directory.Exists(CniLayout.ContainerDirectory(isolator.Root!, id.Value)));
        Assert.Empty(_sandbox.NsfsMountsUnderRoot());
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.Empty(_sandbox.Leases());
        Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
        Assert.Empty((await isolator.StatusAsync(id)).NetworkInfos);
    }

    // ----------------------------------------------------------------------------------------------------------
    // hostile inputs at prepare

    public static TheoryData<string> HostileNetworkNames() => new()
    {
        "../x",
        "a/b",
        "..",
        new string('n', 300),
        "réseau-ü",
        "网络",
        "net\nwork",
    };

    [RootTheory]
    [MemberData(nameof(HostileNetworkNames))]
    public async Task HostileNetworkName_FailsPrepare_NamingIt_AndCreatesNothing(string name)
    {
        _sandbox.AddNetwork("net1");
        var isolator = _plugins.CreateIsolator();
        var before = _plugins.SandboxEntries();
        var id = CniSandbox.NewId();

        var error = await Assert.ThrowsAsync<IsolatorException>(() => isolator.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = name })));

        Assert.Contains($"'{name}'", error.Message);
        Assert.Equal(before, _plugins.SandboxEntries());
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.Empty(_plugins.Calls());
        // The id is not taken: it still prepares for a real network.
        Assert.NotNull(await isolator.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "net1" })));
        await isolator.CleanupAsync(id);
    }

    public static TheoryData<string> HostileContainerIds() => new()
    {
        "..",
        "../x",
        "a/b",
        "x/../../../escape",
        "/abs",
        "a..b",
        ".hidden",
        "with space",
        "nul\0byte",
    };

    [RootTheory]
    [MemberData(nameof(HostileContainerIds))]
    public async Task HostileContainerId_IsRefusedAsAnIsolatorError_CreatesNothing_AndLeavesNoState(string value)
    {
        _sandbox.AddNetwork("net1");
        var isolator = _plugins.CreateIsolator();
        var before = _plugins.SandboxEntries();
        var id = new ContainerID { Value = value };

        var error = await Assert.ThrowsAsync<IsolatorException>(() => isolator.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "net1" })));

        Assert.Contains(value, error.Message);
        Assert.Equal(before, _plugins.SandboxEntries());
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.False(Directory.Exists(Path.Join(_sandbox.RuntimeDir, "isolators", "network", "x")));
        Assert.False(Directory.Exists(Path.Join(_sandbox.RuntimeDir, "escape")));

        // The refused container left no in-memory state: status is empty, isolate and cleanup are no-ops.
        Assert.Empty((await isolator.StatusAsync(id)).NetworkInfos);
        var pid = _sandbox.StartContainer();
        await isolator.IsolateAsync(id, pid);
        Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
        await isolator.CleanupAsync(id);
        Assert.Empty(_sandbox.ContainerDirectories());
    }

    [RootFact]
    public async Task HostileNestedContainerId_IsRefused_AndCreatesNothing()
    {
        _sandbox.AddNetwork("net1");
        var isolator = _plugins.CreateIsolator();
        var parent = CniSandbox.NewId();
        await isolator.PrepareAsync(parent, CniSandbox.Config(new NetworkInfo { Name = "net1" }));
        var before = _plugins.SandboxEntries();
        var child = new ContainerID { Value = "../../x", Parent = parent };

        await Assert.ThrowsAnyAsync<Exception>(() => isolator.PrepareAsync(child, CniSandbox.Config(new NetworkInfo { Name = "net1" })));

        Assert.Equal(before, _plugins.SandboxEntries());
        await isolator.CleanupAsync(parent);
    }

    // ----------------------------------------------------------------------------------------------------------
    // agent crash and restart

    [RootFact]
    public async Task Crash_AfterIsolate_RecoverWithTheContainer_KeepsItsAddress_WithoutDel()
    {
        var prefix = _sandbox.AddNetwork("net1");
        var first = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(first, id, new NetworkInfo { Name = "net1" });
        var address = Assert.Single(Assert.Single((await first.StatusAsync(id)).NetworkInfos).IpAddresses).IpAddress;
        var lease = Assert.Single(_sandbox.Leases());

        // The agent "crashes": the first instance is dropped without cleanup.
        var second = _sandbox.CreateIsolator();
        await second.RecoverAsync([new ContainerState { ContainerId = id, Pid = (ulong)pid, Directory = "/tmp" }], []);

        Assert.StartsWith(prefix, address);
        Assert.Equal(address, Assert.Single(Assert.Single((await second.StatusAsync(id)).NetworkInfos).IpAddresses).IpAddress);
        Assert.Equal(address, Assert.Single((await second.StatusAsync(CniSandbox.NewId(id))).NetworkInfos).IpAddresses[0].IpAddress);
        // MESOS-9025: recovery must not DEL.
        Assert.Equal(lease, Assert.Single(_sandbox.Leases()));
        Assert.Contains($"inet {address}/", CniSandbox.Addresses(pid, "eth0"));
        Assert.True(PersistentNetworkNamespace.IsPinned(CniLayout.NamespacePin(second.Root!, id.Value)));
        Assert.True((await second.UsageAsync(id)).HasNetTxPackets);

        // A second prepare of the recovered id is refused; a second recover (another restart) is fine.
        await Assert.ThrowsAsync<IsolatorException>(() => second.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "net1" })));
        var third = _sandbox.CreateIsolator();
        await third.RecoverAsync([new ContainerState { ContainerId = id, Pid = (ulong)pid, Directory = "/tmp" }], []);

        await third.CleanupAsync(id);
        Assert.Empty(_sandbox.Leases());
        Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
    }

    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Crash_AfterIsolate_RecoverWithoutTheContainer_CleansItUp(bool containerStillRunning)
    {
        _sandbox.AddNetwork("net1");
        var first = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(first, id, new NetworkInfo { Name = "net1" });
        Assert.Single(_sandbox.Leases());
        if (!containerStillRunning)
        {
            _sandbox.KillContainer(pid);
        }

        var second = _sandbox.CreateIsolator();
        await second.RecoverAsync([], []);

        Assert.Empty(_sandbox.Leases());
        Assert.False(File.Exists(CniLayout.NamespacePin(second.Root!, id.Value)));
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.Empty(_sandbox.NsfsMountsUnderRoot());
        Assert.DoesNotContain("veth", _sandbox.HostLinks());
        if (containerStillRunning)
        {
            Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
        }

        Assert.Empty((await second.StatusAsync(id)).NetworkInfos);
        await second.CleanupAsync(id);
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Crash_AfterPrepare_BeforeIsolate_RecoverAndCleanup_LeavesNothing(bool known)
    {
        _sandbox.AddNetwork("net1");
        var first = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        await first.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "net1" }));
        Assert.False(Directory.Exists(CniLayout.ContainerDirectory(first.Root!, id.Value)));

        var second = _sandbox.CreateIsolator();
        await second.RecoverAsync(known ? [new ContainerState { ContainerId = id, Pid = 1, Directory = "/tmp" }] : [], []);

        Assert.False(Directory.Exists(CniLayout.ContainerDirectory(second.Root!, id.Value)));
        Assert.Empty((await second.StatusAsync(id)).NetworkInfos);
        await second.CleanupAsync(id);

        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.Empty(_sandbox.NsfsMountsUnderRoot());
        Assert.Empty(_sandbox.Leases());
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    [RootFact]
    public async Task Crash_AfterPrepare_BeforeIsolate_RecoveredUsage_IsTimestampOnly()
    {
        _sandbox.AddNetwork("net1");
        var first = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        await first.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "net1" }));
        var second = _sandbox.CreateIsolator();
        await second.RecoverAsync([new ContainerState { ContainerId = id, Pid = 1, Directory = "/tmp" }], []);

        try
        {
            var usage = await second.UsageAsync(id);
            Assert.True(usage.Timestamp > 0);
            Assert.False(usage.HasNetTxPackets);
        }
        finally
        {
            await second.CleanupAsync(id);
        }
    }

    [RootFact]
    public async Task Crash_AfterAFailedIsolate_RecoverAsOrphan_ThenCleanupDels()
    {
        _plugins.WriteFaultyNetwork("faulty", "mock-error", PluginFault.CniError);
        var first = _plugins.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.PrepareAndStartAsync(first, id, new NetworkInfo { Name = "faulty" });
        await Assert.ThrowsAsync<IsolatorException>(() => first.IsolateAsync(id, pid));

        var second = _plugins.CreateIsolator();
        await second.RecoverAsync([], [id]);
        Assert.DoesNotContain(_plugins.Calls(), c => c.StartsWith("DEL", StringComparison.Ordinal));
        Assert.Empty((await second.StatusAsync(id)).NetworkInfos);

        await second.CleanupAsync(id);
        Assert.Contains($"DEL eth0 {id.Value}", _plugins.Calls());
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.Empty(_sandbox.NsfsMountsUnderRoot());
    }

    /// <summary>A fresh container prepared for <paramref name="networks"/> and started; its isolate must fail.</summary>
    private async Task<(ContainerID Id, int Pid, IsolatorException Error)> IsolateMustFail(
        NetIsolator.Isolators.Cni.CniIsolator isolator, params NetworkInfo[] networks)
    {
        var id = CniSandbox.NewId();
        var pid = await _sandbox.PrepareAndStartAsync(isolator, id, networks);
        var error = await Assert.ThrowsAsync<IsolatorException>(() => isolator.IsolateAsync(id, pid));
        return (id, pid, error);
    }
}
