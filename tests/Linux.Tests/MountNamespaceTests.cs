using System.Diagnostics;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Linux.Tests;

/// <summary>
/// MountNamespace.RunInNamespaceOf against real processes in mount namespaces of their own: what the action mounts is
/// the other namespace's and never ours, only the dedicated thread moves, and the namespaces it must not join are
/// refused before anything happens.
/// </summary>
public sealed class MountNamespaceTests : IDisposable
{
    private readonly Sandbox _sandbox = new();
    private readonly List<string> _ownMounts = OwnMounts();

    public void Dispose()
    {
        try
        {
            Assert.Equal(_ownMounts, OwnMounts());
        }
        finally
        {
            _sandbox.Dispose();
        }
    }

    [RootFact]
    public void TheActionRunsInTheirNamespace_OnAThreadOfItsOwn_AndItsMountsStayThere()
    {
        using var container = ContainerProcess.Start(network: false);
        var source = _sandbox.PathOf("source");
        var target = _sandbox.PathOf("target");
        File.WriteAllText(source, "theirs\n");
        File.WriteAllText(target, "ours\n");
        var callerThread = Environment.CurrentManagedThreadId;

        var (thread, namespaceOfThread) = MountNamespace.RunInNamespaceOf(container.Pid, () =>
        {
            BindMounts.Bind(source, target, readOnly: true);
            return (Environment.CurrentManagedThreadId, Link("/proc/thread-self/ns/mnt"));
        });

        Assert.NotEqual(callerThread, thread);
        Assert.Equal(Link($"/proc/{container.Pid}/ns/mnt"), namespaceOfThread);
        Assert.Equal(Link("/proc/self/ns/mnt"), Link("/proc/thread-self/ns/mnt"));
        Assert.Equal("ours\n", File.ReadAllText(target));
        Assert.Equal("theirs\n", File.ReadAllText($"/proc/{container.Pid}/root{target}"));
        Assert.Contains(File.ReadAllLines($"/proc/{container.Pid}/mountinfo"), line => line.Split(' ')[4] == target);

        // The mount goes with the namespace's last process.
        container.Kill();
        File.Delete(source);
        File.Delete(target);
    }

    [RootFact]
    public void OurOwnNamespace_IsRefused_AndTheActionNeverRuns()
    {
        using var container = ContainerProcess.Start(network: false, mount: false);
        var ran = false;
        var error = Assert.Throws<MountNamespaceRefusedException>(() => MountNamespace.RunInNamespaceOf(container.Pid, () => ran = true));
        Assert.Equal($"the mount namespace of pid {container.Pid} is not joined: it is in this process's own mount namespace", error.Message);
        Assert.False(ran);
    }

    [RootFact]
    public void AProcessThatHasChangedItsRoot_IsRefused()
    {
        // A root of bind-mounted /usr (Debian's /bin and /lib are links into it), made in the process's own namespace.
        var root = Directory.CreateDirectory(_sandbox.PathOf("root")).FullName;
        using var process = Process.Start(new ProcessStartInfo("unshare",
        [
            "--mount", "--propagation", "private", "sh", "-c",
            $"mkdir {root}/usr && mount --bind /usr {root}/usr && ln -s usr/bin {root}/bin && ln -s usr/lib {root}/lib && "
                + $"ln -s usr/lib64 {root}/lib64 && exec chroot {root} /bin/sleep 120",
        ]))!;
        try
        {
            WaitForCommand(process.Id, "sleep");
            var ran = false;
            var error = Assert.Throws<MountNamespaceRefusedException>(() => MountNamespace.RunInNamespaceOf(process.Id, () => ran = true));
            Assert.Contains($"its root ('/proc/{process.Id}/root') is not this process's root", error.Message);
            Assert.False(ran);
        }
        finally
        {
            process.Kill();
            process.WaitForExit();
            Directory.Delete(root, recursive: true);
        }
    }

    [RootFact]
    public void AMissingProcess_IsNamed()
    {
        var error = Assert.Throws<NamespaceNotFoundException>(() => MountNamespace.RunInNamespaceOf(int.MaxValue, () => 0));
        Assert.Contains($"/proc/{int.MaxValue}/ns/mnt", error.Message);
    }

    private static string Link(string path) => new FileInfo(path).LinkTarget!;

    private static List<string> OwnMounts() => [.. MountInfo.ReadSelf().Select(m => m.MountPoint)];

    private static void WaitForCommand(int pid, string command)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!File.Exists($"/proc/{pid}/comm") || File.ReadAllText($"/proc/{pid}/comm").Trim() != command)
        {
            Assert.True(DateTime.UtcNow < deadline, $"pid {pid} did not get to '{command}' within 10 s");
            Thread.Sleep(5);
        }
    }
}
