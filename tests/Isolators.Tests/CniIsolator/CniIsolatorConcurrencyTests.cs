using Mesos;
using NetIsolator.Bridge;
using NetIsolator.Isolators.Cni;
using NetIsolator.Linux;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>
/// Many containers through one CNI isolator at once, on one bridge + host-local network (real plugins, fake host).
/// Every loop is bounded; the sandbox checks that nothing is left.
/// </summary>
[Collection("CniIsolatorRoot")]
public sealed class CniIsolatorConcurrencyTests : IDisposable
{
    private const int Count = 32;
    private readonly CniSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [RootFact]
    public async Task ThirtyTwoContainers_AttachAndDetachConcurrently_DistinctAddresses_NothingLeft()
    {
        var prefix = _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        var ids = Enumerable.Range(0, Count).Select(_ => CniSandbox.NewId()).ToList();
        // StartContainer is not thread-safe (the sandbox's process list): start them one by one.
        var pids = ids.Select(_ => _sandbox.StartContainer()).ToList();

        await Task.WhenAll(ids.Select(id => Task.Run(() => isolator.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "net1" })))));
        await Task.WhenAll(ids.Select((id, i) => Task.Run(() => isolator.IsolateAsync(id, pids[i]))));

        var addresses = new List<string>();
        for (var i = 0; i < Count; i++)
        {
            Assert.Equal(["eth0", "lo"], CniSandbox.Interfaces(pids[i]));
            var address = Assert.Single(Assert.Single((await isolator.StatusAsync(ids[i])).NetworkInfos).IpAddresses).IpAddress;
            Assert.StartsWith(prefix, address);
            Assert.Contains($"inet {address}/", CniSandbox.Addresses(pids[i], "eth0"));
            addresses.Add(address);
        }

        Assert.Equal(Count, addresses.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(Count, _sandbox.Leases().Count);
        Assert.Equal(Count, _sandbox.NsfsMountsUnderRoot().Count);

        await Task.WhenAll(ids.Select(id => Task.Run(() => isolator.CleanupAsync(id))));

        Assert.Empty(_sandbox.Leases());
        Assert.Empty(_sandbox.NsfsMountsUnderRoot());
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.DoesNotContain("veth", _sandbox.HostLinks());
        Assert.All(pids, pid => Assert.Equal(["lo"], CniSandbox.Interfaces(pid)));
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    [RootFact]
    public async Task IsolateAndCleanupRacing_OnTheSameContainers_LeaveNothing()
    {
        _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        const int n = 8;
        var ids = Enumerable.Range(0, n).Select(_ => CniSandbox.NewId()).ToList();
        var pids = ids.Select(_ => _sandbox.StartContainer()).ToList();
        foreach (var id in ids)
        {
            await isolator.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "net1" }));
        }

        var isolates = ids.Select((id, i) => Task.Run(() => isolator.IsolateAsync(id, pids[i]))).ToList();
        var cleanups = ids.Select(id => Task.Run(() => isolator.CleanupAsync(id))).ToList();
        await Task.WhenAll(cleanups);
        foreach (var isolate in isolates)
        {
            try
            {
                await isolate;
            }
            catch (IsolatorException e)
            {
                // Lost the race: cleanup ran first.
                Assert.Contains("cleaned up", e.Message);
            }
        }

        // An isolate that won the race was then cleaned up; one that lost must not have attached anything.
        await Task.WhenAll(ids.Select(id => isolator.CleanupAsync(id)));
        Assert.Empty(_sandbox.Leases());
        Assert.Empty(_sandbox.NsfsMountsUnderRoot());
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.All(pids, pid => Assert.Equal(["lo"], CniSandbox.Interfaces(pid)));
    }

    [RootFact]
    public async Task ConcurrentPrepares_OfOneId_ExactlyOneWins()
    {
        _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();

        var attempts = Enumerable.Range(0, 16)
            .Select(_ => Task.Run(() => isolator.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "net1" }))))
            .ToList();
        var wins = 0;
        foreach (var attempt in attempts)
        {
            try
            {
                Assert.NotNull(await attempt);
                wins++;
            }
            catch (IsolatorException e)
            {
                Assert.Contains("already been prepared", e.Message);
            }
        }

        Assert.Equal(1, wins);
        Assert.Empty(_sandbox.ContainerDirectories());
        await isolator.CleanupAsync(id);
    }

    [RootFact]
    public async Task StatusAndUsage_DuringConcurrentCleanup_OnlySucceedOrFailCleanly()
    {
        _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        const int n = 8;
        var ids = Enumerable.Range(0, n).Select(_ => CniSandbox.NewId()).ToList();
        var pids = ids.Select(_ => _sandbox.StartContainer()).ToList();
        for (var i = 0; i < n; i++)
        {
            await isolator.PrepareAsync(ids[i], CniSandbox.Config(new NetworkInfo { Name = "net1" }));
            await isolator.IsolateAsync(ids[i], pids[i]);
        }

        using var stop = new CancellationTokenSource();
        var unexpected = new List<Exception>();
        var readers = ids.Select(id => Task.Run(async () =>
        {
            for (var round = 0; round < 2000 && !stop.IsCancellationRequested; round++)
            {
                try
                {
                    await isolator.StatusAsync(id);
                    await isolator.UsageAsync(id);
                }
                catch (IsolatorException)
                {
                    // Acceptable: the pin went away under the call.
                }
                catch (Exception e)
                {
                    lock (unexpected)
                    {
                        unexpected.Add(e);
                    }
                }
            }
        })).ToList();

        await Task.Delay(50);
        await Task.WhenAll(ids.Select(id => Task.Run(() => isolator.CleanupAsync(id))));
        await stop.CancelAsync();
        await Task.WhenAll(readers);

        Assert.Empty(unexpected);
        Assert.Empty(_sandbox.Leases());
        Assert.Empty(_sandbox.NsfsMountsUnderRoot());
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.All(ids, id => Assert.False(PersistentNetworkNamespace.IsPinned(CniLayout.NamespacePin(isolator.Root!, id.Value))));
    }
}
