using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Linux.Tests;

/// <summary>
/// ProcSys against the real kernel: a write lands in the network namespace of the thread that makes it and nowhere
/// else, what is missing or read-only is skipped only when asked, and bad keys and values are refused with the file
/// named. Each test's namespace is a pin in its own sandbox; the machine's own values are only read.
/// </summary>
public sealed class ProcSysTests : IDisposable
{
    private const string PortRange = "net/ipv4/ip_local_port_range";
    private readonly Sandbox _sandbox = new();
    private readonly int _procMounts = ProcMounts();

    public void Dispose()
    {
        try
        {
            // The private procfs instance is a detached mount: it never shows in a mount table.
            Assert.Equal(_procMounts, ProcMounts());
        }
        finally
        {
            _sandbox.Dispose();
        }
    }

    [RootFact]
    public void Write_LandsInTheCallingThreadsNamespaceOnly()
    {
        var ours = File.ReadAllText("/proc/sys/" + PortRange);

        var (isPrivate, theirs) = InAFreshNamespace(() =>
        {
            using var procSys = ProcSys.Open();
            procSys.Write(PortRange, "40000 40100");
            return (procSys.IsPrivateInstance, File.ReadAllText("/proc/sys/" + PortRange));
        });

        Assert.True(isPrivate, "this kernel (>= 5.8) and glibc (>= 2.36) make private procfs instances");
        Assert.Equal("40000\t40100\n", theirs);
        Assert.Equal(ours, File.ReadAllText("/proc/sys/" + PortRange));
    }

    [RootFact]
    public void AMissingKnob_IsSkippedByTryWrite_AndNamedByWrite()
    {
        var (skipped, error) = InAFreshNamespace(() =>
        {
            using var procSys = ProcSys.Open();
            return (!procSys.TryWrite("net/ipv4/conf/nosuchlink0/rp_filter", "0"),
                Record.Exception(() => procSys.Write("net/ipv4/conf/nosuchlink0/rp_filter", "0")));
        });

        Assert.True(skipped);
        var linux = Assert.IsType<LinuxException>(error);
        Assert.Equal(Errno.ENOENT, linux.Errno);
        Assert.Contains("'/proc/sys/net/ipv4/conf/nosuchlink0/rp_filter'", linux.Message, StringComparison.Ordinal);
    }

    [RootFact]
    public void AValueTheKernelRefuses_IsAnErrorNamingTheValueAndTheFile_EvenForTryWrite()
    {
        var error = Assert.IsType<LinuxException>(InAFreshNamespace(() =>
        {
            using var procSys = ProcSys.Open();
            return Record.Exception(() => procSys.TryWrite(PortRange, "not a range"));
        }));

        Assert.Equal(Errno.EINVAL, error.Errno);
        Assert.Contains("write 'not a range' to sysctl '/proc/sys/net/ipv4/ip_local_port_range'", error.Message, StringComparison.Ordinal);
    }

    [RootFact]
    public void Dispose_LeavesNoDescriptorBehind()
    {
        var (before, after) = InAFreshNamespace(() =>
        {
            void WriteOnce()
            {
                using var procSys = ProcSys.Open();
                procSys.Write(PortRange, "40000 40100");
            }

            WriteOnce();
            var before = OpenDescriptors();
            for (var i = 0; i < 20; i++)
            {
                WriteOnce();
            }

            return (before, OpenDescriptors());
        });

        Assert.Equal(before, after);
    }

    [Theory]
    [InlineData("/etc/passwd")]
    [InlineData("net/../../../etc/passwd")]
    [InlineData("net//ipv4")]
    [InlineData("net/ipv4/./ip_forward")]
    [InlineData("")]
    public void KeysThatLeaveProcSys_AreRefusedBeforeAnyOpen(string key)
    {
        using var procSys = ProcSys.Open();

        Assert.ThrowsAny<ArgumentException>(() => procSys.Write(key, "1"));
    }

    /// <summary>Runs <paramref name="action"/> on a thread inside a new network namespace, pinned in the sandbox meanwhile.</summary>
    private T InAFreshNamespace<T>(Func<T> action)
    {
        var pin = _sandbox.PathOf("ns");
        PersistentNetworkNamespace.Create(pin);
        try
        {
            using var ns = NetworkNamespace.Open(pin);
            return ns.Run(action);
        }
        finally
        {
            PersistentNetworkNamespace.Remove(pin);
        }
    }

    private static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;

    private static int ProcMounts() => MountInfo.ReadSelf().Count(m => m.FilesystemType == "proc");
}
