using System.Runtime.Versioning;

namespace NetIsolator.Linux;

/// <summary>How much a written file must survive.</summary>
public enum Durability
{
    /// <summary>
    /// A crash of the writing process (kill -9, an agent restart): the rename alone gives that, since the page cache
    /// belongs to the kernel, not the process. For state that a reboot wipes anyway (Mesos's runtime directory).
    /// </summary>
    ProcessCrash,

    /// <summary>
    /// A crash of the machine: the file is flushed to disk before the rename and the directory after it. For state
    /// kept across reboots (Mesos's work directory). Costs two fsyncs per file.
    /// </summary>
    PowerLoss,
}

/// <summary>
/// Files replaced atomically: the bytes go to a temporary file in the same directory, which is given its mode and
/// renamed over the target; with <see cref="Durability.PowerLoss"/> the file is flushed to disk before the rename and
/// the directory after it. A reader, or a crash, sees the old file or the new one, never a part. Checkpoints and the
/// files bind-mounted into containers are written this way.
/// </summary>
public static class AtomicFile
{
    /// <summary>Temporary files are named <c>.&lt;name&gt;.tmp-&lt;random&gt;</c> beside their target.</summary>
    public static string TemporaryPrefixFor(string path) => "." + Path.GetFileName(path) + ".tmp-";

    /// <summary>Replaces <paramref name="path"/> with <paramref name="contents"/>, with the given mode (set
    /// explicitly, so the process umask cannot narrow it).</summary>
    /// <param name="syncDirectory">With <see cref="Durability.PowerLoss"/>: flush the directory now (false when the
    /// caller writes several files and flushes the directory once, with <see cref="SyncDirectory"/>).</param>
    [SupportedOSPlatform("linux")]
    public static void Write(string path, ReadOnlySpan<byte> contents, UnixFileMode mode, Durability durability, bool syncDirectory = true)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temporary = Path.Join(directory, TemporaryPrefixFor(path) + Guid.NewGuid().ToString("N"));
        try
        {
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                UnixCreateMode = mode,
            }))
            {
                stream.Write(contents);
                stream.Flush(flushToDisk: durability == Durability.PowerLoss);
            }
            File.SetUnixFileMode(temporary, mode);
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The write failed already; that is the error worth reporting.
            }
            throw;
        }
        if (syncDirectory && durability == Durability.PowerLoss)
        {
            SyncDirectory(directory);
        }
    }

    /// <summary>Flushes a directory so the renames in it are durable. Best effort: a failure only weakens
    /// durability, never correctness.</summary>
    [SupportedOSPlatform("linux")]
    public static void SyncDirectory(string directory)
    {
        var fd = Interop.Libc.open(directory, Interop.Libc.O_RDONLY | Interop.Libc.O_DIRECTORY | Interop.Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return;
        }
        _ = Interop.Libc.fsync(fd);
        _ = Interop.Libc.close(fd);
    }
}
