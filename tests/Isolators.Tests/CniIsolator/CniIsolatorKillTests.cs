using System.Text.Json.Nodes;
using Mesos;
using Mesos.Slave;
using NetIsolator.Isolators.Cni;
using NetIsolator.Linux;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>
/// Real agent crashes: the isolator runs in a separate process (tests/CniCrashDriver) through prepare, isolate and
/// cleanup of one container, and is killed with SIGKILL (a) after prepare, (b) in the middle of an ADD, (c) after
/// isolate, (d) in the middle of cleanup's DELs. A fresh isolator over the same ROOT then recovers, with the
/// container known to the agent (then cleaned up by the agent) or unknown (cleaned up by recover), and the test
/// checks that nothing is left: no nsfs pin or mount, no veth host end in the fake host, no host-local lease, no
/// ROOT/&lt;CID&gt; (with its checkpoint and CNI cache), and the container's namespace back to just <c>lo</c>.
/// </summary>
/// <remarks>
/// The blocks come from the mock plugin <c>blocker</c> (a /bin/sh script in the sandbox's plugins dir, next to
/// symlinks to the real bridge and host-local): while the file <c>block-ADD</c> (or <c>block-DEL</c>) exists in the
/// sandbox dir, that command writes its pid to <c>blocked-ADD</c> (<c>blocked-DEL</c>) and waits for <c>release</c>
/// (10 s at most), then fails; otherwise ADD prints an empty 1.0.0 result and DEL succeeds.
/// </remarks>
[Collection("CniIsolatorRoot")]
public sealed class CniIsolatorKillTests : IDisposable
{
    private const string Blocker = "blocker";
    private readonly CniSandbox _sandbox = new();
    private readonly CniFaultPlugins _plugins;
    private readonly List<CniCrashDriverProcess> _drivers = [];

    public CniIsolatorKillTests()
    {
        _plugins = new CniFaultPlugins(_sandbox);
        WriteBlocker();
    }

    public void Dispose()
    {
        try
        {
            foreach (var driver in _drivers)
            {
                driver.Dispose();
            }

            ReleaseBlockers();
        }
        finally
        {
            _sandbox.Dispose();
        }
    }

    // ----------------------------------------------------------------------------------------------------------
    // (a) after prepare

    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task KilledAfterPrepare_RecoverAndCleanup_LeaveNothing(bool known)
    {
        CniTestNetworks.WriteBridgeNetwork(_sandbox, "net1");
        var id = CniSandbox.NewId();
        var pid = _sandbox.StartContainer();
        var driver = StartDriver(id, pid, "prepare", "net1");
        driver.WaitForLine("HOLDING");
        driver.Kill9();

        // What the killed agent left: nothing, on disk or in the kernel (prepare writes nothing, as in Mesos).
        Assert.False(Directory.Exists(CniLayout.ContainerDirectory(_sandbox.Root, id.Value)), driver.Output);
        Assert.Empty(_sandbox.Leases());

        var fresh = await RecoverAsync(id, pid, known);
        Assert.False(Directory.Exists(CniLayout.ContainerDirectory(_sandbox.Root, id.Value)));
        Assert.Empty((await fresh.StatusAsync(id)).NetworkInfos);
        await fresh.CleanupAsync(id);

        AssertNothingLeft(id, pid);
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    // ----------------------------------------------------------------------------------------------------------
    // (b) in the middle of an ADD

    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task KilledInTheMiddleOfAnAdd_AfterTheRealBridgeRan_RecoverAndCleanup_DelTheHalfAttachment(bool known)
    {
        // bridge + host-local succeed, then the second plugin of the chain blocks: a veth pair, an address in the
        // container and a lease exist, and the cache entry has no result yet.
        var prefix = CniTestNetworks.WriteBridgeNetwork(_sandbox, "chain", new JsonObject { ["type"] = Blocker });
        File.WriteAllText(Signal("block-ADD"), "");
        var id = CniSandbox.NewId();
        var pid = _sandbox.StartContainer();
        var driver = StartDriver(id, pid, holdAfter: null, "chain");
        WaitForSignal("blocked-ADD", driver);
        Assert.True(driver.Printed("BEGIN isolate") && !driver.Printed("END isolate"), driver.Output);
        driver.Kill9();

        Assert.True(PersistentNetworkNamespace.IsPinned(CniLayout.NamespacePin(_sandbox.Root, id.Value)), driver.Output);
        Assert.Single(_sandbox.Leases());
        Assert.Contains("veth", _sandbox.HostLinks());
        Assert.Contains($"inet {prefix}", CniSandbox.Addresses(pid, "eth0"));
        var entry = JsonNode.Parse(File.ReadAllText(Assert.Single(CacheFiles(id))))!.AsObject();
        Assert.Equal("chain", (string?)entry["networkName"]);
        Assert.Null(entry["result"]);
        ReleaseBlockers();

        var fresh = await RecoverAsync(id, pid, known);
        if (known)
        {
            // Known: kept as it is (MESOS-9025: no DEL on recovery), with no result to report.
            Assert.Single(_sandbox.Leases());
            Assert.Empty((await fresh.StatusAsync(id)).NetworkInfos);
            Assert.DoesNotContain($"DEL eth0 {id.Value}", _plugins.Calls());
        }

        await fresh.CleanupAsync(id);

        Assert.Contains($"DEL eth0 {id.Value}", _plugins.Calls());
        AssertNothingLeft(id, pid);
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    // ----------------------------------------------------------------------------------------------------------
    // (c) after isolate

    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task KilledAfterIsolate_RecoverKeepsOrCleansTheAttachment_ThenNothingIsLeft(bool known)
    {
        var prefix = CniTestNetworks.WriteBridgeNetwork(_sandbox, "net1");
        var id = CniSandbox.NewId();
        var pid = _sandbox.StartContainer();
        var driver = StartDriver(id, pid, "isolate", "net1");
        driver.WaitForLine("HOLDING");
        driver.Kill9();

        var lease = Assert.Single(_sandbox.Leases());
        var address = Path.GetFileName(lease);
        Assert.StartsWith(prefix, address);
        Assert.Contains($"inet {address}/24", CniSandbox.Addresses(pid, "eth0"));

        var fresh = await RecoverAsync(id, pid, known);
        if (known)
        {
            Assert.Equal(address, Assert.Single(Assert.Single((await fresh.StatusAsync(id)).NetworkInfos).IpAddresses).IpAddress);
            Assert.Equal(lease, Assert.Single(_sandbox.Leases()));
            Assert.Contains($"inet {address}/24", CniSandbox.Addresses(pid, "eth0"));
            Assert.True((await fresh.UsageAsync(id)).HasNetRxPackets);
        }
        else
        {
            // Cleaned by recover itself, before the agent asks anything.
            Assert.Empty(_sandbox.Leases());
            Assert.Empty(_sandbox.ContainerDirectories());
            Assert.Empty((await fresh.StatusAsync(id)).NetworkInfos);
        }

        await fresh.CleanupAsync(id);

        AssertNothingLeft(id, pid);
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    // ----------------------------------------------------------------------------------------------------------
    // (d) in the middle of cleanup

    /// <param name="blockerIsEth0">Cleanup DELs eth1 then eth0. With the blocking network on eth0, the real network
    /// on eth1 is already detached when the agent dies (a half-done cleanup); on eth1, nothing is detached yet.</param>
    [RootTheory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public async Task KilledInTheMiddleOfCleanup_RecoverAndCleanup_FinishTheDetach(bool blockerIsEth0, bool known)
    {
        CniTestNetworks.WriteBridgeNetwork(_sandbox, "net1");
        _plugins.WriteNetwork("blk", Blocker);
        var networks = blockerIsEth0 ? new[] { "blk", "net1" } : ["net1", "blk"];
        var (realIf, blockerIf) = blockerIsEth0 ? ("eth1", "eth0") : ("eth0", "eth1");
        File.WriteAllText(Signal("block-DEL"), "");
        var id = CniSandbox.NewId();
        var pid = _sandbox.StartContainer();
        var driver = StartDriver(id, pid, holdAfter: null, networks);
        WaitForSignal("blocked-DEL", driver);
        Assert.True(driver.Printed("END isolate") && driver.Printed("BEGIN cleanup"), driver.Output);
        driver.Kill9();

        Assert.True(PersistentNetworkNamespace.IsPinned(CniLayout.NamespacePin(_sandbox.Root, id.Value)), driver.Output);
        Assert.Equal(blockerIsEth0 ? [] : new[] { realIf }, CniSandbox.Interfaces(pid).Where(i => i != "lo"));
        Assert.Equal(blockerIsEth0 ? 0 : 1, _sandbox.Leases().Count);
        Assert.Equal(blockerIsEth0 ? new[] { "blk" } : ["blk", "net1"],
            CacheFiles(id).Select(f => (string)JsonNode.Parse(File.ReadAllText(f))!["networkName"]!).Order(StringComparer.Ordinal));
        ReleaseBlockers();
        var delsBefore = _plugins.Calls().Count(c => c == $"DEL {blockerIf} {id.Value}");
        Assert.Equal(1, delsBefore);

        var fresh = await RecoverAsync(id, pid, known);
        if (known)
        {
            Assert.True(Directory.Exists(CniLayout.ContainerDirectory(_sandbox.Root, id.Value)));
            Assert.Equal(1, _plugins.Calls().Count(c => c == $"DEL {blockerIf} {id.Value}"));
        }

        await fresh.CleanupAsync(id);

        Assert.Equal(2, _plugins.Calls().Count(c => c == $"DEL {blockerIf} {id.Value}"));
        AssertNothingLeft(id, pid);
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    // ----------------------------------------------------------------------------------------------------------
    // the driver itself

    [RootFact]
    public void TheDriver_Unkilled_RunsTheWholeLifecycle_AndLeavesNothing()
    {
        // Without this, a driver that never got as far as the kill point would make the tests above vacuous.
        var prefix = CniTestNetworks.WriteBridgeNetwork(_sandbox, "net1");
        var id = CniSandbox.NewId();
        var pid = _sandbox.StartContainer();
        var driver = StartDriver(id, pid, holdAfter: null, "net1");
        Assert.True(driver.WaitForExit(TimeSpan.FromSeconds(30)) == 0, driver.Output);
        foreach (var step in new[] { "prepare", "isolate", "cleanup" })
        {
            Assert.True(driver.Printed($"BEGIN {step}") && driver.Printed($"END {step}"), driver.Output);
        }

        Assert.Contains($"attached to CNI network 'net1' as eth0: {prefix}", driver.Output);
        AssertNothingLeft(id, pid);
    }

    // ----------------------------------------------------------------------------------------------------------
    // helpers

    private CniCrashDriverProcess StartDriver(ContainerID id, int pid, string? holdAfter, params string[] networks)
    {
        var driver = CniCrashDriverProcess.Start(_sandbox, _plugins.Directory, id, pid, holdAfter, networks);
        _drivers.Add(driver);
        return driver;
    }

    private async Task<NetIsolator.Isolators.Cni.CniIsolator> RecoverAsync(ContainerID id, int pid, bool known)
    {
        var fresh = _plugins.CreateIsolator();
        await fresh.RecoverAsync(known ? [new ContainerState { ContainerId = id, Pid = (ulong)pid, Directory = "/tmp" }] : [], []);
        return fresh;
    }

    private void AssertNothingLeft(ContainerID id, int pid)
    {
        Assert.Empty(_sandbox.Leases());
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.Empty(_sandbox.NsfsMountsUnderRoot());
        Assert.DoesNotContain(MountInfo.ReadSelf(), m => m.MountPoint.Contains(id.Value, StringComparison.Ordinal));
        Assert.DoesNotContain("veth", _sandbox.HostLinks());
        Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
    }

    private IEnumerable<string> CacheFiles(ContainerID id)
    {
        var directory = CniLayout.CacheDirectory(_sandbox.Root, id.Value);
        return Directory.Exists(directory) ? Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories) : [];
    }

    private string Signal(string name) => Path.Join(_sandbox.Directory, name);

    private void WaitForSignal(string name, CniCrashDriverProcess driver)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!File.Exists(Signal(name)) || File.ReadAllText(Signal(name)).Trim().Length == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the blocker did not report '{name}' within 15 s\n{driver.Output}");
            Thread.Sleep(10);
        }
    }

    /// <summary>Lets every blocked mock go (it then fails) and waits until none runs any more.</summary>
    private void ReleaseBlockers()
    {
        File.Delete(Signal("block-ADD"));
        File.Delete(Signal("block-DEL"));
        File.WriteAllText(Signal("release"), "");
        foreach (var name in new[] { "blocked-ADD", "blocked-DEL" })
        {
            if (File.Exists(Signal(name)) && int.TryParse(File.ReadAllText(Signal(name)).Trim(), out var blocked))
            {
                var deadline = DateTime.UtcNow.AddSeconds(5);
                while (CniFaultPlugins.IsAlive(blocked) && DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(10);
                }

                Assert.False(CniFaultPlugins.IsAlive(blocked), $"the blocked mock {blocked} did not end once released");
            }
        }
    }

    private void WriteBlocker()
    {
        var directory = _sandbox.Directory;
        var path = Path.Join(_plugins.Directory, Blocker);
        File.WriteAllText(path, $$"""
            #!/bin/sh
            cat > /dev/null
            echo "$CNI_COMMAND $CNI_IFNAME $CNI_CONTAINERID" >> '{{_plugins.CallLog}}'
            if [ "$CNI_COMMAND" = "VERSION" ]; then
              printf '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}'
              exit 0
            fi
            if [ -e '{{directory}}/block-'"$CNI_COMMAND" ]; then
              echo $$ > '{{directory}}/blocked-'"$CNI_COMMAND.tmp"
              mv '{{directory}}/blocked-'"$CNI_COMMAND.tmp" '{{directory}}/blocked-'"$CNI_COMMAND"
              i=0
              while [ ! -e '{{directory}}/release' ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
              echo "released" >&2
              exit 1
            fi
            if [ "$CNI_COMMAND" = "ADD" ]; then
              printf '{"cniVersion":"1.0.0"}'
            fi
            exit 0

            """);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
    }
}
