using System.Diagnostics;
using System.Globalization;
using System.Net;
using Mesos;
using NetIsolator.Testing;
using Xunit;
using Xunit.Abstractions;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>
/// 500 containers on one host namespace: past Mesos's 32-action mirror limit and its O(n²) control plane. Each
/// container is a bare <c>unshare --net</c> process with one port of its own (31000 + i) and a 32-port ephemeral
/// block, so host eth0 holds 500 × (2 IP filters + ARP and ICMP mirrors) and host lo 1000 IP filters.
/// </summary>
[Collection(PortMappingScaleCollection.Name)]
public sealed class PortMappingScaleTests(ITestOutputHelper output)
{
    private const int Containers = 500;

    [RootFact]
    public Task FiveHundredContainers_IsolateReachCleanup_WithoutGrowth() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        var clock = Stopwatch.StartNew();
        var pids = sandbox.StartContainers(Containers);
        var started = clock.Elapsed;
        await using var isolator = sandbox.CreateIsolator(sandbox.Options("cpus:4;ephemeral_ports:[32768-48767];ports:[31000-31999]", 32));
        var ids = Enumerable.Range(0, Containers).Select(i => new ContainerID { Value = $"c{i}" }).ToList();
        var isolate = new double[Containers];
        for (var i = 0; i < Containers; i++)
        {
            Assert.NotNull(await isolator.PrepareAsync(ids[i], PortMappingSandbox.Config(string.Create(CultureInfo.InvariantCulture, $"[{31000 + i}-{31000 + i}]"))));
            var one = Stopwatch.StartNew();
            await isolator.IsolateAsync(ids[i], pids[i]);
            isolate[i] = one.Elapsed.TotalMilliseconds;
        }

        var isolated = clock.Elapsed;
        Assert.Equal(Containers, sandbox.VethLinks().Count);
        Assert.Equal(Containers * 4, sandbox.HostFilters("eth0").Count);
        Assert.Equal(Containers * 2, sandbox.HostFilters("lo").Count);

        // The first, a middle and the last container get their port from the peer; the last resolves the gateway
        // (ARP through its own mirror filter, behind 499 others) and connects out from its block.
        foreach (var i in new[] { 0, Containers / 2, Containers - 1 })
        {
            using var listener = PortMappingSandbox.Listen($"/proc/{pids[i]}/ns/net", 31000 + i);
            Assert.Equal("hello\n", PortMappingSandbox.Exchange(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 31000 + i), listener)?.Received);
        }

        var block = (await isolator.UsageAsync(ids[^1])).NetEphemeralPorts;
        using (var peer = PortMappingSandbox.Listen(sandbox.PeerNetnsPath, 9020))
        {
            var result = PortMappingSandbox.Exchange($"/proc/{pids[^1]}/ns/net", new IPEndPoint(sandbox.PeerIp, 9020), peer);
            Assert.NotNull(result);
            Assert.InRange((ulong)result.Value.ClientPort, block.Begin, block.End);
        }

        Assert.True(IcmpEcho.Ping($"/proc/{pids[^1]}/ns/net", sandbox.PeerIp), "the last container's ping to the peer");

        var usage = new double[100];
        for (var i = 0; i < usage.Length; i++)
        {
            var one = Stopwatch.StartNew();
            await isolator.UsageAsync(ids[i * (Containers / usage.Length)]);
            usage[i] = one.Elapsed.TotalMilliseconds;
        }

        var cleanupStart = clock.Elapsed;
        foreach (var id in ids)
        {
            await isolator.CleanupAsync(id);
        }

        var cleaned = clock.Elapsed - cleanupStart;
        Assert.Empty(sandbox.VethLinks());
        Assert.Empty(sandbox.HostFilters("eth0"));
        Assert.Empty(sandbox.HostFilters("lo"));

        // Flat: the last 50 isolates cost about what the first 50 (after warm-up) did. Generous against a noisy CI
        // host; the benchmark (bench/run.sh portmapping) holds the strict targets.
        var early = Median(isolate.Skip(5).Take(50));
        var late = Median(isolate.Skip(Containers - 50));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Containers} containers: started in {started.TotalSeconds:0.0} s, isolated in {(isolated - started).TotalSeconds:0.0} s (median first 50 {early:0.00} ms, last 50 {late:0.00} ms), usage median {Median(usage):0.000} ms, cleaned in {cleaned.TotalSeconds:0.0} s"));
        Assert.True(late < Math.Max(3 * early, early + 5), $"isolate grew from {early:0.00} ms to {late:0.00} ms over {Containers} containers");
    });

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}

/// <summary>
/// The scale test measures growth, so it runs alone: xunit runs collections marked so after all the others, one
/// at a time (other tests' traffic and namespaces on a 2-core runner would otherwise read as growth).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PortMappingScaleCollection
{
    public const string Name = "port-mapping scale (alone)";
}
