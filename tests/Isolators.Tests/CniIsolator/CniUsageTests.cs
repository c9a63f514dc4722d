using System.Net;
using System.Net.Sockets;
using Mesos;
using Mesos.Slave;
using NetIsolator.Bridge;
using NetIsolator.Isolators.Cni;
using NetIsolator.Linux;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>
/// usage(): interface counters read over netlink in the container's pinned namespace, against real bridge +
/// host-local plugins in a fake host namespace (see <see cref="CniSandbox"/>, which checks nothing leaks).
/// </summary>
[Collection("CniIsolatorRoot")]
public sealed class CniUsageTests : IDisposable
{
    private readonly CniSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [RootFact]
    public async Task Usage_AfterIsolate_ReportsEth0Counters_ThatGrowWithTraffic()
    {
        var prefix = _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(isolator, id, new NetworkInfo { Name = "net1" });

        var before = await isolator.UsageAsync(id);
        Assert.True(before.Timestamp > 0);
        Assert.True(before.HasNetRxPackets && before.HasNetRxBytes && before.HasNetRxErrors && before.HasNetRxDropped);
        Assert.True(before.HasNetTxPackets && before.HasNetTxBytes && before.HasNetTxErrors && before.HasNetTxDropped);

        const int Datagrams = 5;
        SendUdp(pid, IPAddress.Parse(prefix + "1"), Datagrams);

        // The first datagrams wait for ARP: poll until they have left.
        var after = await isolator.UsageAsync(id);
        for (var i = 0; i < 50 && after.NetTxPackets < before.NetTxPackets + Datagrams; i++)
        {
            await Task.Delay(100);
            after = await isolator.UsageAsync(id);
        }

        Assert.True(after.NetTxPackets >= before.NetTxPackets + Datagrams, $"net_tx_packets {before.NetTxPackets} -> {after.NetTxPackets}");
        Assert.True(after.NetTxBytes >= before.NetTxBytes + Datagrams * 100UL, $"net_tx_bytes {before.NetTxBytes} -> {after.NetTxBytes}");
        Assert.True(after.NetRxPackets >= 1, "the ARP reply was received"); // rx counts the gateway's answers
        Assert.True(after.Timestamp >= before.Timestamp);

        // A second instance that recovered the container reports the same namespace.
        var second = _sandbox.CreateIsolator();
        await second.RecoverAsync([new ContainerState { ContainerId = id, Pid = (ulong)pid, Directory = "/tmp" }], []);
        Assert.True((await second.UsageAsync(id)).NetTxPackets >= after.NetTxPackets);

        await isolator.CleanupAsync(id);
        Assert.False((await isolator.UsageAsync(id)).HasNetTxPackets);
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    [RootFact]
    public async Task Usage_SumsEveryNetworkInterface_ButNotLo()
    {
        _sandbox.AddNetwork("first");
        var second = _sandbox.AddNetwork("second");
        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(isolator, id, new NetworkInfo { Name = "first" }, new NetworkInfo { Name = "second" });
        CniSandbox.Run("nsenter", $"--net=/proc/{pid}/ns/net", "ip", "link", "set", "lo", "up");

        var before = await isolator.UsageAsync(id);
        // Traffic on lo is not counted; traffic out of eth1 (the second network) is.
        SendUdp(pid, IPAddress.Loopback, 20);
        SendUdp(pid, IPAddress.Parse(second + "1"), 3);
        var after = await isolator.UsageAsync(id);
        for (var i = 0; i < 50 && after.NetTxPackets < before.NetTxPackets + 3; i++)
        {
            await Task.Delay(100);
            after = await isolator.UsageAsync(id);
        }

        Assert.InRange(after.NetTxPackets - before.NetTxPackets, 3UL, 19UL);
        await isolator.CleanupAsync(id);
    }

    [RootFact]
    public async Task Usage_WithMetricsOff_UnknownHostNetworkOrNotYetIsolated_IsTheTimestampOnly()
    {
        _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        var quiet = new NetIsolator.Isolators.Cni.CniIsolator(isolator.Options with { Metrics = false });
        var id = CniSandbox.NewId();
        await isolator.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "net1" }));
        AssertTimestampOnly(await isolator.UsageAsync(id)); // prepared, not isolated: no namespace yet
        var pid = _sandbox.StartContainer();
        await isolator.IsolateAsync(id, pid);
        await quiet.RecoverAsync([new ContainerState { ContainerId = id, Pid = (ulong)pid, Directory = "/tmp" }], []);

        Assert.True((await isolator.UsageAsync(id)).HasNetTxPackets);
        AssertTimestampOnly(await quiet.UsageAsync(id));
        AssertTimestampOnly(await isolator.UsageAsync(CniSandbox.NewId()));
        var host = CniSandbox.NewId();
        Assert.Null(await isolator.PrepareAsync(host, CniSandbox.Config()));
        AssertTimestampOnly(await isolator.UsageAsync(host));
        // A nested container in its parent's namespace has no pin of its own (Mesos's usage fails there).
        var nested = CniSandbox.NewId(id);
        await isolator.PrepareAsync(nested, CniSandbox.Config());
        AssertTimestampOnly(await isolator.UsageAsync(nested));

        await isolator.CleanupAsync(nested);
        await isolator.CleanupAsync(id);
    }

    [RootFact]
    public async Task Usage_WhenThePinVanished_FailsNamingTheContainerAndStep_AndCleanupStillWorks()
    {
        _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(isolator, id, new NetworkInfo { Name = "net1" });
        var pin = CniLayout.NamespacePin(isolator.Root!, id.Value);

        Assert.True(PersistentNetworkNamespace.Remove(pin));
        var e = await Assert.ThrowsAsync<IsolatorException>(() => isolator.UsageAsync(id));

        Assert.Contains($"collecting the network usage of container '{id.Value}'", e.Message);
        Assert.Contains(pin, e.Message);
        await isolator.CleanupAsync(id);
    }

    private static void AssertTimestampOnly(ResourceStatistics statistics)
    {
        Assert.True(statistics.Timestamp > 0);
        Assert.Equal(new ResourceStatistics { Timestamp = statistics.Timestamp }, statistics);
    }

    /// <summary>Sends datagrams of 100 bytes from inside the container's namespace.</summary>
    private static void SendUdp(int pid, IPAddress destination, int count)
    {
        using var ns = NetworkNamespace.Open($"/proc/{pid}/ns/net");
        ns.Run(() =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            for (var i = 0; i < count; i++)
            {
                socket.SendTo(new byte[100], new IPEndPoint(destination, 9));
            }
        });
    }
}
