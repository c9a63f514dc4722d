using System.Net;
using Mesos;
using NetIsolator.Bridge;
using NetIsolator.Isolators.Cni;
using NetIsolator.Isolators.Tests.CniIsolator;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapper;

/// <summary>
/// The port-mapper plugin driven by the CNI isolator, as an agent drives it: a task's NetworkInfo.port_mappings
/// reach the plugin both as Mesos's args and as the portMappings capability; traffic from a client namespace to
/// hostIP:hostPort reaches the container process; cleanup removes every rule and chain.
/// </summary>
[Collection("CniIsolatorRoot")]
public sealed class PortMapperIsolatorTests : IDisposable
{
    private readonly CniSandbox _sandbox = new();
    private readonly PortMapperNetwork _network;

    public PortMapperIsolatorTests() => _network = new PortMapperNetwork(_sandbox);

    public void Dispose()
    {
        try
        {
            _network.Dispose();
        }
        finally
        {
            _sandbox.Dispose();
        }
    }

    private NetworkInfo Info(params (uint Host, uint Container, string Protocol)[] mappings)
    {
        var info = new NetworkInfo { Name = _network.Name };
        foreach (var (host, container, protocol) in mappings)
        {
            info.PortMappings.Add(new NetworkInfo.Types.PortMapping { HostPort = host, ContainerPort = container, Protocol = protocol });
        }

        return info;
    }

    [RootFact]
    public async Task PortMappings_TcpUdpHairpinAndLoopback_Work_AndCleanupRemovesEverything()
    {
        var isolator = _network.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(isolator, id, Info((8080, 80, "tcp"), (5353, 53, "udp")));
        var container = $"/proc/{pid}/ns/net";

        Assert.NotEmpty(_network.RuleLines());
        using (PortMapperNetwork.Echo(container, 80))
        using (PortMapperNetwork.Echo(container, 53))
        {
            Assert.StartsWith("tcp from 172.29.", PortMapperNetwork.Tcp(_network.ClientNetnsPath, _network.HostIp, 8080, "tcp"));
            Assert.StartsWith("udp from 172.29.", PortMapperNetwork.Udp(_network.ClientNetnsPath, _network.HostIp, 5353, "udp"));
            Assert.StartsWith($"hairpin from {_network.BridgeIp}:", PortMapperNetwork.Tcp(container, _network.HostIp, 8080, "hairpin"));
            Assert.StartsWith("loopback from ", PortMapperNetwork.Tcp(_sandbox.HostNetnsPath, IPAddress.Loopback, 8080, "loopback"));
        }

        var status = Assert.Single((await isolator.StatusAsync(id)).NetworkInfos);
        Assert.Equal(2, status.PortMappings.Count);

        await isolator.CleanupAsync(id);
        await isolator.CleanupAsync(id);

        Assert.Empty(_network.RuleLines());
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    [RootFact]
    public async Task Cleanup_AfterTheContainerDied_RemovesTheRules()
    {
        var isolator = _network.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(isolator, id, Info((8080, 80, "tcp")));
        _sandbox.KillContainer(pid);

        await isolator.CleanupAsync(id);

        Assert.Empty(_network.RuleLines());
    }

    [RootFact]
    public async Task IsolateFailingInThePortMapper_LeavesNothing_AfterCleanup()
    {
        var isolator = _network.CreateIsolator();
        var id = CniSandbox.NewId();
        // Two mappings of one host port: the plugin refuses the request before touching anything.
        var pid = await _sandbox.PrepareAndStartAsync(isolator, id, Info((8080, 80, "tcp"), (8080, 81, "tcp")));

        var error = await Assert.ThrowsAsync<IsolatorException>(() => isolator.IsolateAsync(id, pid));
        Assert.Contains("both map host port tcp/8080", error.Message, StringComparison.Ordinal);

        await isolator.CleanupAsync(id);
        Assert.Empty(_network.RuleLines());
        Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
    }

    [RootFact]
    public async Task ThirtyTwoContainers_ConcurrentlyWithPortMappings_NothingLeft()
    {
        const int Count = 32;
        var isolator = _network.CreateIsolator();
        var ids = Enumerable.Range(0, Count).Select(_ => CniSandbox.NewId()).ToList();
        var pids = ids.Select(_ => _sandbox.StartContainer()).ToList();

        await Task.WhenAll(ids.Select((id, i) => Task.Run(async () =>
        {
            await isolator.PrepareAsync(id, CniSandbox.Config(Info(((uint)(20000 + i), 80, "tcp"))));
            await isolator.IsolateAsync(id, pids[i]);
        })));

        Assert.Equal(Count, _network.RuleLines().Count(l => l.Contains("-j DNAT", StringComparison.Ordinal)));
        using (PortMapperNetwork.Echo($"/proc/{pids[Count - 1]}/ns/net", 80))
        {
            Assert.StartsWith("last from", PortMapperNetwork.Tcp(_network.ClientNetnsPath, _network.HostIp, 20000 + Count - 1, "last"));
        }

        await Task.WhenAll(ids.Select(id => Task.Run(() => isolator.CleanupAsync(id))));

        Assert.Empty(_network.RuleLines());
        Assert.Empty(_sandbox.Leases());
    }
}
