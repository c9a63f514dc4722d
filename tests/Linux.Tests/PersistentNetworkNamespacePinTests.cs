using System.Diagnostics;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Linux.Tests;

/// <summary>
/// <see cref="PersistentNetworkNamespace.Pin"/>: pinning the namespace of a real process (started with
/// <c>unshare --net</c>, so never the host's), under a sandbox of each test's own.
/// </summary>
public sealed class PersistentNetworkNamespacePinTests : IDisposable
{
    private readonly Sandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [RootFact]
    public void Pin_HoldsTheProcessNamespace_EvenAfterTheProcessIsGone()
    {
        var pin = _sandbox.PathOf("cid/ns");
        string procPath;
        NamespaceId id;
        using (var process = UnsharedProcess.Start())
        {
            procPath = $"/proc/{process.Pid}/ns/net";
            id = PersistentNetworkNamespace.Pin(procPath, pin);

            Assert.Equal(Netns.Link(procPath), id.ToString());
            Assert.NotEqual(Netns.Link("/proc/self/ns/net"), id.ToString());
            var mount = Assert.Single(MountInfo.ReadSelf(), m => m.MountPoint == pin);
            Assert.Equal("nsfs", mount.FilesystemType);
            Assert.True(PersistentNetworkNamespace.IsPinned(pin));
        }

        // The process is dead and reaped: the pin alone keeps the namespace.
        Assert.False(File.Exists(procPath));
        using (var ns = NetworkNamespace.Open(pin))
        {
            Assert.Equal(id, ns.Id);
            Assert.Equal(id.ToString(), ns.Run(Netns.CurrentThreadLink));
            Assert.Equal(["lo"], ns.Run(Netns.CurrentThreadInterfaces));
        }

        Assert.True(PersistentNetworkNamespace.Remove(pin));
        Assert.False(PersistentNetworkNamespace.IsPinned(pin));
        Directory.Delete(_sandbox.PathOf("cid"));
    }

    [RootFact]
    public void Pin_OfAnotherPin_IsTheSameNamespace()
    {
        var first = _sandbox.PathOf("first");
        var second = _sandbox.PathOf("second");
        PersistentNetworkNamespace.Create(first);
        using var original = NetworkNamespace.Open(first);

        Assert.Equal(original.Id, PersistentNetworkNamespace.Pin(first, second));

        Assert.True(PersistentNetworkNamespace.Remove(first));
        using (var ns = NetworkNamespace.Open(second))
        {
            Assert.Equal(original.Id, ns.Id);
        }
        Assert.True(PersistentNetworkNamespace.Remove(second));
    }

    [RootFact]
    public void Pin_OfAMissingSource_FailsAndCreatesNothing()
    {
        var error = Assert.Throws<NamespaceNotFoundException>(
            () => PersistentNetworkNamespace.Pin("/proc/999999999/ns/net", _sandbox.PathOf("made/ns")));
        Assert.Contains("/proc/999999999/ns/net", error.Message);
        Assert.Empty(_sandbox.Entries());
    }

    [RootFact]
    public void Pin_OfANonNetworkNamespace_FailsAndCreatesNothing()
    {
        Assert.Throws<NotANamespaceException>(
            () => PersistentNetworkNamespace.Pin("/proc/self/ns/uts", _sandbox.PathOf("made/ns")));
        Assert.Empty(_sandbox.Entries());
    }

    [RootFact]
    public void Pin_OfAPlainFile_FailsAndCreatesNothing()
    {
        var source = _sandbox.PathOf("plain");
        File.WriteAllText(source, "");
        Assert.Throws<NotANamespaceException>(() => PersistentNetworkNamespace.Pin(source, _sandbox.PathOf("made/ns")));
        Assert.Equal([source], _sandbox.Entries());
        File.Delete(source);
    }

    [RootFact]
    public void Pin_OverAnExistingPath_FailsWithEEXIST_AndLeavesItAlone()
    {
        var pin = _sandbox.PathOf("ns");
        File.WriteAllText(pin, "keep");

        var error = Assert.Throws<LinuxException>(() => PersistentNetworkNamespace.Pin("/proc/self/ns/net", pin));

        Assert.Equal(Errno.EEXIST, error.Errno);
        Assert.Equal("keep", File.ReadAllText(pin));
        Assert.Empty(_sandbox.Mounts());
        File.Delete(pin);
    }

    [RootFact]
    public void Pin_FailingAfterMakingDirectories_RemovesThem()
    {
        var pin = _sandbox.PathOf("made/by/pin/" + new string('n', 300));
        var error = Assert.Throws<LinuxException>(() => PersistentNetworkNamespace.Pin("/proc/self/ns/net", pin));
        Assert.Equal(Errno.ENAMETOOLONG, error.Errno);
        Assert.Empty(_sandbox.Entries());
    }

    [RootFact]
    public void Pin_ThenRemove_FiftyTimes_LeavesNoMountAndNoFile()
    {
        using var process = UnsharedProcess.Start();
        var pin = _sandbox.PathOf("cycle/ns");
        for (var i = 0; i < 50; i++)
        {
            PersistentNetworkNamespace.Pin($"/proc/{process.Pid}/ns/net", pin);
            Assert.True(PersistentNetworkNamespace.Remove(pin));
        }
        Assert.Empty(_sandbox.Mounts());
        Directory.Delete(_sandbox.PathOf("cycle"));
    }

    /// <summary>A <c>sleep</c> in a network namespace of its own; killed and reaped on dispose.</summary>
    private sealed class UnsharedProcess : IDisposable
    {
        private readonly Process _process;

        private UnsharedProcess(Process process) => _process = process;

        public int Pid => _process.Id;

        public static UnsharedProcess Start()
        {
            var process = Process.Start(new ProcessStartInfo("unshare", ["--net", "sleep", "60"]))!;
            var self = Netns.Link("/proc/self/ns/net");
            var deadline = DateTime.UtcNow.AddSeconds(10);
            // unshare(1) enters the new namespace just before it execs sleep: wait until it has.
            while (Netns.Link($"/proc/{process.Id}/ns/net") == self)
            {
                if (DateTime.UtcNow > deadline)
                {
                    process.Kill();
                    throw new TimeoutException("unshare --net did not enter a new network namespace");
                }
                Thread.Sleep(10);
            }
            return new UnsharedProcess(process);
        }

        public void Dispose()
        {
            _process.Kill();
            _process.WaitForExit();
            _process.Dispose();
        }
    }
}
