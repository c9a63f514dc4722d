using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Mesos;
using NetIsolator.Isolators.PortMappingIsolation;
using NetIsolator.Linux;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>
/// An agent restart: the isolator instance goes away, the kernel state stays, a fresh instance recovers it from the
/// pins, symlinks and veth filters alone (Mesos's recover, reference §3.9). Also the lifecycle edges Mesos tests:
/// cleanup of a never-isolated container, an exhausted ephemeral pool, the symlink's lifetime.
/// </summary>
public sealed class PortMappingRecoverTests
{
    [RootFact]
    public Task Restart_UnderTraffic_RecoversKnownAndKnownOrphan_CleansUnknown_RebuildsTheAllocator() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        var options = sandbox.Options("cpus:4;ephemeral_ports:[32768-33791];ports:[31000-32000]", 256);
        var known = new ContainerID { Value = "known" };
        var knownOrphan = new ContainerID { Value = "known-orphan" };
        var unknownOrphan = new ContainerID { Value = "unknown-orphan" };
        var nameless = new ContainerID { Value = "nameless" };
        int knownPid, knownOrphanPid, unknownPid, namelessPid;
        Value.Types.Range knownBlock, unknownBlock;
        await using (var before = sandbox.CreateIsolator(options))
        {
            knownPid = await sandbox.LaunchAsync(before, known, "[31000-31099]");
            knownOrphanPid = await sandbox.LaunchAsync(before, knownOrphan, "[31100-31199]");
            unknownPid = await sandbox.LaunchAsync(before, unknownOrphan, "[31200-31299]");
            namelessPid = await sandbox.LaunchAsync(before, nameless, "[31400-31499]");
            knownBlock = (await before.UsageAsync(known)).NetEphemeralPorts;
            unknownBlock = (await before.UsageAsync(unknownOrphan)).NetEphemeralPorts;
        }

        // An orphan whose symlink is gone (Mesos's ROOT_CGROUPS_RecoverMixedKnownAndUnKnownOrphans) is known by its pid only.
        File.Delete(Path.Join(sandbox.Directory, "symlinks", nameless.Value));

        // A stream from the peer into the known container keeps flowing while no isolator exists and while the
        // new one recovers: nothing the restart does may touch a live container's filters.
        using var listener = PortMappingSandbox.Listen($"/proc/{knownPid}/ns/net", 31001);
        using var stream = await TcpStream.StartAsync(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 31001), listener);
        await stream.WaitForBytesAsync(64 * 1024);

        await using var after = sandbox.CreateIsolator(options);
        await after.RecoverAsync([PortMappingSandbox.State(known, knownPid)], [knownOrphan]);
        var atRecovery = stream.Received;
        await stream.WaitForBytesAsync(atRecovery + (64 * 1024));
        stream.AssertHealthy();

        // The unknown orphans are gone: veths, pins, symlinks and every host filter that led to them.
        Assert.Equal(0, after.Metrics["recovering_unknown_orphans_errors"]);
        foreach (var device in new[] { "eth0", "lo" })
        {
            var filters = PortMappingSandbox.Run("tc", "-n", sandbox.HostNetns, "filter", "show", "dev", device, "ingress");
            Assert.DoesNotContain($"mesos{unknownPid})", filters, StringComparison.Ordinal);
            Assert.DoesNotContain($"mesos{namelessPid})", filters, StringComparison.Ordinal);
        }


        Assert.Equal(
            new[] { $"mesos{knownPid}", $"mesos{knownOrphanPid}" }.Order(),
            sandbox.VethLinks().Order());
        Assert.DoesNotContain(sandbox.Pins(), p => p.EndsWith($"/{unknownPid}", StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Join(sandbox.Directory, "symlinks", unknownOrphan.Value)));
        Assert.True(File.Exists(Path.Join(sandbox.Directory, "symlinks", known.Value)));

        // What recovery rebuilt: the known container's block and ranges; the allocator hands out the freed block next.
        var usage = await after.UsageAsync(known);
        Assert.Equal(knownBlock, usage.NetEphemeralPorts);
        var fresh = new ContainerID { Value = "fresh" };
        var freshPid = await sandbox.LaunchAsync(after, fresh, "[31300-31399]");
        Assert.Equal(unknownBlock, (await after.UsageAsync(fresh)).NetEphemeralPorts);
        using (var freshListener = PortMappingSandbox.Listen($"/proc/{freshPid}/ns/net", 31300))
        {
            Assert.Equal("hello\n", PortMappingSandbox.Exchange(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 31300), freshListener)?.Received);
        }

        // Update works on recovered ranges: dropping 31050-31099 removes exactly what was recovered for them.
        await after.UpdateAsync(known, [PortMappingSandbox.PortsResource("[31000-31049]")], new Dictionary<string, Value.Types.Scalar>());
        using (var dropped = PortMappingSandbox.Listen($"/proc/{knownPid}/ns/net", 31060))
        {
            Assert.Null(PortMappingSandbox.Exchange(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 31060), dropped, 500));
        }

        await stream.WaitForBytesAsync(stream.Received + (16 * 1024));
        stream.AssertHealthy();
        stream.Stop();

        // Every container, recovered or new, cleans up to nothing.
        await after.CleanupAsync(known);
        await after.CleanupAsync(knownOrphan);
        await after.CleanupAsync(fresh);
        Assert.Empty(sandbox.HostFilters("eth0"));
        Assert.Empty(sandbox.HostFilters("lo"));
    });

    [RootFact]
    public Task Recover_CheckpointedContainerWithoutVeth_IsUnmanaged_AndStalePinsGo() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        // Launched without the isolator: a checkpointed pid without a mesos<pid> veth.
        var pid = sandbox.StartContainer();
        var id = new ContainerID { Value = "unmanaged" };
        // A pin left by a crash between pin and veth.
        var stale = sandbox.StartContainer();
        var stalePin = Path.Join(sandbox.Directory, "netns", stale.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using var isolator = sandbox.CreateIsolator();
        PersistentNetworkNamespace.Pin($"/proc/{stale}/ns/net", stalePin);

        await isolator.RecoverAsync([PortMappingSandbox.State(id, pid)], []);
        Assert.False(PersistentNetworkNamespace.IsPinned(stalePin));
        var error = await Assert.ThrowsAnyAsync<Exception>(() => isolator.PrepareAsync(id, PortMappingSandbox.Config()));
        Assert.Contains("unmanaged", error.Message, StringComparison.Ordinal);
        // Usage and cleanup of an unmanaged container are no-ops that succeed (and cleanup forgets it).
        Assert.Null((await isolator.UsageAsync(id)).NetEphemeralPorts);
        await isolator.CleanupAsync(id);
        Assert.NotNull(await isolator.PrepareAsync(id, PortMappingSandbox.Config()));
        await isolator.CleanupAsync(id);
    });

    [RootFact]
    public Task CleanupNotIsolated_ReleasesThePorts_TooManyContainers_FailsPrepare_SymlinkLivesWithTheContainer() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        // Mesos's ROOT_TooManyContainers: 512 ports each from [30001-30999] fits once ([30208,30719]).
        await using var isolator = sandbox.CreateIsolator(sandbox.Options("cpus:2;ephemeral_ports:[30001-30999];ports:[31000-32000]", 512));
        var first = new ContainerID { Value = "first" };
        var second = new ContainerID { Value = "second" };
        Assert.NotNull(await isolator.PrepareAsync(first, PortMappingSandbox.Config()));
        var error = await Assert.ThrowsAnyAsync<Exception>(() => isolator.PrepareAsync(second, PortMappingSandbox.Config()));
        Assert.Contains("Failed to allocate ephemeral ports", error.Message, StringComparison.Ordinal);

        // ROOT_CleanupNotIsolated: cleanup before isolate gives the block back.
        await isolator.CleanupAsync(first);
        Assert.NotNull(await isolator.PrepareAsync(second, PortMappingSandbox.Config()));

        // ROOT_NetworkNamespaceHandleSymlink: the symlink names the pin while the container runs, and goes with it.
        var pid = sandbox.StartContainer();
        await isolator.IsolateAsync(second, pid);
        var symlink = new FileInfo(Path.Join(sandbox.Directory, "symlinks", second.Value));
        Assert.Equal(Path.Join(isolator.BindMountRoot, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)), symlink.LinkTarget);
        await isolator.CleanupAsync(second);
        Assert.False(File.Exists(symlink.FullName));
    });

    [RootFact]
    public Task UnknownOrphanThatCannotBeCleaned_IsReported_AndRecoveryGoesOn_ThenTheNextRecoveryCleansIt() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        var known = new ContainerID { Value = "known" };
        var broken = new ContainerID { Value = "broken" };
        int knownPid, brokenPid;
        await using (var before = sandbox.CreateIsolator())
        {
            knownPid = await sandbox.LaunchAsync(before, known, "[31000-31000]");
            brokenPid = await sandbox.LaunchAsync(before, broken, "[31001-31001]");
        }

        // A filter on the orphan's veth that is not the isolator's (a destination port at the source-port prio):
        // Mesos fails the whole recovery on it ("Unexpected IP filter detected").
        var veth = $"mesos{brokenPid}";
        PortMappingSandbox.Run("tc", "-n", sandbox.HostNetns, "filter", "add", "dev", veth, "parent", "ffff:", "protocol", "ip", "prio", "771", "u32", "match", "ip", "dport", "80", "0xffff", "classid", "ffff:1");
        await using (var restarted = sandbox.CreateIsolator())
        {
            await restarted.RecoverAsync([PortMappingSandbox.State(known, knownPid)], []);
            Assert.Equal(1, restarted.Metrics["recovering_unknown_orphans_errors"]);
            Assert.Contains(sandbox.Log, l => l.Level == IsolatorLogLevel.Error && l.Message.Contains("'broken'", StringComparison.Ordinal) && l.Message.Contains("Unexpected IP filter", StringComparison.Ordinal));
            Assert.Contains(veth, sandbox.VethLinks());
            using var listener = PortMappingSandbox.Listen($"/proc/{knownPid}/ns/net", 31000);
            Assert.Equal("hello\n", PortMappingSandbox.Exchange(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 31000), listener)?.Received);
        }

        // Once the stray filter is gone, the next recovery cleans the orphan up.
        PortMappingSandbox.Run("tc", "-n", sandbox.HostNetns, "filter", "del", "dev", veth, "parent", "ffff:", "protocol", "ip", "prio", "771", "handle", StrayFilterHandle(sandbox, veth), "u32");
        await using var again = sandbox.CreateIsolator();
        await again.RecoverAsync([PortMappingSandbox.State(known, knownPid)], []);
        Assert.Equal(0, again.Metrics["recovering_unknown_orphans_errors"]);
        Assert.Equal([$"mesos{knownPid}"], sandbox.VethLinks());
        await again.CleanupAsync(known);
        Assert.Empty(sandbox.HostFilters("eth0"));
        Assert.Empty(sandbox.HostFilters("lo"));
    });

    [RootFact]
    public Task EgressFlowPerContainer_FlowIdsSurviveRecovery_OrTheKernelWithoutFqCodelIsRefused() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        var options = sandbox.Options() with { EgressUniqueFlowPerContainer = true };
        if (!Linux.Netlink.Tc.KernelFeatures.Probe().FqCodel)
        {
            // This project's target kernels: Mesos's behaviour, a refusal naming what is missing (reference §7.1).
            var error = Assert.Throws<NetIsolator.Bridge.IsolatorException>(() => sandbox.CreateIsolator(options));
            Assert.Contains("sch_fq_codel", error.Message, StringComparison.Ordinal);
            return;
        }

        var first = new ContainerID { Value = "flow-a" };
        var second = new ContainerID { Value = "flow-b" };
        int firstPid, secondPid;
        await using (var before = sandbox.CreateIsolator(options))
        {
            firstPid = await sandbox.LaunchAsync(before, first, "[31000-31000]");
            secondPid = await sandbox.LaunchAsync(before, second, "[31001-31001]");
        }

        Assert.Contains("flowid 1:3", EgressFilters(sandbox), StringComparison.Ordinal);
        Assert.Contains("flowid 1:4", EgressFilters(sandbox), StringComparison.Ordinal);
        await using var after = sandbox.CreateIsolator(options);
        await after.RecoverAsync([PortMappingSandbox.State(first, firstPid), PortMappingSandbox.State(second, secondPid)], []);
        var third = new ContainerID { Value = "flow-c" };
        await sandbox.LaunchAsync(after, third, "[31002-31002]");
        Assert.Contains("flowid 1:5", EgressFilters(sandbox), StringComparison.Ordinal);
        foreach (var id in new[] { first, second, third })
        {
            await after.CleanupAsync(id);
        }

        Assert.DoesNotContain("pref 771", EgressFilters(sandbox), StringComparison.Ordinal);
    });

    private static string EgressFilters(PortMappingSandbox sandbox) =>
        PortMappingSandbox.Run("tc", "-n", sandbox.HostNetns, "filter", "show", "dev", "eth0", "parent", "1:");

    /// <summary>The handle (<c>8xx::yyy</c>) of the filter on <paramref name="veth"/> matching destination port 80 (key 00000050/0000ffff at 20).</summary>
    private static string StrayFilterHandle(PortMappingSandbox sandbox, string veth)
    {
        string? handle = null;
        foreach (var line in PortMappingSandbox.Run("tc", "-n", sandbox.HostNetns, "filter", "show", "dev", veth, "ingress").Split('\n'))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words is ["filter", ..] && Array.IndexOf(words, "fh") is var fh and > 0)
            {
                handle = words[fh + 1];
            }
            else if (handle is not null && line.Contains("00000050/0000ffff at 20", StringComparison.Ordinal))
            {
                return handle;
            }
        }

        throw new InvalidOperationException($"no dport-80 filter on {veth}");
    }

    /// <summary>A TCP connection sending continuously from a namespace to a listener, counting what arrives.</summary>
    private sealed class TcpStream : IDisposable
    {
        private readonly Socket _client;
        private readonly Socket _accepted;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _sender;
        private readonly Task _receiver;
        private long _received;

        private TcpStream(Socket client, Socket accepted)
        {
            _client = client;
            _accepted = accepted;
            _sender = Task.Run(async () =>
            {
                var chunk = new byte[1024];
                while (!_stop.IsCancellationRequested)
                {
                    await _client.SendAsync(chunk, SocketFlags.None, _stop.Token);
                    await Task.Delay(2, _stop.Token);
                }
            });
            _receiver = Task.Run(async () =>
            {
                var buffer = new byte[65536];
                while (!_stop.IsCancellationRequested)
                {
                    var read = await _accepted.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    if (read == 0)
                    {
                        throw new IOException("the stream was closed by the sender's side");
                    }

                    Interlocked.Add(ref _received, read);
                }
            });
        }

        public long Received => Interlocked.Read(ref _received);

        public static async Task<TcpStream> StartAsync(string fromNetnsPath, IPEndPoint target, Socket listener)
        {
            using var ns = NetworkNamespace.Open(fromNetnsPath);
            var client = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await client.ConnectAsync(target, timeout.Token);
            var accepted = await listener.AcceptAsync(timeout.Token);
            return new TcpStream(client, accepted);
        }

        /// <summary>Waits (≤ 10 s) until at least <paramref name="bytes"/> have arrived in total.</summary>
        public async Task WaitForBytesAsync(long bytes)
        {
            var clock = Stopwatch.StartNew();
            while (Received < bytes)
            {
                AssertHealthy();
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the stream stalled at {Received} bytes (waiting for {bytes})");
                await Task.Delay(10);
            }
        }

        public void AssertHealthy()
        {
            foreach (var task in new[] { _sender, _receiver })
            {
                if (task.IsFaulted)
                {
                    throw new IOException($"the stream broke: {task.Exception!.InnerException!.Message}", task.Exception);
                }
            }
        }

        public void Stop() => _stop.Cancel();

        public void Dispose()
        {
            _stop.Cancel();
            try
            {
                Task.WaitAll([_sender, _receiver], TimeSpan.FromSeconds(2));
            }
            catch (AggregateException)
            {
                // Cancelled on purpose.
            }

            _client.Dispose();
            _accepted.Dispose();
            _stop.Dispose();
        }
    }
}
