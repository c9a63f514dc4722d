using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Mesos;
using NetIsolator.Isolators.PortMappingIsolation;
using NetIsolator.Isolators.PortMappingIsolation.Plan;
using NetIsolator.Linux;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Tc;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>
/// Rate limiting on a real kernel (Mesos's tests 10–17): HTB class 1:1 on the container's eth0 (egress) and on the
/// host end of its veth (ingress), what traffic takes through it, the counters usage reports, and how update and
/// recovery change it.
/// </summary>
public sealed class PortMappingRateLimitTests
{
    private static readonly Dictionary<string, Value.Types.Scalar> NoLimits = [];

    [RootFact]
    public Task FixedLimits_SlowBothDirections_AndUsageReportsTheShaping() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        // 125000 B/s (1 Mbit/s, Mesos's floor) both ways; 200000 bytes need ≥ 1.6 s at that rate, less HTB's burst.
        const int Bytes = 200_000;
        var limit = new RateLimitFlags(Fixed: new ByteSize(125_000));
        await using var isolator = sandbox.CreateIsolator(sandbox.Options() with { Egress = limit, Ingress = limit });
        var id = new ContainerID { Value = "shaped" };
        var pid = await sandbox.LaunchAsync(isolator, id, "[31000-31000]");
        var container = $"/proc/{pid}/ns/net";
        Assert.Equal(125_000UL, ClassRate(sandbox.HostNetnsPath, $"mesos{pid}"));
        Assert.Equal(125_000UL, ClassRate(container, "eth0"));

        using var inbound = PortMappingSandbox.Listen(container, 31000);
        using var outbound = PortMappingSandbox.Listen(sandbox.PeerNetnsPath, 9010);
        var ingress = Task.Run(() => Transfer(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 31000), inbound, Bytes));
        var egress = Task.Run(() => Transfer(container, new IPEndPoint(sandbox.PeerIp, 9010), outbound, Bytes));
        var (ingressTime, egressTime) = (await ingress, await egress);
        Assert.True(ingressTime > TimeSpan.FromSeconds(1), $"{Bytes} bytes in took {ingressTime.TotalMilliseconds:0} ms at 125000 B/s");
        Assert.True(egressTime > TimeSpan.FromSeconds(1), $"{Bytes} bytes out took {egressTime.TotalMilliseconds:0} ms at 125000 B/s");

        var usage = await isolator.UsageAsync(id);
        Assert.Equal(125_000UL, usage.NetRxRateLimit);
        Assert.Equal(125_000UL, usage.NetTxRateLimit);
        var tc = usage.NetTrafficControlStatistics.ToDictionary(s => s.Id);
        Assert.Equal(["bloat_reduction", "bw_limit", "ingress_bloat_reduction", "ingress_bw_limit"], tc.Keys.Order(StringComparer.Ordinal));
        Assert.True(tc["ingress_bw_limit"].Bytes >= Bytes, $"ingress_bw_limit bytes {tc["ingress_bw_limit"].Bytes}");
        Assert.True(tc["bw_limit"].Bytes >= Bytes, $"bw_limit bytes {tc["bw_limit"].Bytes}");
        Assert.True(tc["ingress_bw_limit"].Overlimits > 0 && tc["bw_limit"].Overlimits > 0, "the limiters never held a packet back");

        await isolator.CleanupAsync(id);
    });

    [RootFact]
    public Task PerCpuAuto_ScalesWithUpdate_BetweenMinimumAndMaximum() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        // Mesos's ROOT_ScaleEgressWithCPUAutoConfig / ROOT_ScaleIngressWithCPU: link 10000 B/s over 10 CPUs = 1000
        // B/s per CPU, kept within [2000, 4000].
        var flags = new RateLimitFlags(PerCpu: RateLimitFlags.Auto, Minimum: new ByteSize(2000), Maximum: new ByteSize(4000));
        var options = sandbox.Options("cpus:10;ephemeral_ports:[32768-33791];ports:[31000-32000]") with
        {
            Egress = flags,
            Ingress = flags,
            NetworkLinkSpeed = new ByteSize(10_000),
        };
        await using var isolator = sandbox.CreateIsolator(options);
        Assert.Equal(1000UL, isolator.Metrics.PerCpuEgressRateLimit);
        Assert.Equal(1000UL, isolator.Metrics.PerCpuIngressRateLimit);
        var id = new ContainerID { Value = "scaled" };
        var pid = await sandbox.LaunchAsync(isolator, id);
        foreach (var (cpus, expected) in new[] { (1.0, 2000UL), (3.1, 3000UL), (5.0, 4000UL), (2.0, 2000UL) })
        {
            await isolator.UpdateAsync(id, [Cpus(cpus)], NoLimits);
            Assert.Equal(expected, ClassRate(sandbox.HostNetnsPath, $"mesos{pid}"));
            Assert.Equal(expected, ClassRate($"/proc/{pid}/ns/net", "eth0"));
            var usage = await isolator.UsageAsync(id);
            Assert.Equal((expected, expected), (usage.NetTxRateLimit, usage.NetRxRateLimit));
            // Mesos's tests read the egress rate through the htb_config helper subcommand: so does this one.
            using var config = System.Text.Json.JsonDocument.Parse(PortMappingSandbox.Run(BuildTree.Helper, "htb_config", $"--pid={pid}", "--eth0_name=eth0"));
            Assert.Equal(expected, config.RootElement.GetProperty("rate").GetUInt64());
        }

        await isolator.CleanupAsync(id);
    });

    [RootFact]
    public Task Upgrade_LimitsReachExistingContainers_IngressOnlyWhenAllowed() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        // Mesos's ROOT_Upgrade: a container started without limits; the restarted agent has limits.
        var id = new ContainerID { Value = "old" };
        int pid;
        await using (var plain = sandbox.CreateIsolator())
        {
            pid = await sandbox.LaunchAsync(plain, id);
        }

        var limit = new RateLimitFlags(Fixed: new ByteSize(2000), Minimum: new ByteSize(1000));
        var limited = sandbox.Options() with { Egress = limit, Ingress = limit, IngressIsolateExistingContainers = false };
        await using (var restarted = sandbox.CreateIsolator(limited))
        {
            await restarted.RecoverAsync([PortMappingSandbox.State(id, pid)], []);
            await restarted.UpdateAsync(id, [Cpus(1)], NoLimits);
            Assert.Equal(2000UL, ClassRate($"/proc/{pid}/ns/net", "eth0"));
            Assert.Null(ClassRate(sandbox.HostNetnsPath, $"mesos{pid}"));
        }

        await using (var restarted = sandbox.CreateIsolator(limited with { IngressIsolateExistingContainers = true }))
        {
            await restarted.RecoverAsync([PortMappingSandbox.State(id, pid)], []);
            await restarted.UpdateAsync(id, [Cpus(1)], NoLimits);
            Assert.Equal(2000UL, ClassRate(sandbox.HostNetnsPath, $"mesos{pid}"));
        }

        // Limits removed: the recovered shaping goes on update, both sides.
        await using var unlimited = sandbox.CreateIsolator();
        await unlimited.RecoverAsync([PortMappingSandbox.State(id, pid)], []);
        await unlimited.UpdateAsync(id, [Cpus(1)], NoLimits);
        Assert.Null(ClassRate(sandbox.HostNetnsPath, $"mesos{pid}"));
        Assert.Null(ClassRate($"/proc/{pid}/ns/net", "eth0"));
        await unlimited.CleanupAsync(id);
    });

    private static Resource Cpus(double cpus) =>
        new() { Name = "cpus", Type = Value.Types.Type.Scalar, Scalar = new Value.Types.Scalar { Value = cpus } };

    /// <summary>The rate (bytes/s) of HTB class 1:1 on <paramref name="device"/>, read from the kernel; null if there is none.</summary>
    private static ulong? ClassRate(string netnsPath, string device)
    {
        using var ns = NetworkNamespace.Open(netnsPath);
        using var socket = NetlinkSocket.OpenIn(ns);
        return socket.GetHtbClass(device, PortMappingPlans.HtbClass)?.Rate;
    }

    /// <summary>Sends <paramref name="bytes"/> over one TCP connection and returns how long until all had arrived.</summary>
    private static TimeSpan Transfer(string fromNetnsPath, IPEndPoint target, Socket listener, int bytes)
    {
        using var ns = NetworkNamespace.Open(fromNetnsPath);
        using var client = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        client.Connect(target);
        using var accepted = listener.Accept();
        accepted.ReceiveTimeout = 20_000;
        var clock = Stopwatch.StartNew();
        var sending = Task.Run(() => client.Send(new byte[bytes]));
        var buffer = new byte[65536];
        for (var received = 0; received < bytes;)
        {
            var read = accepted.Receive(buffer);
            Assert.True(read > 0, $"the connection to {target} closed after {received} bytes");
            received += read;
        }

        clock.Stop();
        sending.Wait();
        return clock.Elapsed;
    }
}
