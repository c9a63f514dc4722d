using System.Text.Json.Nodes;
using Mesos;
using NetIsolator.Isolators.Cni;
using NetIsolator.Linux;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>
/// Real traffic between namespaces through the isolator with Debian's plugins: bridge, ptp, a bridge → tuning →
/// portmap chain (the NetworkInfo's port mappings as the portMappings capability, the DNAT rule in the fake host),
/// loopback in a chain, and Mesos's ROOT_CleanupAfterReboot. Traffic is a one-shot TCP exchange by python3
/// one-liners run with nsenter in the namespaces (bounded by socket timeouts). Everything happens in the sandbox's
/// fake host and the containers' namespaces; only 10.215.x.0/24 is used; the sandbox checks nothing is left.
/// </summary>
[Collection("CniIsolatorRoot")]
public sealed class CniIsolatorRealPluginTests : IDisposable
{
    private readonly CniSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [RootFact]
    public async Task TwoContainersOnOneBridgeNetwork_TalkTcp_BothWays()
    {
        CniTestNetworks.WriteBridgeNetwork(_sandbox, "net1");
        var isolator = _sandbox.CreateIsolator();
        var (a, pidA, ipA) = await AttachOne(isolator, "net1");
        var (b, pidB, ipB) = await AttachOne(isolator, "net1");
        Assert.NotEqual(ipA, ipB);

        AssertExchange(pidA, pidB, ipB, 7001);
        AssertExchange(pidB, pidA, ipA, 7002);

        await isolator.CleanupAsync(a);
        await isolator.CleanupAsync(b);
        AssertDetached(pidA, pidB);
    }

    [RootFact]
    public async Task TwoContainersOnAPtpNetwork_TalkTcp_RoutedThroughTheFakeHost()
    {
        var (prefix, _) = CniTestNetworks.Allocate(_sandbox);
        CniTestNetworks.WriteConflist(_sandbox, "p2p", "1.0.0", new JsonObject
        {
            ["type"] = "ptp",
            ["ipMasq"] = false,
            ["ipam"] = CniTestNetworks.HostLocal(_sandbox, prefix),
        });
        var isolator = _sandbox.CreateIsolator();
        var (a, pidA, ipA) = await AttachOne(isolator, "p2p");
        var (b, pidB, ipB) = await AttachOne(isolator, "p2p");
        Assert.StartsWith(prefix, ipA);
        // ptp: a point-to-point veth per container, a /32 route to it in the host, no bridge.
        var hostRoutes = CniSandbox.Run("ip", "-n", _sandbox.HostNetns, "-4", "route", "show");
        Assert.Contains($"{ipA} dev veth", hostRoutes);
        Assert.Contains($"{ipB} dev veth", hostRoutes);
        Assert.DoesNotContain("bridge", CniSandbox.Run("ip", "-n", _sandbox.HostNetns, "-d", "link", "show"));

        AssertExchange(pidA, pidB, ipB, 7003);

        await isolator.CleanupAsync(a);
        await isolator.CleanupAsync(b);
        AssertDetached(pidA, pidB);
        Assert.DoesNotContain(ipA, CniSandbox.Run("ip", "-n", _sandbox.HostNetns, "-4", "route", "show"));
    }

    [RootFact]
    public async Task BridgeTuningPortmapChain_SetsTheSysctl_MapsTheNetworkInfosPort_AndDelRemovesTheRules()
    {
        const int hostPort = 18080;
        const int containerPort = 8080;
        var (prefix, bridge) = CniTestNetworks.Allocate(_sandbox);
        CniTestNetworks.WriteConflist(_sandbox, "chain", "1.0.0",
            CniTestNetworks.Bridge(_sandbox, bridge, prefix),
            new JsonObject
            {
                ["type"] = "tuning",
                ["mtu"] = 1400,
                ["sysctl"] = new JsonObject { ["net.ipv4.conf.eth0.arp_announce"] = "2" },
            },
            new JsonObject
            {
                ["type"] = "portmap",
                ["capabilities"] = new JsonObject { ["portMappings"] = true },
                ["snat"] = false,
            });
        var isolator = _sandbox.CreateIsolator();
        var network = new NetworkInfo { Name = "chain" };
        network.PortMappings.Add(new NetworkInfo.Types.PortMapping { HostPort = hostPort, ContainerPort = containerPort, Protocol = "tcp" });
        var (id, pid, ip) = await AttachOne(isolator, network);

        // tuning ran in the container's namespace, after bridge.
        Assert.Equal("2", CniSandbox.Run("nsenter", $"--net=/proc/{pid}/ns/net", "cat", "/proc/sys/net/ipv4/conf/eth0/arp_announce").Trim());
        Assert.Contains(" mtu 1400 ", CniSandbox.Run("nsenter", $"--net=/proc/{pid}/ns/net", "ip", "-o", "link", "show", "eth0"));

        // portmap got the NetworkInfo's mapping: a DNAT rule in the FAKE host, and a connection to hostIP:hostPort
        // from there reaches the container's server.
        var nat = HostNat();
        Assert.Contains(nat.Split('\n'), l => l.Contains($"--dport {hostPort}", StringComparison.Ordinal)
            && l.Contains($"--to-destination {ip}:{containerPort}", StringComparison.Ordinal));
        var hostIp = $"{prefix}1";
        var server = CniTestNetworks.StartTcpServer($"/proc/{pid}/ns/net", containerPort);
        Assert.Equal("pong:via-hostport", CniTestNetworks.TcpExchange(_sandbox.HostNetnsPath, hostIp, hostPort, "via-hostport"));
        Assert.StartsWith("served ", CniTestNetworks.FinishServer(server));

        await isolator.CleanupAsync(id);
        Assert.DoesNotContain($"{hostPort}", HostNat());
        Assert.DoesNotContain(ip, HostNat());
        AssertDetached(pid);
    }

    [RootFact]
    public async Task LoopbackInAChain_PassesTheBridgeResultThrough_AndItsDelSetsLoDown()
    {
        var prefix = CniTestNetworks.WriteBridgeNetwork(_sandbox, "withlo", new JsonObject { ["type"] = "loopback" });
        var isolator = _sandbox.CreateIsolator();
        var (id, pid, ip) = await AttachOne(isolator, "withlo");

        // loopback returns its prevResult: the status still has bridge's address.
        Assert.StartsWith(prefix, ip);
        Assert.Matches(@"<LOOPBACK,UP,LOWER_UP>", CniSandbox.Run("nsenter", $"--net=/proc/{pid}/ns/net", "ip", "-o", "link", "show", "lo"));
        var server = CniTestNetworks.StartTcpServer($"/proc/{pid}/ns/net", 7004);
        Assert.Equal("pong:local", CniTestNetworks.TcpExchange($"/proc/{pid}/ns/net", "127.0.0.1", 7004, "local"));
        CniTestNetworks.FinishServer(server);

        await isolator.CleanupAsync(id);
        // Its DEL ran in the container's namespace (CNI_NETNS = the pin) and set lo down again.
        Assert.DoesNotContain(",UP", CniSandbox.Run("nsenter", $"--net=/proc/{pid}/ns/net", "ip", "-o", "link", "show", "lo"));
        AssertDetached(pid);
    }

    /// <summary>
    /// Mesos's ROOT_CleanupAfterReboot: with network_cni_root_dir_persist, ROOT is under the work dir and survives a
    /// reboot, which ends the container and every mount. After the "reboot" a fresh isolator recovering with no
    /// states must DEL the attachment from its cache: CNI_NETNS unset (the pin is now a plain file, no namespace),
    /// host-local's lease (which a reboot keeps on disk) released, ROOT/&lt;CID&gt; removed.
    /// </summary>
    [RootFact]
    public async Task CleanupAfterReboot_PersistentRoot_DelRunsWithoutNetns_AndReleasesTheLease()
    {
        // The bridge is wrapped to record the environment it is run with, then exec'd.
        var plugins = Directory.CreateDirectory(Path.Join(_sandbox.Directory, "plugins")).FullName;
        var calls = Path.Join(_sandbox.Directory, "calls.log");
        File.CreateSymbolicLink(Path.Join(plugins, "host-local"), "/usr/lib/cni/host-local");
        var wrapper = Path.Join(plugins, "recbridge");
        File.WriteAllText(wrapper, $$"""
            #!/bin/sh
            echo "$CNI_COMMAND netns=${CNI_NETNS-unset}" >> '{{calls}}'
            exec /usr/lib/cni/bridge

            """);
        File.SetUnixFileMode(wrapper, (UnixFileMode)0b111_101_101);
        var (prefix, bridge) = CniTestNetworks.Allocate(_sandbox);
        var config = CniTestNetworks.Bridge(_sandbox, bridge, prefix);
        config["type"] = "recbridge";
        CniTestNetworks.WriteConflist(_sandbox, "net1", "1.0.0", config);
        var workDir = Path.Join(_sandbox.Directory, "work");
        var options = new CniIsolatorOptions
        {
            ConfigDirectory = _sandbox.ConfigDir,
            PluginsDirectory = plugins,
            RuntimeDirectory = _sandbox.RuntimeDir,
            WorkDirectory = workDir,
            RootDirPersist = true,
            HostNetworkNamespace = _sandbox.HostNetnsPath,
            PluginTimeout = TimeSpan.FromSeconds(30),
        };
        var root = Path.Join(workDir, CniIsolatorOptions.RootSuffix);
        var isolator = new NetIsolator.Isolators.Cni.CniIsolator(options, Log);
        Assert.Equal(MountPropagation.RealPath(root), isolator.Root);
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(isolator, id, new NetworkInfo { Name = "net1" });
        var pin = CniLayout.NamespacePin(isolator.Root!, id.Value);
        Assert.Contains($"ADD netns={pin}", File.ReadAllLines(calls));
        Assert.Single(_sandbox.Leases());

        // The reboot: the container is gone, every mount under the work and runtime dirs too, the runtime dir is
        // deleted. The pin stays as the empty file it was mounted on; the lease stays on disk.
        _sandbox.KillContainer(pid);
        foreach (var mount in MountInfo.ReadSelf().Select(m => m.MountPoint)
                     .Where(m => m.StartsWith(workDir + "/", StringComparison.Ordinal) || m.StartsWith(_sandbox.RuntimeDir + "/", StringComparison.Ordinal))
                     .Reverse().ToList())
        {
            CniSandbox.Run("umount", mount);
        }

        if (Directory.Exists(_sandbox.RuntimeDir))
        {
            Directory.Delete(_sandbox.RuntimeDir, recursive: true);
        }

        Assert.True(File.Exists(pin));
        Assert.False(PersistentNetworkNamespace.IsPinned(pin));
        var lease = Assert.Single(_sandbox.Leases());

        var afterReboot = new NetIsolator.Isolators.Cni.CniIsolator(options, Log);
        await afterReboot.RecoverAsync([], []);

        Assert.Equal("DEL netns=unset", File.ReadAllLines(calls).Last());
        Assert.False(File.Exists(lease));
        Assert.Empty(_sandbox.Leases());
        Assert.Empty(Directory.EnumerateFileSystemEntries(root));
        Assert.DoesNotContain(MountInfo.ReadSelf(), m => m.MountPoint.Contains(id.Value, StringComparison.Ordinal));
        // DEL without a netns cannot touch the veth: the kernel removes it with the dead container's namespace.
        Assert.DoesNotContain("veth", _sandbox.HostLinksOnceVethsAreGone());
        await afterReboot.CleanupAsync(id);
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    // ----------------------------------------------------------------------------------------------------------
    // helpers

    private Task<(ContainerID Id, int Pid, string Ip)> AttachOne(NetIsolator.Isolators.Cni.CniIsolator isolator, string network) =>
        AttachOne(isolator, new NetworkInfo { Name = network });

    private async Task<(ContainerID Id, int Pid, string Ip)> AttachOne(NetIsolator.Isolators.Cni.CniIsolator isolator, NetworkInfo network)
    {
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(isolator, id, network);
        var ip = Assert.Single(Assert.Single((await isolator.StatusAsync(id)).NetworkInfos).IpAddresses).IpAddress;
        Assert.Contains($"inet {ip}/", CniSandbox.Addresses(pid, "eth0"));
        return (id, pid, ip);
    }

    /// <summary>A TCP server in <paramref name="serverPid"/>'s namespace, a client in <paramref name="clientPid"/>'s.</summary>
    private static void AssertExchange(int clientPid, int serverPid, string serverIp, int port)
    {
        var server = CniTestNetworks.StartTcpServer($"/proc/{serverPid}/ns/net", port);
        Assert.Equal("pong:ping", CniTestNetworks.TcpExchange($"/proc/{clientPid}/ns/net", serverIp, port, "ping"));
        var served = CniTestNetworks.FinishServer(server);
        Assert.Contains($"served ", served);
    }

    private void AssertDetached(params int[] pids)
    {
        foreach (var pid in pids)
        {
            Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
        }

        Assert.DoesNotContain("veth", _sandbox.HostLinks());
        Assert.Empty(_sandbox.Leases());
        Assert.Empty(_sandbox.ContainerDirectories());
    }

    private string HostNat() => CniSandbox.Run("ip", "netns", "exec", _sandbox.HostNetns, "iptables-save", "-t", "nat");

    private void Log(IsolatorLogLevel level, string message)
    {
        lock (_sandbox.Log)
        {
            _sandbox.Log.Add((level, message));
        }
    }
}
