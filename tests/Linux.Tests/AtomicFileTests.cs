using Xunit;

namespace NetIsolator.Linux.Tests;

/// <summary>
/// AtomicFile on the real file system: a new file, a replaced one (exchanged with the temporary file, whose name is
/// then gone), the mode whatever the umask, and the refusals a rename would give, with nothing left behind.
/// </summary>
public sealed class AtomicFileTests : IDisposable
{
    private const UnixFileMode ReadWriteForAll = (UnixFileMode)0b110_110_110;
    private readonly string _dir = Directory.CreateTempSubdirectory("netiso-atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(Durability.ProcessCrash)]
    [InlineData(Durability.PowerLoss)]
    public void Write_CreatesTheFile_WithItsModeDespiteTheUmask(Durability durability)
    {
        var path = Path.Join(_dir, "state.json");

        AtomicFile.Write(path, "{\"a\":1}"u8, ReadWriteForAll, durability);

        Assert.Equal("{\"a\":1}", File.ReadAllText(path));
        // The test host's umask (022 or stricter) would have taken the group and other write bits.
        Assert.Equal(ReadWriteForAll, File.GetUnixFileMode(path));
        Assert.Equal(["state.json"], Listing());
    }

    [Theory]
    [InlineData(Durability.ProcessCrash)]
    [InlineData(Durability.PowerLoss)]
    public void Write_OverAnExistingFile_ReplacesItsInode_AndLeavesNoTemporary(Durability durability)
    {
        var path = Path.Join(_dir, "state.json");
        AtomicFile.Write(path, "old contents, longer than the new"u8, UnixFileMode.UserRead | UnixFileMode.UserWrite, durability);
        using var reader = new FileStream(path, FileMode.Open, FileAccess.Read);

        AtomicFile.Write(path, "new"u8, UnixFileMode.UserRead | UnixFileMode.UserWrite, durability);

        Assert.Equal("new", File.ReadAllText(path));
        // A reader that opened the old file still sees it whole: it was replaced, never rewritten.
        Assert.Equal("old contents, longer than the new", new StreamReader(reader).ReadToEnd());
        Assert.Equal(["state.json"], Listing());
    }

    [Fact]
    public void Write_OverADirectory_FailsAsARenameWould_AndKeepsTheDirectory()
    {
        var path = Path.Join(_dir, "resolv.conf");
        Directory.CreateDirectory(Path.Join(path, "child"));

        var e = Assert.Throws<LinuxException>(() => AtomicFile.Write(path, "x"u8, ReadWriteForAll, Durability.ProcessCrash));

        Assert.Equal(Errno.EISDIR, e.Errno);
        Assert.Contains(path, e.Message);
        Assert.True(Directory.Exists(Path.Join(path, "child")));
        Assert.Equal(["resolv.conf"], Listing());
    }

    [Fact]
    public void Write_IntoAMissingDirectory_NamesTheFileAndTheStep()
    {
        var path = Path.Join(_dir, "missing", "state.json");

        var e = Assert.Throws<LinuxException>(() => AtomicFile.Write(path, "x"u8, ReadWriteForAll, Durability.ProcessCrash));

        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.StartsWith("creating '" + Path.Join(_dir, "missing", ".state.json.tmp-"), e.Message);
        Assert.Empty(Listing());
    }

    [Fact]
    public void CreateNew_WritesTheFileInPlace_WithItsMode_AndRefusesAnExistingOne()
    {
        var path = Path.Join(_dir, "hosts");

        AtomicFile.CreateNew(path, "127.0.0.1 localhost\n"u8, ReadWriteForAll, Durability.PowerLoss);
        var again = Assert.Throws<LinuxException>(() => AtomicFile.CreateNew(path, "x"u8, ReadWriteForAll, Durability.ProcessCrash));

        Assert.Equal("127.0.0.1 localhost\n", File.ReadAllText(path));
        Assert.Equal(ReadWriteForAll, File.GetUnixFileMode(path));
        Assert.Equal(Errno.EEXIST, again.Errno);
        Assert.Contains(path, again.Message);
        Assert.Equal(["hosts"], Listing());
    }

    private List<string> Listing() =>
        [.. Directory.EnumerateFileSystemEntries(_dir).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal)];
}
