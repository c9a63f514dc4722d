using System.Net;
using System.Net.Sockets;
using Mesos;
using NetIsolator.Isolators.PortMappingIsolation;
using NetIsolator.Linux;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>
/// Every packet path of the isolator on a real kernel (Mesos's port_mapping_tests 1–8, see MESOS-TESTS.md): two
/// containers with Mesos's test resources, container 1 owning [31000-31499] and container 2 [31500-32000];
/// <see cref="ValidPort"/> is container 1's, <see cref="InvalidPort"/> nobody's.
/// </summary>
public sealed class PortMappingPathTests
{
    private const int ValidPort = 31001;
    private const int InvalidPort = 32502;
    private const string Resources = "cpus:2;mem:1024;disk:1024;ephemeral_ports:[30001-30999];ports:[31000-32000]";

    private static async Task WithTwoContainers(Func<PortMappingSandbox, PortMappingIsolator, int, int, Task> body) =>
        await PortMappingSandbox.RunAsync(async sandbox =>
        {
            await using var isolator = sandbox.CreateIsolator(sandbox.Options(Resources, 16));
            var first = new ContainerID { Value = "container1" };
            var second = new ContainerID { Value = "container2" };
            var pid1 = await sandbox.LaunchAsync(isolator, first, "[31000-31499]");
            var pid2 = await sandbox.LaunchAsync(isolator, second, "[31500-32000]");
            await body(sandbox, isolator, pid1, pid2);
            await isolator.CleanupAsync(first);
            await isolator.CleanupAsync(second);
            Assert.Empty(sandbox.HostFilters("eth0"));
            Assert.Empty(sandbox.HostFilters("lo"));
        });

    [RootFact]
    public Task ContainerToContainerTcp_ViaLocalhostAndHostIp() => WithTwoContainers((sandbox, _, pid1, pid2) =>
    {
        // Container 2 → container 1: container 2's lo/eth0 filters send it to the host's lo, whose port filter
        // redirects it to container 1's veth; for 127.0.0.1, container 1's eth0 filter hands it to its lo.
        using (var listener = PortMappingSandbox.Listen($"/proc/{pid1}/ns/net", ValidPort))
        {
            Assert.Equal("hello\n", PortMappingSandbox.Exchange($"/proc/{pid2}/ns/net", new IPEndPoint(IPAddress.Loopback, ValidPort), listener)?.Received);
            Assert.Equal("hello\n", PortMappingSandbox.Exchange($"/proc/{pid2}/ns/net", new IPEndPoint(sandbox.HostIp, ValidPort), listener)?.Received);
        }

        // A port nobody owns: container 1 listens on it, nothing reaches it.
        using (var listener = PortMappingSandbox.Listen($"/proc/{pid1}/ns/net", InvalidPort))
        {
            Assert.Null(PortMappingSandbox.Exchange($"/proc/{pid2}/ns/net", new IPEndPoint(IPAddress.Loopback, InvalidPort), listener, 500));
            Assert.Null(PortMappingSandbox.Exchange($"/proc/{pid2}/ns/net", new IPEndPoint(sandbox.HostIp, InvalidPort), listener, 500));
        }

        return Task.CompletedTask;
    });

    [RootFact]
    public Task ContainerToContainerUdp_ViaLocalhostAndHostIp() => WithTwoContainers((sandbox, _, pid1, pid2) =>
    {
        using (var receiver = PortMappingSandbox.UdpListen($"/proc/{pid1}/ns/net", ValidPort))
        {
            Assert.NotNull(PortMappingSandbox.UdpExchange($"/proc/{pid2}/ns/net", new IPEndPoint(IPAddress.Loopback, ValidPort), receiver));
            Assert.NotNull(PortMappingSandbox.UdpExchange($"/proc/{pid2}/ns/net", new IPEndPoint(sandbox.HostIp, ValidPort), receiver));
        }

        using (var receiver = PortMappingSandbox.UdpListen($"/proc/{pid1}/ns/net", InvalidPort))
        {
            Assert.Null(PortMappingSandbox.UdpExchange($"/proc/{pid2}/ns/net", new IPEndPoint(IPAddress.Loopback, InvalidPort), receiver, 500));
            Assert.Null(PortMappingSandbox.UdpExchange($"/proc/{pid2}/ns/net", new IPEndPoint(sandbox.HostIp, InvalidPort), receiver, 500));
        }

        return Task.CompletedTask;
    });

    [RootFact]
    public Task HostToContainerTcpAndUdp_ValidPortArrives_InvalidPortDoesNot() => WithTwoContainers((sandbox, _, pid1, _) =>
    {
        // Host → container: the host's lo ingress filter for the port redirects to the container's veth.
        using (var listener = PortMappingSandbox.Listen($"/proc/{pid1}/ns/net", ValidPort))
        {
            Assert.Equal("hello\n", PortMappingSandbox.Exchange(sandbox.HostNetnsPath, new IPEndPoint(IPAddress.Loopback, ValidPort), listener)?.Received);
            Assert.Equal("hello\n", PortMappingSandbox.Exchange(sandbox.HostNetnsPath, new IPEndPoint(sandbox.HostIp, ValidPort), listener)?.Received);
        }

        using (var receiver = PortMappingSandbox.UdpListen($"/proc/{pid1}/ns/net", ValidPort))
        {
            Assert.NotNull(PortMappingSandbox.UdpExchange(sandbox.HostNetnsPath, new IPEndPoint(IPAddress.Loopback, ValidPort), receiver));
            Assert.NotNull(PortMappingSandbox.UdpExchange(sandbox.HostNetnsPath, new IPEndPoint(sandbox.HostIp, ValidPort), receiver));
        }

        // Nobody's port: the host's own stack gets it and, with no listener there, refuses the connection.
        using (var listener = PortMappingSandbox.Listen($"/proc/{pid1}/ns/net", InvalidPort))
        {
            Assert.Null(PortMappingSandbox.Exchange(sandbox.HostNetnsPath, new IPEndPoint(sandbox.HostIp, InvalidPort), listener, 500));
        }

        using (var receiver = PortMappingSandbox.UdpListen($"/proc/{pid1}/ns/net", InvalidPort))
        {
            Assert.Null(PortMappingSandbox.UdpExchange(sandbox.HostNetnsPath, new IPEndPoint(IPAddress.Loopback, InvalidPort), receiver, 500));
        }

        return Task.CompletedTask;
    });

    [RootFact]
    public Task Icmp_ContainerPingsExternalAndItself_PeerPingsTheHost() => WithTwoContainers((sandbox, _, pid1, pid2) =>
    {
        // External: the request leaves through the veth's ICMP redirect; the reply is mirrored to every veth.
        Assert.True(IcmpEcho.Ping($"/proc/{pid1}/ns/net", sandbox.PeerIp), "container 1 → peer");
        Assert.True(IcmpEcho.Ping($"/proc/{pid2}/ns/net", sandbox.PeerIp), "container 2 → peer");
        // Internal: the container's lo keeps ICMP to 127.0.0.1 and to the host's address.
        Assert.True(IcmpEcho.Ping($"/proc/{pid1}/ns/net", IPAddress.Loopback), "container 1 → 127.0.0.1");
        Assert.True(IcmpEcho.Ping($"/proc/{pid1}/ns/net", sandbox.HostIp), "container 1 → host IP (itself)");
        // Towards the host: the host stack answers (the mirror filters continue to it).
        Assert.True(IcmpEcho.Ping(sandbox.PeerNetnsPath, sandbox.HostIp), "peer → host IP");
        // The check can fail: nothing answers an address nobody has.
        Assert.False(IcmpEcho.Ping($"/proc/{pid1}/ns/net", IPAddress.Parse("10.77.255.254"), 300), "a ping to nowhere was answered");
        return Task.CompletedTask;
    });

    [RootFact]
    public Task UdpRequestAndReply_ContainerToExternal_FromItsEphemeralBlock() => WithTwoContainers(async (sandbox, isolator, pid1, _) =>
    {
        // Mesos's ROOT_DNS without a DNS server: a UDP query to the peer's port 53 and the answer back, which
        // reaches the container only through the host's filter for its ephemeral block.
        var block = (await isolator.UsageAsync(new ContainerID { Value = "container1" })).NetEphemeralPorts;
        using var server = PortMappingSandbox.UdpListen(sandbox.PeerNetnsPath, 53);
        using var ns = NetworkNamespace.Open($"/proc/{pid1}/ns/net");
        using var client = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        var buffer = new byte[64];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        for (var attempt = 0; attempt < 10 && !server.Poll(TimeSpan.FromMilliseconds(200), SelectMode.SelectRead); attempt++)
        {
            client.SendTo("query"u8.ToArray(), new IPEndPoint(sandbox.PeerIp, 53));
        }

        Assert.Equal(5, server.ReceiveFrom(buffer, ref from));
        var source = (IPEndPoint)from;
        Assert.Equal(sandbox.HostIp, source.Address);
        Assert.InRange((ulong)source.Port, block.Begin, block.End);
        server.SendTo("answer"u8.ToArray(), source);
        Assert.True(client.Poll(TimeSpan.FromSeconds(2), SelectMode.SelectRead), "the answer did not reach the container");
        Assert.Equal("answer", System.Text.Encoding.ASCII.GetString(buffer, 0, client.Receive(buffer)));
    });

    [RootFact]
    public Task Arp_ContainerResolvesTheGateway_PeerResolvesTheHost() => WithTwoContainers((sandbox, _, _, pid2) =>
    {
        var container = $"/proc/{pid2}/ns/net";
        var peerMac = PortMappingSandbox.Mac(sandbox.PeerNetnsPath, "peer0");
        var hostMac = PortMappingSandbox.Mac(sandbox.HostNetnsPath, "eth0");
        Assert.DoesNotContain(sandbox.PeerIp.ToString(), PortMappingSandbox.Neighbours(container).Keys);

        // The container's request goes out through its veth's ARP redirect; the peer's reply comes back to the
        // host's eth0 and only reaches the container through its ARP mirror filter.
        using (var listener = PortMappingSandbox.Listen(sandbox.PeerNetnsPath, 9002))
        {
            Assert.NotNull(PortMappingSandbox.Exchange(container, new IPEndPoint(sandbox.PeerIp, 9002), listener));
        }

        var inContainer = PortMappingSandbox.Neighbours(container);
        Assert.True(inContainer.TryGetValue(sandbox.PeerIp.ToString(), out var gateway), $"container neighbours: {string.Join(", ", inContainer.Keys)}");
        Assert.Equal(peerMac, gateway.Mac);
        Assert.NotEqual("FAILED", gateway.State);
        // The peer knows the host's address by the host's MAC (which the containers share).
        Assert.Equal(hostMac, PortMappingSandbox.Neighbours(sandbox.PeerNetnsPath)[sandbox.HostIp.ToString()].Mac);
        return Task.CompletedTask;
    });
}
