using System.Net;
using Mesos;
using NetIsolator.Linux;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>The isolator on a real kernel, inside a <see cref="PortMappingSandbox"/>: traffic, update, cleanup.</summary>
public sealed class PortMappingTrafficTests
{
    [RootFact]
    public Task PeerReachesTheRightContainer_UnmanagedPortsReachTheHost_AndOutgoingUsesTheEphemeralBlock() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        await using var isolator = sandbox.CreateIsolator();
        var first = new ContainerID { Value = "c1" };
        var second = new ContainerID { Value = "c2" };
        var pid1 = await sandbox.LaunchAsync(isolator, first, "[31000-31499]");
        var pid2 = await sandbox.LaunchAsync(isolator, second, "[31500-32000]");

        // Peer → hostIP:31001 lands in container 1, hostIP:31501 in container 2.
        using (var listener1 = PortMappingSandbox.Listen($"/proc/{pid1}/ns/net", 31001))
        using (var listener2 = PortMappingSandbox.Listen($"/proc/{pid2}/ns/net", 31501))
        {
            Assert.Equal("hello\n", PortMappingSandbox.Exchange(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 31001), listener1)?.Received);
            Assert.Equal("hello\n", PortMappingSandbox.Exchange(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 31501), listener2)?.Received);
        }

        // A port no container owns reaches the host's own stack.
        using (var hostListener = PortMappingSandbox.Listen(sandbox.HostNetnsPath, 8080))
        {
            Assert.Equal("hello\n", PortMappingSandbox.Exchange(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 8080), hostListener)?.Received);
        }

        // Container → peer (needs ARP for the gateway through the mirror filters): the source port is in its block.
        var usage = await isolator.UsageAsync(first);
        var block = usage.NetEphemeralPorts;
        using (var peerListener = PortMappingSandbox.Listen(sandbox.PeerNetnsPath, 9000))
        {
            var result = PortMappingSandbox.Exchange($"/proc/{pid1}/ns/net", new IPEndPoint(sandbox.PeerIp, 9000), peerListener);
            Assert.NotNull(result);
            Assert.InRange((ulong)result.Value.ClientPort, block.Begin, block.End);
        }

        usage = await isolator.UsageAsync(first);
        Assert.True(usage.NetTxPackets > 0 && usage.NetRxPackets > 0, $"tx {usage.NetTxPackets} rx {usage.NetRxPackets}");

        // The container's eth0 verifies receive checksums itself (Mesos's `ethtool -K eth0 rx off`); the host end does not change.
        using (var inside = NetworkNamespace.Open($"/proc/{pid1}/ns/net"))
        {
            Assert.False(inside.Run(() => EthTool.GetReceiveChecksumming("eth0")));
        }

        using (var host = NetworkNamespace.Open(sandbox.HostNetnsPath))
        {
            Assert.True(host.Run(() => EthTool.GetReceiveChecksumming($"mesos{pid1}")));
            Assert.Equal(10000u, host.Run(() => EthTool.GetSpeed("eth0")));
        }

        await isolator.CleanupAsync(first);
        await isolator.CleanupAsync(second);
        Assert.Empty(sandbox.HostFilters("eth0"));
        Assert.Empty(sandbox.HostFilters("lo"));
    });

    [RootFact]
    public Task MoreThan32Containers_AllGetArpAndIcmpMirrors() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        // Mesos's one mirror filter per host caps at 32 actions; here each container has its own mirror filters.
        await using var isolator = sandbox.CreateIsolator(sandbox.Options("cpus:4;ephemeral_ports:[32768-34999];ports:[31000-32000]", 32));
        var ids = Enumerable.Range(0, 40).Select(i => new ContainerID { Value = $"c{i}" }).ToList();
        var pids = new List<int>();
        foreach (var id in ids)
        {
            pids.Add(await sandbox.LaunchAsync(isolator, id));
        }

        Assert.Equal(80 + (40 * 1), sandbox.HostFilters("eth0").Count);
        // The last container still resolves the gateway and connects out.
        using (var peerListener = PortMappingSandbox.Listen(sandbox.PeerNetnsPath, 9001))
        {
            Assert.NotNull(PortMappingSandbox.Exchange($"/proc/{pids[^1]}/ns/net", new IPEndPoint(sandbox.PeerIp, 9001), peerListener));
        }

        foreach (var id in ids)
        {
            await isolator.CleanupAsync(id);
        }

        Assert.Empty(sandbox.HostFilters("eth0"));
    });

    [RootFact]
    public Task Update_AddsAndRemovesPorts() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        await using var isolator = sandbox.CreateIsolator();
        var id = new ContainerID { Value = "u1" };
        var pid = await sandbox.LaunchAsync(isolator, id, "[31000-31000]");
        using var listener = PortMappingSandbox.Listen($"/proc/{pid}/ns/net", 31200);
        Assert.Null(PortMappingSandbox.Exchange(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 31200), listener, 500));

        await isolator.UpdateAsync(id, [PortMappingSandbox.PortsResource("[31000-31000, 31200-31299]")], new Dictionary<string, Value.Types.Scalar>());
        Assert.Equal("hello\n", PortMappingSandbox.Exchange(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 31200), listener)?.Received);

        await isolator.UpdateAsync(id, [PortMappingSandbox.PortsResource("[31000-31000]")], new Dictionary<string, Value.Types.Scalar>());
        Assert.Null(PortMappingSandbox.Exchange(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 31200), listener, 500));

        await isolator.CleanupAsync(id);
    });
}
