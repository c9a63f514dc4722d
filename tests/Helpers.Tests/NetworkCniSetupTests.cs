using System.Diagnostics;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Helpers.Tests;

/// <summary>
/// <c>network-cni-setup</c> from the command line: build/bin/netisolator-helper, the NativeAOT executable operators
/// run, against real processes in namespaces of their own. The host's /etc, host
/// name and mount table are checked unchanged after every test.
/// </summary>
public sealed class NetworkCniSetupTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("netiso-setup-").FullName;
    private readonly List<ContainerProcess> _containers = [];
    private readonly string _hostHosts = File.ReadAllText("/etc/hosts");
    private readonly string _hostname = File.ReadAllText("/proc/sys/kernel/hostname");
    private readonly string[] _hostMounts;

    public NetworkCniSetupTests()
    {
        _hostMounts = HostMountPoints();
        File.WriteAllText(Source("hosts"), "127.0.0.1 localhost\n10.9.8.7 box\n");
        File.WriteAllText(Source("hostname"), "box");
        File.WriteAllText(Source("resolv.conf"), "nameserver 10.9.8.1\n");
    }

    public void Dispose()
    {
        foreach (var container in _containers)
        {
            container.Dispose();
        }

        Directory.Delete(_directory, recursive: true);
        Assert.Equal(_hostHosts, File.ReadAllText("/etc/hosts"));
        Assert.Equal(_hostname, File.ReadAllText("/proc/sys/kernel/hostname"));
        Assert.Equal(_hostMounts, HostMountPoints());
    }

    [Fact]
    public void Help_PrintsTheFlags_AndSucceeds()
    {
        var (exit, stdout, _) = RunHelper(["--help"]);
        Assert.Equal(0, exit);
        foreach (var flag in new[] { "--bind_host_files", "--bind_readonly", "--etc_hostname_path", "--etc_hosts_path", "--etc_resolv_conf", "--hostname", "--pid", "--rootfs" })
        {
            Assert.Contains(flag, stdout);
        }
    }

    [RootFact]
    public void OwnNetworks_BindsTheFilesOverEtc_SetsTheHostName_AndBringsUpLo()
    {
        var pid = StartContainer();
        var (exit, _, stderr) = RunHelper(Flags(pid, "--bind_host_files=true", "--hostname=box"));
        Assert.True(exit == 0, stderr);

        Assert.Equal(File.ReadAllText(Source("hosts")), InContainer(pid, "cat", "/etc/hosts"));
        Assert.Equal("box", InContainer(pid, "cat", "/etc/hostname"));
        Assert.Equal(File.ReadAllText(Source("resolv.conf")), InContainer(pid, "cat", "/etc/resolv.conf"));
        Assert.Equal("box\n", InContainer(pid, "hostname"));
        Assert.Contains(",UP,", InContainer(pid, "ip", "-o", "link", "show", "lo"));
        // Writable (bind_readonly=false): the container may edit its hosts file.
        InContainer(pid, "sh", "-c", "echo '10.9.8.6 other' >> /etc/hosts");
        Assert.EndsWith("10.9.8.6 other\n", File.ReadAllText(Source("hosts")));
    }

    [RootFact]
    public void TheFlagsAlsoComeFromTheEnvironment()
    {
        var pid = StartContainer();
        var (exit, _, stderr) = RunHelper(
            [$"--etc_resolv_conf={Source("resolv.conf")}", "--bind_host_files"],
            new() { ["MESOS_CONTAINERIZER_PID"] = pid.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        Assert.True(exit == 0, stderr);
        Assert.Equal(File.ReadAllText(Source("resolv.conf")), InContainer(pid, "cat", "/etc/resolv.conf"));
    }

    [RootFact]
    public void AnImage_GetsItsFilesCreated_ASymlinkReplaced_AndReadOnlyMounts()
    {
        var rootfs = Directory.CreateDirectory(Path.Join(_directory, "rootfs")).FullName;
        Directory.CreateDirectory(Path.Join(rootfs, "etc"));
        File.CreateSymbolicLink(Path.Join(rootfs, "etc", "resolv.conf"), "../run/systemd/resolve/stub-resolv.conf");
        var pid = StartContainer(network: false);

        var (exit, _, stderr) = RunHelper(Flags(pid, $"--rootfs={rootfs}", "--bind_readonly=true"));
        Assert.True(exit == 0, stderr);

        Assert.Equal(File.ReadAllText(Source("hosts")), InContainer(pid, "cat", $"{rootfs}/etc/hosts"));
        Assert.Equal("box", InContainer(pid, "cat", $"{rootfs}/etc/hostname"));
        Assert.Equal(File.ReadAllText(Source("resolv.conf")), InContainer(pid, "cat", $"{rootfs}/etc/resolv.conf"));
        var write = Run("nsenter", [$"--mount=/proc/{pid}/ns/mnt", "sh", "-c", $"echo x >> {rootfs}/etc/hosts"]);
        Assert.NotEqual(0, write.ExitCode);
        Assert.Contains("Read-only file system", write.Stderr);
        var options = InContainer(pid, "findmnt", "-n", "-o", "OPTIONS", $"{rootfs}/etc/hosts");
        Assert.Contains("ro", options.Split(','));
        Assert.Contains("nosuid", options.Split(','));
        // Without --bind_host_files the container's own /etc is left alone, and the image keeps plain files.
        Assert.Equal(_hostHosts, InContainer(pid, "cat", "/etc/hosts"));
        Assert.Null(new FileInfo(Path.Join(rootfs, "etc", "resolv.conf")).LinkTarget);
        Assert.Equal("", File.ReadAllText(Path.Join(rootfs, "etc", "hosts")));
    }

    [RootFact]
    public void AnImageWhoseEtcLeadsOutOfTheRootfs_IsRefused_WithNothingMounted()
    {
        var rootfs = Directory.CreateDirectory(Path.Join(_directory, "rootfs")).FullName;
        var outside = Directory.CreateDirectory(Path.Join(_directory, "outside")).FullName;
        Directory.CreateSymbolicLink(Path.Join(rootfs, "etc"), outside);
        var pid = StartContainer(network: false);

        var (exit, _, stderr) = RunHelper(Flags(pid, $"--rootfs={rootfs}"));
        Assert.Equal(1, exit);
        Assert.Contains($"resolves to '{outside}', outside the rootfs '{rootfs}'", stderr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
        Assert.DoesNotContain(_directory, InContainer(pid, "cat", "/proc/self/mountinfo"));
    }

    [RootFact]
    public void AProcessInTheHostsMountNamespace_IsRefused()
    {
        var pid = StartContainer(mount: false);
        var (exit, _, stderr) = RunHelper(Flags(pid, "--bind_host_files=true", "--hostname=box"));
        Assert.Equal(1, exit);
        Assert.Contains($"Refusing to set up the network files of pid {pid}: it is in this process's own mount namespace", stderr);
        Assert.NotEqual("box\n", InContainer(pid, "hostname"));
    }

    [RootFact]
    public void EveryFailureIsOneMessageAndExitStatus1()
    {
        var pid = StartContainer();
        var missing = Path.Join(_directory, "missing");
        Assert.Equal((1, "Container PID not specified\n"), Failure([$"--etc_resolv_conf={Source("resolv.conf")}"]));
        Assert.Equal((1, "Path to 'resolv.conf' not specified.\n"), Failure([$"--pid={pid}"]));
        Assert.Equal((1, $"Unable to find '{missing}'\n"), Failure([$"--pid={pid}", $"--etc_resolv_conf={missing}"]));
        Assert.Equal((1, $"Unable to find '{missing}'\n"), Failure([$"--pid={pid}", $"--etc_hosts_path={missing}", $"--etc_resolv_conf={Source("resolv.conf")}"]));
        Assert.Equal((1, "Invalid container PID 'x1'\n"), Failure(["--pid=x1", $"--etc_resolv_conf={Source("resolv.conf")}"]));
        Assert.Equal((1, "network-cni-setup: Failed to load flags: unknown flag '--bogus'\n"), Failure(["--bogus"]));
        var (exit, stderr) = Failure([$"--pid={int.MaxValue}", $"--etc_resolv_conf={Source("resolv.conf")}"]);
        Assert.Equal(1, exit);
        Assert.Equal($"Failed to enter the mount namespace of pid {int.MaxValue}: namespace '/proc/{int.MaxValue}/ns/mnt' does not exist: open namespace failed with ENOENT\n", stderr);
        Assert.Equal(_hostHosts, InContainer(pid, "cat", "/etc/hosts"));
    }

    [Fact]
    public void AnUnknownSubcommand_IsNamed()
    {
        var (exit, _, stderr) = Run(BuildTree.Helper, ["network-cni-setpu"]);
        Assert.Equal(1, exit);
        Assert.Contains("unknown subcommand 'network-cni-setpu'", stderr);
    }

    private string Source(string name) => Path.Join(_directory, name);

    private string[] Flags(int pid, params string[] more) =>
    [
        $"--etc_hostname_path={Source("hostname")}",
        $"--etc_hosts_path={Source("hosts")}",
        $"--etc_resolv_conf={Source("resolv.conf")}",
        $"--pid={pid}",
        .. more,
    ];

    private int StartContainer(bool network = true, bool mount = true)
    {
        var container = ContainerProcess.Start(network, mount);
        _containers.Add(container);
        return container.Pid;
    }

    private (int ExitCode, string Stderr) Failure(string[] flags)
    {
        var (exit, _, stderr) = RunHelper(flags);
        return (exit, stderr);
    }

    private static (int ExitCode, string Stdout, string Stderr) RunHelper(string[] flags, Dictionary<string, string>? environment = null) =>
        Run(BuildTree.Helper, ["network-cni-setup", .. flags], environment);

    private static string InContainer(int pid, params string[] command)
    {
        var (exit, stdout, stderr) = Run("nsenter", [$"--mount=/proc/{pid}/ns/mnt", $"--uts=/proc/{pid}/ns/uts", $"--net=/proc/{pid}/ns/net", .. command]);
        Assert.True(exit == 0, $"{string.Join(' ', command)} in pid {pid}: {stderr}");
        return stdout;
    }

    private static (int ExitCode, string Stdout, string Stderr) Run(string program, string[] arguments, Dictionary<string, string>? environment = null)
    {
        var startInfo = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? [])
        {
            startInfo.Environment[name] = value;
        }

        using var process = Process.Start(startInfo)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }

    /// <summary>
    /// The host's mount points this helper could touch: under /etc and under this test's directory (other suites
    /// running at the same time add and remove mounts elsewhere, e.g. under /run/netns and their own temp dirs).
    /// </summary>
    private string[] HostMountPoints() =>
        [.. File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4])
            .Where(p => p.StartsWith("/etc/", StringComparison.Ordinal) || p.StartsWith(_directory, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
}
