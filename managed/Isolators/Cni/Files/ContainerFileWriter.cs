using System.Runtime.Versioning;
using System.Text;
using NetIsolator.Linux;

namespace NetIsolator.Isolators.Cni;

/// <summary>
/// Writes a container's <see cref="ContainerNetworkFiles"/> under its container directory (<c>ROOT/&lt;CID&gt;</c>),
/// each existing file replaced atomically (see <see cref="AtomicFile"/>): a temporary file in the same directory,
/// given mode 0644, takes the target's place. A reader (or a crash) sees the old file or the new one, never a part.
/// A file that does not exist yet is created in place: nothing can be relying on it, and a part a crash leaves is
/// replaced whole by the next call.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Idempotent: a file that already holds the wanted bytes is left alone (same inode, so a bind mount of it stays
/// current), and a repeated call changes nothing.</item>
/// <item>With <see cref="ContainerNetworkFiles.ResolvConf"/> null, a <c>resolv.conf</c> left by an earlier call is
/// removed: its existence is what tells users of the directory (a nested container joining this one) to use it
/// instead of the host's.</item>
/// <item>Modes are set explicitly, not through the umask: the files are bind-mounted into containers whose users are
/// rarely root, and an agent started with umask 077 would otherwise hide the resolver configuration from them.</item>
/// <item>Temporary files are named <c>.&lt;file&gt;.tmp-&lt;random&gt;</c>; ones a crash left behind are removed
/// by the next call that replaces files (an in-place rewrite makes none). Recovery only looks at directories under <c>ROOT/&lt;CID&gt;</c>, so they never confuse it.</item>
/// </list>
/// </remarks>
public static class ContainerFileWriter
{
    public const string HostnameFileName = "hostname";
    public const string HostsFileName = "hosts";
    public const string ResolvConfFileName = "resolv.conf";

    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead
        | UnixFileMode.OtherRead;

    private static readonly string[] FileNames = [HostnameFileName, HostsFileName, ResolvConfFileName];

    /// <summary>Writes the files into <paramref name="containerDirectory"/>, creating the directory if needed.</summary>
    /// <param name="inPlace">Rewrite existing files in place (same inode) instead of replacing them: for files already
    /// bind-mounted into a container, where a rename would leave the mount on the old file. Not atomic for a reader,
    /// so only while the container is held before exec and nothing reads them.</param>
    public static void Write(string containerDirectory, ContainerNetworkFiles files, Durability durability = Durability.PowerLoss, bool inPlace = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerDirectory);
        ArgumentNullException.ThrowIfNull(files);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException();
        }

        Directory.CreateDirectory(containerDirectory);
        if (!inPlace)
        {
            RemoveStaleTemporaries(containerDirectory);
        }

        var changed = WriteFile(containerDirectory, HostnameFileName, files.Hostname, durability, inPlace);
        changed |= WriteFile(containerDirectory, HostsFileName, files.Hosts, durability, inPlace);
        if (files.ResolvConf is { } resolvConf)
        {
            changed |= WriteFile(containerDirectory, ResolvConfFileName, resolvConf, durability, inPlace);
        }
        else
        {
            changed |= DeleteIfPresent(Path.Join(containerDirectory, ResolvConfFileName));
        }

        if (changed && durability == Durability.PowerLoss)
        {
            AtomicFile.SyncDirectory(containerDirectory);
        }
    }

    /// <summary>Path of <paramref name="fileName"/> in <paramref name="containerDirectory"/>.</summary>
    public static string PathOf(string containerDirectory, string fileName) => Path.Join(containerDirectory, fileName);

    [SupportedOSPlatform("linux")]
    private static bool WriteFile(string directory, string name, string content, Durability durability, bool inPlace)
    {
        var path = Path.Join(directory, name);
        var bytes = Encoding.UTF8.GetBytes(content);
        var existing = new FileInfo(path);
        var exists = existing.Exists && !existing.Attributes.HasFlag(FileAttributes.Directory);
        var modeRight = exists && existing.UnixFileMode == FileMode;
        if (exists && modeRight && existing.Length == bytes.Length && HasContent(path, bytes))
        {
            return false;
        }

        if (inPlace && exists)
        {
            // Overwritten from the start, then cut to length: truncating to zero first would make the file system
            // free the blocks and allocate them again (on ext4 that is most of the cost of the rewrite).
            using var stream = new FileStream(path, System.IO.FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            stream.Write(bytes);
            stream.SetLength(bytes.Length);
            stream.Flush(flushToDisk: durability == Durability.PowerLoss);
            if (!modeRight)
            {
                File.SetUnixFileMode(path, FileMode);
            }

            return true;
        }

        if (exists)
        {
            AtomicFile.Write(path, bytes, FileMode, durability, syncDirectory: false);
        }
        else
        {
            // Nothing can be relying on a file that is not there yet; a part left by a crash is replaced whole by the
            // next call, which finds its contents wrong.
            AtomicFile.CreateNew(path, bytes, FileMode, durability);
        }

        return true;
    }

    private static bool HasContent(string path, byte[] bytes)
    {
        try
        {
            return File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void RemoveStaleTemporaries(string directory)
    {
        var prefixes = FileNames.Select(AtomicFile.TemporaryPrefixFor).ToArray();
        foreach (var entry in Directory.EnumerateFiles(directory, ".*"))
        {
            var name = Path.GetFileName(entry);
            if (prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
            {
                DeleteIfPresent(entry);
            }
        }
    }

    private static bool DeleteIfPresent(string path)
    {
        try
        {
            if (!File.Exists(path))
            {
                return false;
            }

            File.Delete(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
