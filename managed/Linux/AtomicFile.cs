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
/// Files replaced atomically: the bytes go to a temporary file in the same directory, created with its mode, which
/// then takes the target's place; with <see cref="Durability.PowerLoss"/> the file is flushed to disk before that and
/// the directory after it. A reader, or a crash, sees the old file or the new one, never a part. Checkpoints and the
/// files bind-mounted into containers are written this way.
/// </summary>
/// <remarks>
/// An existing target is not renamed over but exchanged with the temporary file (<c>renameat2(RENAME_EXCHANGE)</c>),
/// whose name, now holding the old contents, is then unlinked. A rename over an existing file makes ext4 start writing
/// the new file's data out at once (its <c>auto_da_alloc</c> guard for programs that replace files without fsync),
/// which costs more than everything else here; the exchange does not, and <see cref="Durability.PowerLoss"/> flushes
/// explicitly anyway. A crash between the two steps leaves the old contents under the temporary name, which writers
/// that care (see <see cref="TemporaryPrefixFor"/>) remove. Where the file system cannot exchange, a plain rename.
/// </remarks>
public static class AtomicFile
{
    /// <summary>Temporary files are named <c>.&lt;name&gt;.tmp-&lt;random&gt;</c> beside their target.</summary>
    public static string TemporaryPrefixFor(string path) => "." + Path.GetFileName(path) + ".tmp-";

    /// <summary>Replaces <paramref name="path"/> with <paramref name="contents"/>, with the given mode (set
    /// explicitly, so the process umask cannot narrow it).</summary>
    /// <param name="syncDirectory">With <see cref="Durability.PowerLoss"/>: flush the directory now (false when the
    /// caller writes several files and flushes the directory once, with <see cref="SyncDirectory"/>).</param>
    /// <exception cref="LinuxException">A step failed; the message names it and the file. No temporary file is left.</exception>
    [SupportedOSPlatform("linux")]
    public static void Write(string path, ReadOnlySpan<byte> contents, UnixFileMode mode, Durability durability, bool syncDirectory = true)
    {
        var target = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(target)!;
        var temporary = Path.Join(directory, TemporaryPrefixFor(target) + Guid.NewGuid().ToString("N"));
        try
        {
            WriteNewFile(temporary, contents, mode, durability);
            Replace(temporary, target);
        }
        catch
        {
            // The write failed already; that is the error worth reporting.
            _ = Interop.Libc.unlink(temporary);
            throw;
        }

        if (syncDirectory && durability == Durability.PowerLoss)
        {
            SyncDirectory(directory);
        }
    }

    /// <summary>
    /// Creates <paramref name="path"/>, which must not exist, and writes it in place: for a file nothing can be relying
    /// on yet (in a directory just made, that no reader looks at before its writer is done). It saves the temporary
    /// file and the rename; a crash can leave a part of it, which a later <see cref="Write"/> replaces whole.
    /// </summary>
    /// <exception cref="LinuxException">A step failed (<see cref="Errno.EEXIST"/>: the file exists); the message names
    /// it and the file. A part written before a failure is removed.</exception>
    [SupportedOSPlatform("linux")]
    public static void CreateNew(string path, ReadOnlySpan<byte> contents, UnixFileMode mode, Durability durability)
    {
        var created = false;
        try
        {
            WriteNewFile(path, contents, mode, durability, onCreated: () => created = true);
        }
        catch when (created)
        {
            _ = Interop.Libc.unlink(path);
            throw;
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

    private static unsafe void WriteNewFile(string path, ReadOnlySpan<byte> contents, UnixFileMode mode, Durability durability, Action? onCreated = null)
    {
        using var file = new SafeFileDescriptorHandle(LinuxException.Check(
            Interop.Libc.open(path, Interop.Libc.O_WRONLY | Interop.Libc.O_CREAT | Interop.Libc.O_EXCL | Interop.Libc.O_CLOEXEC, (uint)mode),
            "creating",
            path));
        onCreated?.Invoke();
        var fd = file.FileDescriptor;
        // open(2) applies the umask to the mode; fchmod does not.
        LinuxException.Check(Interop.Libc.fchmod(fd, (uint)mode), "setting the mode of", path);
        fixed (byte* bytes = contents)
        {
            for (var offset = 0; offset < contents.Length;)
            {
                var written = Interop.Libc.pwrite(fd, bytes + offset, (nuint)(contents.Length - offset), offset);
                if (written > 0)
                {
                    offset += (int)written;
                }
                else if (written == 0 || Errno.Last != Errno.EINTR)
                {
                    throw new LinuxException(written == 0 ? Errno.EIO : Errno.Last, "writing", path);
                }
            }
        }

        if (durability == Durability.PowerLoss)
        {
            LinuxException.Check(Interop.Libc.fsync(fd), "flushing", path);
        }
    }

    private static void Replace(string temporary, string target)
    {
        if (Interop.Libc.renameat2(Interop.Libc.AT_FDCWD, temporary, Interop.Libc.AT_FDCWD, target, Interop.Libc.RENAME_EXCHANGE) == 0)
        {
            // The old contents now sit under the temporary name.
            if (Interop.Libc.unlink(temporary) == 0 || Errno.Last != Errno.EISDIR)
            {
                return;
            }

            // The target was a directory, which an exchange moves where a rename refuses to: put it back, and fail
            // as the rename would have.
            _ = Interop.Libc.renameat2(Interop.Libc.AT_FDCWD, temporary, Interop.Libc.AT_FDCWD, target, Interop.Libc.RENAME_EXCHANGE);
            throw new LinuxException(Errno.EISDIR, $"renaming '{temporary}' to", target);
        }

        // ENOENT: no target yet. EINVAL, EOPNOTSUPP, ENOSYS: no exchange on this file system or kernel.
        var errno = Errno.Last;
        if (errno is not (Errno.ENOENT or Errno.EINVAL or Errno.EOPNOTSUPP or Errno.ENOSYS))
        {
            throw new LinuxException(errno, $"exchanging '{temporary}' with", target);
        }

        LinuxException.Check(Interop.Libc.rename(temporary, target), $"renaming '{temporary}' to", target);
    }
}
