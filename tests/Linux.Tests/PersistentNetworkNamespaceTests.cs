using System.Diagnostics;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Linux.Tests;

/// <summary>Pinned namespaces, created and removed under a sandbox of each test's own. Never touches the host's netns.</summary>
public sealed class PersistentNetworkNamespaceTests : IDisposable
{
    private readonly Sandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [RootFact]
    public void Create_PinsAnNsfsMount_ThatOpensAndHoldsAFreshNamespaceWithOnlyLoopback()
    {
        var pin = _sandbox.PathOf("ns");
        var outside = Netns.CurrentThreadLink();

        PersistentNetworkNamespace.Create(pin);

        var mount = Assert.Single(MountInfo.ReadSelf(), m => m.MountPoint == pin);
        Assert.Equal("nsfs", mount.FilesystemType);
        Assert.True(PersistentNetworkNamespace.IsPinned(pin));
        using (var ns = NetworkNamespace.Open(pin))
        {
            Assert.Equal(pin, ns.Path);
            var (inside, interfaces) = ns.Run(() => (Netns.CurrentThreadLink(), Netns.CurrentThreadInterfaces()));
            Assert.NotEqual(outside, inside);
            Assert.Equal($"net:[{ns.Id.Inode}]", inside);
            Assert.Equal(["lo"], interfaces);
        }
        Assert.True(PersistentNetworkNamespace.Remove(pin));
    }

    [RootFact]
    public void StartProcess_StartsTheChildInTheNamespace_AndTheCallingThreadIsBackInItsOwn()
    {
        var pin = _sandbox.PathOf("ns");
        PersistentNetworkNamespace.Create(pin);
        try
        {
            var before = Netns.CurrentThreadLink();
            using var ns = NetworkNamespace.Open(pin);

            using var child = ns.StartProcess(new ProcessStartInfo("readlink", ["/proc/self/ns/net"]) { RedirectStandardOutput = true });
            var seen = child.StandardOutput.ReadToEnd().Trim();
            Assert.True(child.WaitForExit(10_000));

            Assert.Equal($"net:[{ns.Id.Inode}]", seen);
            Assert.Equal(before, Netns.CurrentThreadLink());
            Assert.DoesNotContain(seen, Netns.ThreadLinks().Values);
        }
        finally
        {
            PersistentNetworkNamespace.Remove(pin);
        }
    }

    [RootFact]
    public void StartProcess_OfAMissingProgram_ThrowsAndLeavesTheCallingThreadInItsOwnNamespace()
    {
        var pin = _sandbox.PathOf("ns");
        PersistentNetworkNamespace.Create(pin);
        try
        {
            var before = Netns.CurrentThreadLink();
            using var ns = NetworkNamespace.Open(pin);

            Assert.ThrowsAny<System.ComponentModel.Win32Exception>(() => ns.StartProcess(new ProcessStartInfo(_sandbox.PathOf("no-such-program"))));

            Assert.Equal(before, Netns.CurrentThreadLink());
        }
        finally
        {
            PersistentNetworkNamespace.Remove(pin);
        }
    }

    [RootFact]
    public void Run_LeavesTheCallingThreadInItsNamespace_AndUsesAnotherThread()
    {
        var pin = _sandbox.PathOf("ns");
        PersistentNetworkNamespace.Create(pin);
        try
        {
            var before = Netns.CurrentThreadLink();
            var callerThread = Environment.CurrentManagedThreadId;
            using var ns = NetworkNamespace.Open(pin);

            var (thread, isPoolThread) = ns.Run(() => (Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread));

            Assert.Equal(before, Netns.CurrentThreadLink());
            Assert.NotEqual(callerThread, thread);
            Assert.False(isPoolThread);
            Assert.Equal(before, Netns.CurrentThreadLink());
        }
        finally
        {
            PersistentNetworkNamespace.Remove(pin);
        }
    }

    [RootFact]
    public void Run_AProcessStartedInside_RunsInThePinnedNamespace_AndNoThreadOfOursStaysThere()
    {
        var pin = _sandbox.PathOf("ns");
        PersistentNetworkNamespace.Create(pin);
        try
        {
            using var ns = NetworkNamespace.Open(pin);
            var hostLinks = Netns.ThreadLinks().Values.ToHashSet();

            // Start inside, read and wait outside: only the fork needs the namespace.
            using var readlink = ns.Run(() => Process.Start(Start("/bin/readlink", "/proc/self/ns/net"))!);
            using var cat = ns.Run(() => Process.Start(Start("/bin/cat", "/proc/self/net/dev"))!);
            var link = readlink.StandardOutput.ReadToEnd().Trim();
            var netDev = cat.StandardOutput.ReadToEnd();
            readlink.WaitForExit();
            cat.WaitForExit();

            Assert.Equal(0, readlink.ExitCode);
            Assert.Equal($"net:[{ns.Id.Inode}]", link);
            Assert.Equal(["lo"], Netns.InterfacesIn(netDev));
            var inPin = Netns.ThreadLinks().Where(t => t.Value == link)
                .Select(t => t.Key + " " + File.ReadAllText($"/proc/self/task/{t.Key}/comm").Trim()).ToList();
            Assert.Empty(inPin);
            Assert.Subset(hostLinks, Netns.ThreadLinks().Values.ToHashSet());
        }
        finally
        {
            PersistentNetworkNamespace.Remove(pin);
        }

        static ProcessStartInfo Start(string file, string argument) =>
            new(file, [argument]) { RedirectStandardOutput = true, UseShellExecute = false };
    }

    [RootFact]
    public void Run_ReturnsTheResult_AndRethrowsTheActionsException()
    {
        var pin = _sandbox.PathOf("ns");
        PersistentNetworkNamespace.Create(pin);
        try
        {
            using var ns = NetworkNamespace.Open(pin);
            Assert.Equal(42, ns.Run(() => 42));
            var ran = false;
            ns.Run(() => { ran = true; });
            Assert.True(ran);
            var thrown = Assert.Throws<InvalidOperationException>(() => ns.Run(() => throw new InvalidOperationException("boom")));
            Assert.Equal("boom", thrown.Message);
            Assert.Throws<InvalidOperationException>(() => ns.Run(new Action(() => throw new InvalidOperationException("boom"))));
        }
        finally
        {
            PersistentNetworkNamespace.Remove(pin);
        }
    }

    [RootFact]
    public void Run_AfterDispose_Throws()
    {
        var pin = _sandbox.PathOf("ns");
        PersistentNetworkNamespace.Create(pin);
        var ns = NetworkNamespace.Open(pin);
        ns.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ns.Run(() => 1));
        Assert.True(PersistentNetworkNamespace.Remove(pin));
    }

    [RootFact]
    public void Remove_UnmountsAndDeletes_AndIsIdempotent()
    {
        var pin = _sandbox.PathOf("ns");
        PersistentNetworkNamespace.Create(pin);

        Assert.True(PersistentNetworkNamespace.Remove(pin));
        Assert.DoesNotContain(MountInfo.ReadSelf(), m => m.MountPoint == pin);
        Assert.False(File.Exists(pin));
        Assert.False(PersistentNetworkNamespace.IsPinned(pin));

        Assert.False(PersistentNetworkNamespace.Remove(pin));
        Assert.False(PersistentNetworkNamespace.Remove(_sandbox.PathOf("never-created")));
        Assert.False(PersistentNetworkNamespace.Remove(_sandbox.PathOf("no-such-dir/ns")));
    }

    [RootFact]
    public void AnOpenHandle_KeepsTheNamespaceUsable_AfterThePinIsRemoved()
    {
        var pin = _sandbox.PathOf("ns");
        PersistentNetworkNamespace.Create(pin);
        using var ns = NetworkNamespace.Open(pin);
        Assert.True(PersistentNetworkNamespace.Remove(pin));

        Assert.Equal(ns.Id.ToString(), ns.Run(Netns.CurrentThreadLink));
        Assert.Throws<NamespaceNotFoundException>(() => NetworkNamespace.Open(pin));
    }

    [RootFact]
    public void FindPins_ListsTheNsfsMountsBelowADirectory()
    {
        var a = _sandbox.PathOf("a/ns");
        var b = _sandbox.PathOf("b/ns");
        PersistentNetworkNamespace.Create(a);
        PersistentNetworkNamespace.Create(b);
        File.WriteAllText(_sandbox.PathOf("a/plain"), "");

        Assert.Equal([a, b], PersistentNetworkNamespace.FindPins(_sandbox.Root).Order(StringComparer.Ordinal));
        Assert.Equal([a], PersistentNetworkNamespace.FindPins(_sandbox.PathOf("a")));

        PersistentNetworkNamespace.Remove(a);
        PersistentNetworkNamespace.Remove(b);
        Assert.Empty(PersistentNetworkNamespace.FindPins(_sandbox.Root));
        Directory.Delete(_sandbox.PathOf("a"), recursive: true);
        Directory.Delete(_sandbox.PathOf("b"));
    }

    [RootFact]
    public void Remove_OfAPlainFile_DeletesIt()
    {
        // An old pin after a reboot: the file is there, the mount is not.
        var pin = _sandbox.PathOf("ns");
        File.WriteAllText(pin, "");
        Assert.False(PersistentNetworkNamespace.IsPinned(pin));
        Assert.True(PersistentNetworkNamespace.Remove(pin));
        Assert.False(File.Exists(pin));
    }

    [RootFact]
    public void Remove_PeelsOffStackedMounts()
    {
        var pin = _sandbox.PathOf("ns");
        var other = _sandbox.PathOf("other");
        PersistentNetworkNamespace.Create(pin);
        PersistentNetworkNamespace.Create(other);
        // A second namespace mounted over the first pin.
        Assert.Equal(0, Interop.Libc.mount(other, pin, null, Interop.Libc.MS_BIND, 0));
        Assert.Equal(2, MountInfo.ReadSelf().Count(m => m.MountPoint == pin));

        Assert.True(PersistentNetworkNamespace.Remove(pin));
        Assert.True(PersistentNetworkNamespace.Remove(other));
        Assert.Equal(0, _sandbox.NsfsMounts());
    }

    [RootFact]
    public void Create_MakesMissingParentDirectories()
    {
        var pin = _sandbox.PathOf("a/b/ns");
        PersistentNetworkNamespace.Create(pin);
        Assert.True(PersistentNetworkNamespace.IsPinned(pin));
        Assert.True(PersistentNetworkNamespace.Remove(pin));
        Directory.Delete(_sandbox.PathOf("a"), recursive: true);
    }

    [RootFact]
    public void Create_OverAnExistingPin_FailsWithEEXIST_AndLeavesThePinAlone()
    {
        var pin = _sandbox.PathOf("ns");
        PersistentNetworkNamespace.Create(pin);
        using var before = NetworkNamespace.Open(pin);

        var error = Assert.Throws<LinuxException>(() => PersistentNetworkNamespace.Create(pin));

        Assert.Equal(Errno.EEXIST, error.Errno);
        Assert.Equal(pin, error.Path);
        Assert.Contains($"'{pin}'", error.Message);
        using (var after = NetworkNamespace.Open(pin))
        {
            Assert.Equal(before.Id, after.Id);
        }
        Assert.True(PersistentNetworkNamespace.Remove(pin));
    }

    [RootFact]
    public void Create_OverAPlainFile_FailsWithEEXIST_AndKeepsTheFile()
    {
        var pin = _sandbox.PathOf("ns");
        File.WriteAllText(pin, "keep");
        var error = Assert.Throws<LinuxException>(() => PersistentNetworkNamespace.Create(pin));
        Assert.Equal(Errno.EEXIST, error.Errno);
        Assert.Equal("keep", File.ReadAllText(pin));
        File.Delete(pin);
    }

    [RootFact]
    public void Create_UnderARegularFile_FailsClearly_AndLeavesNothing()
    {
        var file = _sandbox.PathOf("file");
        File.WriteAllText(file, "");
        var pin = Path.Combine(file, "sub/ns");

        var error = Assert.Throws<LinuxException>(() => PersistentNetworkNamespace.Create(pin));

        Assert.Equal(Errno.ENOTDIR, error.Errno);
        Assert.Contains("ENOTDIR", error.Message);
        Assert.Equal([file], _sandbox.Entries());
        File.Delete(file);
    }

    [RootFact]
    public void Create_FailingAfterMakingDirectories_RemovesThem()
    {
        // The directories can be made, the file cannot (name too long): the directories must go again.
        var pin = _sandbox.PathOf("made/by/create/" + new string('n', 300));

        var error = Assert.Throws<LinuxException>(() => PersistentNetworkNamespace.Create(pin));

        Assert.Equal(Errno.ENAMETOOLONG, error.Errno);
        Assert.Empty(_sandbox.Entries());
    }

    [RootFact]
    public void Create_FailingAtTheMount_RemovesTheFileAndDirectories()
    {
        var pin = _sandbox.PathOf("made/ns");

        var error = Assert.Throws<LinuxException>(() => PersistentNetworkNamespace.Create(pin, _sandbox.PathOf("no-such-source")));

        Assert.Equal(Errno.ENOENT, error.Errno);
        Assert.StartsWith("bind-mount ", error.Operation);
        Assert.Empty(_sandbox.Entries());
    }

    [RootFact]
    public void Create_WhoseMountIsNotANamespace_UnmountsAndRemovesEverything()
    {
        // The bind succeeds but the result reads as the source's filesystem, like a corrupted pin (sriov-cni#447).
        var source = _sandbox.PathOf("plain");
        File.WriteAllText(source, "");
        var pin = _sandbox.PathOf("made/ns");

        var error = Assert.Throws<NotANamespaceException>(() => PersistentNetworkNamespace.Create(pin, source));

        Assert.Equal(pin, error.Path);
        Assert.Empty(_sandbox.Mounts());
        Assert.Equal([source], _sandbox.Entries());
        File.Delete(source);
    }

    [RootFact]
    public void HundredCreateRemoveCycles_LeaveNoMountAndNoFile()
    {
        var pin = _sandbox.PathOf("cycle/ns");
        var inodes = new HashSet<ulong>();
        for (var i = 0; i < 100; i++)
        {
            PersistentNetworkNamespace.Create(pin);
            using (var ns = NetworkNamespace.Open(pin))
            {
                inodes.Add(ns.Id.Inode);
            }
            Assert.True(PersistentNetworkNamespace.Remove(pin));
        }
        Assert.Equal(0, _sandbox.NsfsMounts());
        Assert.Equal([_sandbox.PathOf("cycle")], _sandbox.Entries());
        Directory.Delete(_sandbox.PathOf("cycle"));
        Assert.True(inodes.Count > 1, "each cycle should get a new namespace");
    }

    [RootFact]
    public void SixteenConcurrentCreateRunRemove_WorkAndLeakNothing()
    {
        const int Count = 16;
        var outside = Netns.CurrentThreadLink();
        var results = new string[Count];
        var errors = new Exception?[Count];
        using var start = new Barrier(Count);
        var threads = Enumerable.Range(0, Count).Select(i => new Thread(() =>
        {
            try
            {
                var pin = _sandbox.PathOf($"c{i}/ns");
                start.SignalAndWait(TimeSpan.FromSeconds(30));
                PersistentNetworkNamespace.Create(pin);
                using (var ns = NetworkNamespace.Open(pin))
                {
                    results[i] = ns.Run(() =>
                        Netns.CurrentThreadLink() + " " + string.Join(",", Netns.CurrentThreadInterfaces()));
                }
                PersistentNetworkNamespace.Remove(pin);
                Directory.Delete(Path.GetDirectoryName(pin)!);
            }
            catch (Exception e)
            {
                errors[i] = e;
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromSeconds(60))));

        Assert.All(errors, Assert.Null);
        Assert.All(results, r => Assert.EndsWith(" lo", r));
        Assert.Equal(Count, results.Distinct().Count());
        Assert.DoesNotContain(results, r => r.StartsWith(outside + " ", StringComparison.Ordinal));
        Assert.Equal(0, _sandbox.NsfsMounts());
    }
}
