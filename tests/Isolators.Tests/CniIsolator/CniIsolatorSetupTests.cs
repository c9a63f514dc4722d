using Mesos;
using Mesos.Slave;
using NetIsolator.Bridge;
using NetIsolator.Isolators.Cni;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>
/// The container files as a process sees them after isolate (<see cref="NetworkFilesSetup"/>, run in-process by the
/// isolator where Mesos runs its <c>network-cni-setup</c> helper): Mesos's three cases, read from inside the container's namespaces
/// with nsenter. Each also checks the host's own /etc was left alone.
/// </summary>
[Collection("CniIsolatorRoot")]
public sealed class CniIsolatorSetupTests : IDisposable
{
    private readonly CniSandbox _sandbox = new();
    private readonly string _hostHosts = File.ReadAllText("/etc/hosts");
    private readonly string _hostname = File.ReadAllText("/proc/sys/kernel/hostname");
    private readonly List<string> _etcMounts = EtcMounts();

    public void Dispose()
    {
        try
        {
            Assert.Equal(_hostHosts, File.ReadAllText("/etc/hosts"));
            Assert.Equal(_hostname, File.ReadAllText("/proc/sys/kernel/hostname"));
            Assert.Equal(_etcMounts, EtcMounts());
        }
        finally
        {
            _sandbox.Dispose();
        }
    }

    [RootFact]
    public async Task OwnNetworks_TheContainerSeesItsHostsHostnameAndResolvConf_ItsHostName_AndLoUp()
    {
        var prefix = _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var config = CniSandbox.Config(new NetworkInfo { Name = "net1" });
        config.ContainerInfo.Hostname = "web-1";
        await isolator.PrepareAsync(id, config);
        var pid = _sandbox.StartContainer();
        await isolator.IsolateAsync(id, pid);

        var hosts = InContainer(pid, "cat", "/etc/hosts");
        Assert.StartsWith("127.0.0.1 localhost\n", hosts);
        Assert.Matches($@"{System.Text.RegularExpressions.Regex.Escape(prefix)}\d+ web-1\n", hosts);
        Assert.Equal("web-1", InContainer(pid, "cat", "/etc/hostname"));
        Assert.Equal("web-1\n", InContainer(pid, "hostname"));
        // No DNS configured for the network: the host's resolver configuration.
        Assert.Equal(File.ReadAllText("/etc/resolv.conf"), InContainer(pid, "cat", "/etc/resolv.conf"));
        Assert.Contains("state UNKNOWN", InContainer(pid, "ip", "-o", "link", "show", "lo"));
        Assert.Contains("UP", InContainer(pid, "ip", "-o", "link", "show", "lo"));

        await isolator.CleanupAsync(id);
    }

    [RootFact]
    public async Task ANestedContainerJoiningItsParent_SeesTheParentsFiles_AndSharesItsHostName()
    {
        _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        var parent = CniSandbox.NewId();
        var parentPid = await _sandbox.AttachAsync(isolator, parent, new NetworkInfo { Name = "net1" });

        var child = CniSandbox.NewId(parent);
        Assert.NotNull(await isolator.PrepareAsync(child, CniSandbox.Config()));
        // The launcher enters the parent's NET and UTS namespaces and clones a MNT namespace: a process in a new mount
        // namespace, started from inside the parent's network and UTS namespaces, stands in for it.
        var childPid = _sandbox.StartContainer(enterNamespacesOf: parentPid);
        await isolator.IsolateAsync(child, childPid);

        Assert.Equal(InContainer(parentPid, "cat", "/etc/hosts"), InContainer(childPid, "cat", "/etc/hosts"));
        Assert.Equal(parent.Value, InContainer(childPid, "cat", "/etc/hostname"));
        Assert.Equal(parent.Value + "\n", InContainer(childPid, "hostname"));

        await isolator.CleanupAsync(child);
        await isolator.CleanupAsync(parent);
    }

    [RootFact]
    public async Task AHostNetworkContainerWithAnImage_GetsTheHostsFilesInItsImage_ReadOnly()
    {
        var isolator = _sandbox.CreateIsolator();
        var rootfs = Directory.CreateDirectory(Path.Join(_sandbox.Directory, "rootfs")).FullName;
        Directory.CreateDirectory(Path.Join(rootfs, "etc"));
        // An image whose resolv.conf is a symlink (to systemd-resolved's file, say): replaced by a file to mount over.
        File.CreateSymbolicLink(Path.Join(rootfs, "etc", "resolv.conf"), "/run/systemd/resolve/stub-resolv.conf");
        var id = CniSandbox.NewId();
        var config = CniSandbox.Config();
        config.Rootfs = rootfs;
        Assert.Null(await isolator.PrepareAsync(id, config));
        var pid = _sandbox.StartContainer(network: false);
        await isolator.IsolateAsync(id, pid);

        Assert.Equal(_hostHosts, InContainer(pid, "cat", $"{rootfs}/etc/hosts"));
        Assert.Equal(File.ReadAllText("/etc/resolv.conf"), InContainer(pid, "cat", $"{rootfs}/etc/resolv.conf"));
        var write = CniSandbox.RunAllowingFailure("nsenter", $"--mount=/proc/{pid}/ns/mnt", "sh", "-c", $"echo x >> {rootfs}/etc/hosts");
        Assert.NotEqual(0, write.ExitCode);
        Assert.Contains("Read-only file system", write.Stderr);
        // Outside the container's mount namespace the image keeps plain (empty) files.
        Assert.Equal("", File.ReadAllText(Path.Join(rootfs, "etc", "resolv.conf")));

        await isolator.CleanupAsync(id);
        Assert.Empty(_sandbox.ContainerDirectories());
    }

    [RootFact]
    public async Task AContainerWithoutAMountNamespaceOfItsOwn_IsRefused_AndTheHostsEtcIsUntouched()
    {
        _sandbox.AddNetwork("net1");
        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        await isolator.PrepareAsync(id, CniSandbox.Config(new NetworkInfo { Name = "net1" }));
        var pid = _sandbox.StartContainer(mount: false);

        var error = await Assert.ThrowsAsync<IsolatorException>(() => isolator.IsolateAsync(id, pid));
        Assert.Contains("Failed to setup hostname and network files", error.Message);
        Assert.Contains($"Refusing to set up the network files of pid {pid}: it is in this process's own mount namespace", error.Message);

        // The setup runs before the plugin is given its config, so the real bridge never acted: no veth, no lease.
        Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
        Assert.Empty(_sandbox.Leases());

        await isolator.CleanupAsync(id);
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.Empty(_sandbox.NsfsMountsUnderRoot());
    }

    private static List<string> EtcMounts() =>
        [.. NetIsolator.Linux.MountInfo.ReadSelf().Where(m => m.MountPoint.StartsWith("/etc/", StringComparison.Ordinal)).Select(m => $"{m.MountPoint} {m.Root}")];

    private static string InContainer(int pid, params string[] command) =>
        CniSandbox.Run("nsenter", [$"--mount=/proc/{pid}/ns/mnt", $"--uts=/proc/{pid}/ns/uts", $"--net=/proc/{pid}/ns/net", .. command]);
}
