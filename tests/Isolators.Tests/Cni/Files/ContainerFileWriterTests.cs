using NetIsolator.Isolators.Cni;
using Xunit;

namespace NetIsolator.Isolators.Tests.Cni.Files;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ContainerFileWriterTests : IDisposable
{
    private readonly string _root = Path.Join(Path.GetTempPath(), "cni-files-" + Guid.NewGuid().ToString("N"));

    private string Dir => Path.Join(_root, "container");

    private static readonly ContainerNetworkFiles Files =
        new("c1", "127.0.0.1 localhost\n10.0.0.5 c1\n", "nameserver 1.1.1.1\n");

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private string[] Listing() =>
        Directory.EnumerateFileSystemEntries(Dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public void WritesExactBytesAndLeavesNoTemporaries()
    {
        ContainerFileWriter.Write(Dir, Files);

        Assert.Equal(["hostname", "hosts", "resolv.conf"], Listing());
        Assert.Equal("c1"u8.ToArray(), File.ReadAllBytes(Path.Join(Dir, "hostname")));
        Assert.Equal("127.0.0.1 localhost\n10.0.0.5 c1\n", File.ReadAllText(Path.Join(Dir, "hosts")));
        Assert.Equal("nameserver 1.1.1.1\n", File.ReadAllText(Path.Join(Dir, "resolv.conf")));
    }

    [Fact]
    public void FilesAreWorldReadableWhateverTheUmask()
    {
        ContainerFileWriter.Write(Dir, Files);
        foreach (var name in new[] { "hostname", "hosts", "resolv.conf" })
        {
            Assert.Equal(
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                File.GetUnixFileMode(Path.Join(Dir, name)));
        }
    }

    [Fact]
    public void NoResolvConfWhenNoneIsGiven()
    {
        ContainerFileWriter.Write(Dir, Files with { ResolvConf = null });
        Assert.Equal(["hostname", "hosts"], Listing());
    }

    [Fact]
    public void RepeatedWriteIsANoOpThatKeepsTheSameFiles()
    {
        ContainerFileWriter.Write(Dir, Files);
        var hosts = Path.Join(Dir, "hosts");
        var inode = Inode(hosts);
        var written = File.GetLastWriteTimeUtc(hosts);

        ContainerFileWriter.Write(Dir, Files);

        Assert.Equal(["hostname", "hosts", "resolv.conf"], Listing());
        Assert.Equal(inode, Inode(hosts)); // not replaced: a bind mount of it stays current
        Assert.Equal(written, File.GetLastWriteTimeUtc(hosts));
        Assert.Equal("127.0.0.1 localhost\n10.0.0.5 c1\n", File.ReadAllText(hosts));
    }

    [Fact]
    public void ChangedContentReplacesTheFileByRename()
    {
        ContainerFileWriter.Write(Dir, Files);
        var hosts = Path.Join(Dir, "hosts");
        var inode = Inode(hosts);

        ContainerFileWriter.Write(Dir, Files with { Hosts = "127.0.0.1 localhost\n10.0.0.6 c1\n" });

        Assert.Equal("127.0.0.1 localhost\n10.0.0.6 c1\n", File.ReadAllText(hosts));
        Assert.NotEqual(inode, Inode(hosts)); // a new inode: renamed over, never rewritten in place
        Assert.Equal(["hostname", "hosts", "resolv.conf"], Listing());
    }

    [Fact]
    public void ShorterContentLeavesNoTail()
    {
        ContainerFileWriter.Write(Dir, Files with { Hostname = "a-much-longer-hostname" });
        ContainerFileWriter.Write(Dir, Files);
        Assert.Equal("c1", File.ReadAllText(Path.Join(Dir, "hostname")));
    }

    [Fact]
    public void StaleResolvConfIsRemovedWhenNoNameserverIsKnownAnyMore()
    {
        ContainerFileWriter.Write(Dir, Files);
        ContainerFileWriter.Write(Dir, Files with { ResolvConf = null });
        Assert.Equal(["hostname", "hosts"], Listing());
    }

    [Fact]
    public void WrongModeIsRepaired()
    {
        ContainerFileWriter.Write(Dir, Files);
        var hosts = Path.Join(Dir, "hosts");
        File.SetUnixFileMode(hosts, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        ContainerFileWriter.Write(Dir, Files);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            File.GetUnixFileMode(hosts));
    }

    [Fact]
    public void TemporariesLeftByACrashAreRemovedButOtherFilesAreKept()
    {
        Directory.CreateDirectory(Path.Join(Dir, "net1", "eth0"));
        File.WriteAllText(Path.Join(Dir, ".hosts.tmp-0123456789abcdef"), "partial");
        File.WriteAllText(Path.Join(Dir, ".resolv.conf.tmp-deadbeef"), "partial");
        File.WriteAllText(Path.Join(Dir, "ns"), "");

        ContainerFileWriter.Write(Dir, Files);

        Assert.Equal(["hostname", "hosts", "net1", "ns", "resolv.conf"], Listing());
    }

    [Fact]
    public void AFailedWriteLeavesNoTemporaryAndKeepsTheOldFile()
    {
        ContainerFileWriter.Write(Dir, Files);
        // A directory where resolv.conf should go: the rename over it must fail.
        File.Delete(Path.Join(Dir, "resolv.conf"));
        Directory.CreateDirectory(Path.Join(Dir, "resolv.conf", "child"));

        Assert.ThrowsAny<IOException>(() => ContainerFileWriter.Write(Dir, Files with { Hosts = "127.0.0.1 localhost\n" }));

        Assert.Equal(["hostname", "hosts", "resolv.conf"], Listing());
        Assert.True(Directory.Exists(Path.Join(Dir, "resolv.conf")));
        Assert.Equal("127.0.0.1 localhost\n", File.ReadAllText(Path.Join(Dir, "hosts")));
    }

    [Fact]
    public void CreatesTheContainerDirectory()
    {
        Assert.False(Directory.Exists(Dir));
        ContainerFileWriter.Write(Dir, Files);
        Assert.True(Directory.Exists(Dir));
    }

    private static long Inode(string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i", path])
        {
            RedirectStandardOutput = true,
        })!;
        var output = stat.StandardOutput.ReadToEnd();
        stat.WaitForExit();
        Assert.Equal(0, stat.ExitCode);
        return long.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
