using Mesos;
using Mesos.Slave;
using NetIsolator.Bridge;
using NetIsolator.Isolators.Cni;
using NetIsolator.Linux;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>
/// The CNI isolator driven through its methods against real plugins (bridge + host-local from /usr/lib/cni) run in a
/// fake host namespace, with real "container" processes. Each test's <see cref="CniSandbox"/> checks it leaks nothing.
/// </summary>
[Collection("CniIsolatorRoot")]
public sealed class CniIsolatorLifecycleTests : IDisposable
{
    private readonly CniSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [RootFact]
    public async Task Prepare_HostNetwork_UnknownNetwork_AndNestedContainers()
    {
        _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();

        Assert.Null(await isolator.PrepareAsync(CniSandbox.NewId(), CniSandbox.Config()));
        Assert.Null(await isolator.PrepareAsync(CniSandbox.NewId(), new ContainerConfig { CommandInfo = new CommandInfo(), Directory = "/tmp" }));
        var unknown = await Assert.ThrowsAsync<IsolatorException>(() => isolator.PrepareAsync(CniSandbox.NewId(), CniSandbox.Config(new NetworkInfo { Name = "nope" })));
        Assert.Contains("Unknown CNI network 'nope'", unknown.Message);
        var twice = await Assert.ThrowsAsync<IsolatorException>(() => isolator.PrepareAsync(CniSandbox.NewId(), CniSandbox.Config(new NetworkInfo { Name = "net1" }, new NetworkInfo { Name = "net1" })));
        Assert.Contains("Attempted to join CNI network 'net1' multiple times", twice.Message);
        Assert.Empty(_sandbox.ContainerDirectories());

        var parent = CniSandbox.NewId();
        var launch = await isolator.PrepareAsync(parent, CniSandbox.Config(new NetworkInfo { Name = "net1" }));
        Assert.Equal([CniDecisions.CloneNewNs, CniDecisions.CloneNewNet, CniDecisions.CloneNewUts], launch!.CloneNamespaces);
        // As in Mesos, prepare writes nothing: the directory and its checkpoint come with isolate.
        Assert.False(Directory.Exists(CniLayout.ContainerDirectory(isolator.Root!, parent.Value)));
        await Assert.ThrowsAsync<IsolatorException>(() => isolator.PrepareAsync(parent, CniSandbox.Config(new NetworkInfo { Name = "net1" })));

        // A nested container without networks joins the parent's namespaces; one with its own gets new ones.
        var joiner = CniSandbox.NewId(parent);
        var joinLaunch = await isolator.PrepareAsync(joiner, CniSandbox.Config());
        Assert.Equal([CniDecisions.CloneNewNet, CniDecisions.CloneNewUts], joinLaunch!.EnterNamespaces);
        Assert.Equal([CniDecisions.CloneNewNs], joinLaunch.CloneNamespaces);
        var own = CniSandbox.NewId(parent);
        Assert.Equal(3, (await isolator.PrepareAsync(own, CniSandbox.Config(new NetworkInfo { Name = "net1" })))!.CloneNamespaces.Count);
        Assert.Empty(_sandbox.ContainerDirectories());
        // A nested container of a host-network parent stays on the host network.
        Assert.Null(await isolator.PrepareAsync(CniSandbox.NewId(CniSandbox.NewId()), CniSandbox.Config()));

        // Cleanup before isolate: nothing was made, and the containers are forgotten.
        await isolator.CleanupAsync(joiner);
        await isolator.CleanupAsync(own);
        await isolator.CleanupAsync(parent);
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.NotNull(await isolator.PrepareAsync(parent, CniSandbox.Config(new NetworkInfo { Name = "net1" })));
        await isolator.CleanupAsync(parent);
    }

    [RootFact]
    public async Task Prepare_ReloadsTheConfigDirectory_OnAMiss()
    {
        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        await Assert.ThrowsAsync<IsolatorException>(() => isolator.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "late" })));
        _sandbox.AddNetwork("late");
        Assert.NotNull(await isolator.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "late" })));
        await isolator.CleanupAsync(id);
    }

    [RootFact]
    public async Task FullLifecycle_AttachesEth0_ReportsStatus_AndCleanupRemovesEverything()
    {
        var prefix = _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var info = new NetworkInfo { Name = "net1", Labels = new Labels { Labels_ = { new Label { Key = "team", Value = "a" } } } };
        var pid = await _sandbox.AttachAsync(isolator, id, info);

        var pin = CniLayout.NamespacePin(isolator.Root!, id.Value);
        Assert.True(PersistentNetworkNamespace.IsPinned(pin));
        Assert.Equal(["eth0", "lo"], CniSandbox.Interfaces(pid));
        Assert.Contains($"inet {prefix}", CniSandbox.Addresses(pid, "eth0"));
        Assert.Single(_sandbox.Leases());
        var directory = CniLayout.ContainerDirectory(isolator.Root!, id.Value);
        Assert.Equal(id.Value, File.ReadAllText(Path.Join(directory, "hostname")));
        Assert.Contains(id.Value, File.ReadAllText(Path.Join(directory, "hosts")));

        var status = await isolator.StatusAsync(id);
        var network = Assert.Single(status.NetworkInfos);
        Assert.Equal("net1", network.Name);
        Assert.Equal("a", Assert.Single(network.Labels.Labels_).Value);
        var ip = Assert.Single(network.IpAddresses);
        Assert.StartsWith(prefix, ip.IpAddress);
        Assert.Contains(ip.IpAddress, File.ReadAllText(Path.Join(directory, "hosts")));
        Assert.Equal(ip.IpAddress, Assert.Single((await isolator.StatusAsync(CniSandbox.NewId(id))).NetworkInfos).IpAddresses[0].IpAddress);
        Assert.True((await isolator.UsageAsync(id)).Timestamp > 0);

        await isolator.CleanupAsync(id);

        Assert.False(File.Exists(pin));
        Assert.False(Directory.Exists(directory));
        Assert.Empty(_sandbox.Leases());
        Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
        Assert.Empty((await isolator.StatusAsync(id)).NetworkInfos);

        // Twice, and concurrently, and for an id never seen: no-ops.
        await Task.WhenAll(isolator.CleanupAsync(id), isolator.CleanupAsync(id));
        await isolator.CleanupAsync(CniSandbox.NewId());
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    [RootFact]
    public async Task TwoNetworks_GetEth0AndEth1_InNetworkInfoOrder()
    {
        var first = _sandbox.AddNetwork("first");
        var second = _sandbox.AddNetwork("second");
        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(isolator, id, new NetworkInfo { Name = "second" }, new NetworkInfo(), new NetworkInfo { Name = "first" });

        Assert.Equal(["eth0", "eth1", "lo"], CniSandbox.Interfaces(pid));
        Assert.Contains($"inet {second}", CniSandbox.Addresses(pid, "eth0"));
        Assert.Contains($"inet {first}", CniSandbox.Addresses(pid, "eth1"));
        var status = await isolator.StatusAsync(id);
        Assert.Equal(["second", "first"], status.NetworkInfos.Select(n => n.Name));
        Assert.Equal(2, _sandbox.Leases().Count);

        await isolator.CleanupAsync(id);
        Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
    }

    [RootFact]
    public async Task Isolate_AddsWithTheConfigPrepareChecked_EvenIfTheFileIsBrokenInBetween()
    {
        var prefix = _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.PrepareAndStartAsync(isolator, id, new NetworkInfo { Name = "net1" });

        // An operator's half-written edit lands between the agent's prepare and isolate.
        File.WriteAllText(Path.Join(_sandbox.ConfigDir, "net1.conflist"), "{\"cniVersion\":");
        await isolator.IsolateAsync(id, pid);

        Assert.Contains($"inet {prefix}", CniSandbox.Addresses(pid, "eth0"));
        await isolator.CleanupAsync(id);
        Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
    }

    [RootFact]
    public async Task Cleanup_AfterTheConfigFileWasDeleted_DelsFromTheCheckpoint_EvenWithTheContainerGone()
    {
        _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(isolator, id, new NetworkInfo { Name = "net1" });
        Assert.Single(_sandbox.Leases());

        File.Delete(Path.Join(_sandbox.ConfigDir, "net1.conflist"));
        _sandbox.KillContainer(pid);
        await isolator.CleanupAsync(id);

        Assert.Empty(_sandbox.Leases());
        Assert.DoesNotContain("veth", _sandbox.HostLinks());
    }

    [RootFact]
    public async Task FailedAdd_IsDeletedByCleanup()
    {
        var prefix = _sandbox.AddNetwork("good");
        // A second network whose ADD fails: its "bridge" is the fake host's lo, which is not a bridge.
        File.WriteAllText(Path.Join(_sandbox.ConfigDir, "bad.conflist"), $$$"""
            {"cniVersion":"1.0.0","name":"bad","plugins":[{"type":"bridge","bridge":"lo","ipam":{"type":"host-local","dataDir":"{{{_sandbox.IpamDir}}}","ranges":[[{"subnet":"10.216.0.0/24"}]]}}]}
            """);
        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.PrepareAndStartAsync(isolator, id, new NetworkInfo { Name = "good" }, new NetworkInfo { Name = "bad" });

        var error = await Assert.ThrowsAsync<IsolatorException>(() => isolator.IsolateAsync(id, pid));
        Assert.Contains("'bad'", error.Message);
        Assert.Contains($"inet {prefix}", CniSandbox.Addresses(pid, "eth0"));

        await isolator.CleanupAsync(id);
        Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
    }

    [RootFact]
    public async Task ASecondInstance_RecoversTheContainer_ThenCleansItUp()
    {
        var prefix = _sandbox.AddNetwork("net1");
        var first = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(first, id, new NetworkInfo { Name = "net1", Labels = new Labels { Labels_ = { new Label { Key = "k", Value = "v" } } } });

        var second = _sandbox.CreateIsolator();
        await second.RecoverAsync([new ContainerState { ContainerId = id, Pid = (ulong)pid, Directory = "/tmp" }], []);

        var network = Assert.Single((await second.StatusAsync(id)).NetworkInfos);
        Assert.Equal("v", network.Labels.Labels_[0].Value);
        Assert.StartsWith(prefix, Assert.Single(network.IpAddresses).IpAddress);
        Assert.Single(_sandbox.Leases());

        await second.CleanupAsync(id);
        Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
        Assert.Empty(_sandbox.Leases());
    }

    [RootFact]
    public async Task Recover_CleansACorruptCheckpoint_AndUnknownContainers_KeepsOrphansForTheAgent()
    {
        _sandbox.AddNetwork("net1");
        var first = _sandbox.CreateIsolator();
        var good = CniSandbox.NewId();
        var corrupt = CniSandbox.NewId();
        var unknown = CniSandbox.NewId();
        var orphan = CniSandbox.NewId();
        var pids = new Dictionary<ContainerID, int>();
        foreach (var id in new[] { good, corrupt, unknown, orphan })
        {
            pids[id] = await _sandbox.AttachAsync(first, id, new NetworkInfo { Name = "net1" });
        }

        Assert.Equal(4, _sandbox.Leases().Count);
        File.WriteAllText(CniLayout.PlanPath(first.Root!, corrupt.Value), "{ corrupt");
        File.WriteAllText(Path.Join(_sandbox.Root, "not-a-container"), "");

        var second = _sandbox.CreateIsolator();
        await second.RecoverAsync(
            [new ContainerState { ContainerId = good, Pid = 1, Directory = "/" }, new ContainerState { ContainerId = corrupt, Pid = 1, Directory = "/" }],
            [orphan]);

        Assert.Contains(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error && l.Message.Contains(corrupt.Value) && l.Message.Contains("checkpoint"));
        Assert.Equal(["lo"], CniSandbox.Interfaces(pids[corrupt]));
        Assert.Equal(["lo"], CniSandbox.Interfaces(pids[unknown]));
        Assert.False(Directory.Exists(CniLayout.ContainerDirectory(second.Root!, corrupt.Value)));
        Assert.False(Directory.Exists(CniLayout.ContainerDirectory(second.Root!, unknown.Value)));
        Assert.Equal(2, _sandbox.Leases().Count);
        Assert.Single((await second.StatusAsync(good)).NetworkInfos);
        Assert.Single((await second.StatusAsync(orphan)).NetworkInfos);
        Assert.Equal(["eth0", "lo"], CniSandbox.Interfaces(pids[orphan]));

        await second.CleanupAsync(orphan);
        await second.CleanupAsync(good);
        File.Delete(Path.Join(_sandbox.Root, "not-a-container"));
        Assert.Equal(["lo"], CniSandbox.Interfaces(pids[good]));
    }
}
