using Xunit;

namespace NetIsolator.Linux.Tests;

/// <summary>The pure mountinfo parser, on sample lines.</summary>
public sealed class MountInfoTests
{
    [Fact]
    public void Parse_TheProcManPageExample()
    {
        var entry = MountInfo.Parse("36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue");

        Assert.Equal(36, entry.MountId);
        Assert.Equal(35, entry.ParentId);
        Assert.Equal(98u, entry.Major);
        Assert.Equal(0u, entry.Minor);
        Assert.Equal("/mnt1", entry.Root);
        Assert.Equal("/mnt/parent", entry.MountPoint);
        Assert.Equal("rw,noatime", entry.MountOptions);
        Assert.Equal(["master:1"], entry.OptionalFields);
        Assert.Equal("ext3", entry.FilesystemType);
        Assert.Equal("/dev/root", entry.Source);
        Assert.Equal("rw,errors=continue", entry.SuperOptions);
        Assert.Equal(1, entry.MasterPeerGroup);
        Assert.Null(entry.SharedPeerGroup);
        Assert.False(entry.IsShared);
    }

    [Fact]
    public void Parse_SeveralOptionalFields()
    {
        var entry = MountInfo.Parse("120 26 0:45 / /var/lib/x rw,relatime shared:12 master:3 propagate_from:2 - tmpfs tmpfs rw");
        Assert.Equal(["shared:12", "master:3", "propagate_from:2"], entry.OptionalFields);
        Assert.Equal(12, entry.SharedPeerGroup);
        Assert.Equal(3, entry.MasterPeerGroup);
        Assert.True(entry.IsShared);
    }

    [Fact]
    public void Parse_NoOptionalFields_AndANsfsPin()
    {
        var entry = MountInfo.Parse("41 26 0:4 net:[4026532176] /tmp/probe/ns rw - nsfs nsfs rw");
        Assert.Empty(entry.OptionalFields);
        Assert.Equal("net:[4026532176]", entry.Root);
        Assert.Equal("nsfs", entry.FilesystemType);
        Assert.Null(entry.SharedPeerGroup);
    }

    [Fact]
    public void Parse_UnescapesOctalEscapesInPaths()
    {
        var entry = MountInfo.Parse(@"50 26 8:1 /a\134b /mnt/with\040space\011tab\012nl rw shared:1 - ext4 /dev/my\040disk rw");
        Assert.Equal(@"/a\b", entry.Root);
        Assert.Equal("/mnt/with space\ttab\nnl", entry.MountPoint);
        Assert.Equal("/dev/my disk", entry.Source);
    }

    [Fact]
    public void Unescape_KeepsNonEscapesAndUtf8()
    {
        Assert.Equal(@"/x\9y", MountInfo.Unescape(@"/x\9y"));
        Assert.Equal(@"/end\04", MountInfo.Unescape(@"/end\04"));
        Assert.Equal("/ünï côdé", MountInfo.Unescape(@"/ünï\040côdé"));
        // Escaped bytes of a multi-byte character (the kernel escapes bytes, not characters).
        Assert.Equal("/é", MountInfo.Unescape(@"/\303\251"));
    }

    [Fact]
    public void ParseAll_SkipsEmptyLines_AndKeepsOrder()
    {
        var entries = MountInfo.ParseAll(
            "21 26 0:20 / /proc rw,relatime - proc proc rw\n26 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n\n");
        Assert.Equal(["/proc", "/"], entries.Select(e => e.MountPoint));
    }

    [Theory]
    [InlineData("")]
    [InlineData("36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 ext3 /dev/root rw")]
    [InlineData("36 35 98:0 /mnt1 /mnt/parent rw - ext3 /dev/root")]
    [InlineData("x 35 98:0 /mnt1 /mnt/parent rw - ext3 /dev/root rw")]
    [InlineData("36 35 98-0 /mnt1 /mnt/parent rw - ext3 /dev/root rw")]
    public void Parse_RejectsMalformedLines(string line)
    {
        var error = Assert.Throws<FormatException>(() => MountInfo.Parse(line));
        Assert.Contains($"'{line}'", error.Message);
    }

    [Fact]
    public void ReadSelf_ParsesThisProcessesMountinfo()
    {
        var entries = MountInfo.ReadSelf();
        Assert.Contains(entries, e => e.MountPoint == "/");
        Assert.Contains(entries, e => e.MountPoint == "/proc" && e.FilesystemType == "proc");
    }
}
