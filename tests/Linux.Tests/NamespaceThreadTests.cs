using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Linux.Tests;

/// <summary>
/// The namespace threads are reused, and only from home: after a function has moved its thread into another
/// network, UTS or mount namespace, the next function on that thread starts back in this process's namespaces, root
/// and working directory, and no thread of the process is left in the foreign ones.
/// </summary>
public sealed class NamespaceThreadTests : IDisposable
{
    private readonly Sandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [RootFact]
    public void AfterAFunctionInAnotherNetworkNamespace_TheThreadIsReused_FromThisProcesssNamespace()
    {
        var pin = _sandbox.PathOf("ns");
        PersistentNetworkNamespace.Create(pin);
        try
        {
            using var ns = NetworkNamespace.Open(pin);
            var inside = ns.Run(() => (Environment.CurrentManagedThreadId, Netns.CurrentThreadLink()));

            var after = NamespaceThread.Run(() => (Environment.CurrentManagedThreadId, Netns.CurrentThreadLink()));

            Assert.Equal($"net:[{ns.Id.Inode}]", inside.Item2);
            Assert.Equal(inside.Item1, after.Item1);
            Assert.Equal(Netns.Link("/proc/self/ns/net"), after.Item2);
            Assert.DoesNotContain($"net:[{ns.Id.Inode}]", Netns.ThreadLinks().Values);
        }
        finally
        {
            PersistentNetworkNamespace.Remove(pin);
        }
    }

    [RootFact]
    public void AfterAFunctionInAContainersMountAndUtsNamespaces_TheNextStartsInOurs_AtOurWorkingDirectory()
    {
        using var container = ContainerProcess.Start(network: false);
        var ours = (Mount: Netns.Link("/proc/self/ns/mnt"), Uts: Netns.Link("/proc/self/ns/uts"), Directory.GetCurrentDirectory());
        var theirs = (Mount: Netns.Link($"/proc/{container.Pid}/ns/mnt"), Uts: Netns.Link($"/proc/{container.Pid}/ns/uts"));

        var inside = MountNamespace.RunInNamespaceOf(container.Pid, () =>
        {
            ThreadNamespaces.JoinOnCurrentThread(container.Pid, ThreadNamespaces.Uts);
            return (Environment.CurrentManagedThreadId, Netns.Link("/proc/thread-self/ns/mnt"), Netns.Link("/proc/thread-self/ns/uts"));
        });
        var after = NamespaceThread.Run(() =>
            (Environment.CurrentManagedThreadId, Netns.Link("/proc/thread-self/ns/mnt"), Netns.Link("/proc/thread-self/ns/uts"), Directory.GetCurrentDirectory()));

        Assert.Equal((theirs.Mount, theirs.Uts), (inside.Item2, inside.Item3));
        Assert.Equal(inside.Item1, after.Item1);
        Assert.Equal(ours, (after.Item2, after.Item3, after.Item4));
    }

    [RootFact]
    public void AFailingFunction_ThrowsItsException_AndTheThreadStillComesHome()
    {
        var pin = _sandbox.PathOf("ns");
        PersistentNetworkNamespace.Create(pin);
        try
        {
            using var ns = NetworkNamespace.Open(pin);
            var failure = new InvalidOperationException("inside");

            var thrown = Assert.Throws<InvalidOperationException>(() => ns.Run<int>(() => throw failure));
            var after = NamespaceThread.Run(Netns.CurrentThreadLink);

            Assert.Same(failure, thrown);
            Assert.Equal(Netns.Link("/proc/self/ns/net"), after);
        }
        finally
        {
            PersistentNetworkNamespace.Remove(pin);
        }
    }

    [Fact]
    public void ConcurrentFunctions_EachGetAThreadOfTheirOwn()
    {
        using var gate = new Barrier(3);
        var threads = new int[3];

        Parallel.For(0, 3, new ParallelOptions { MaxDegreeOfParallelism = 3 }, i =>
            threads[i] = NamespaceThread.Run(() =>
            {
                // All three are inside at once, or the barrier times out.
                Assert.True(gate.SignalAndWait(TimeSpan.FromSeconds(10)));
                return Environment.CurrentManagedThreadId;
            }));

        Assert.Equal(3, threads.Distinct().Count());
    }
}
