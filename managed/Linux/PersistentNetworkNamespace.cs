namespace NetIsolator.Linux;

/// <summary>
/// Network namespaces pinned by a bind mount onto an empty file (the Mesos <c>ROOT/&lt;CID&gt;/ns</c> and CRI-O
/// design): the namespace lives as long as the mount, independently of any process, and is named by a path that
/// survives agent restarts. A <c>/proc/&lt;pid&gt;</c> path is never stored: pids are reused.
/// </summary>
/// <remarks>
/// Pins should live under a directory made a shared mount point of its own with
/// <see cref="MountPropagation.EnsureSharedMountPoint"/>, so that <see cref="Remove"/> on the host also unmounts the
/// copies that container mount namespaces took of the pin; otherwise those copies keep the namespace alive.
/// </remarks>
public static class PersistentNetworkNamespace
{
    private const string ThreadNamespacePath = "/proc/thread-self/ns/net";

    /// <summary>Upper bound on stacked mounts <see cref="Remove"/> peels off one path.</summary>
    private const int MaxStackedMounts = 16;

    private const uint DirectoryMode = 0b111_101_101; // 0755
    private const uint PinFileMode = 0b100_100_100;   // 0444: only ever a mount point

    /// <summary>
    /// Creates a new, empty network namespace (only <c>lo</c>, down) and pins it at <paramref name="pinPath"/>.
    /// Missing parent directories are created (0755).
    /// </summary>
    /// <remarks>
    /// Rule: the pin path must not exist. An existing path, pinned or not, fails with EEXIST and is left as it was;
    /// a caller that wants "create or replace" calls <see cref="Remove"/> first, one that wants "create or reuse"
    /// checks <see cref="IsPinned"/>. On any failure everything this call created (mount, file, directories) is
    /// removed again before the exception propagates: there are no half-made pins.
    /// </remarks>
    /// <exception cref="LinuxException">A step failed; its message names the step, the path and the errno.</exception>
    /// <exception cref="NotANamespaceException">The bind mount was made but does not read as a namespace.</exception>
    public static void Create(string pinPath) => Create(pinPath, ThreadNamespacePath);

    /// <summary>
    /// <see cref="Create(string)"/> with the bind source given: tests use a source that fails or is not a
    /// namespace to drive the undo path past the mount step.
    /// </summary>
    internal static void Create(string pinPath, string bindSource) =>
        PinWith(pinPath, path =>
        {
            // unshare(CLONE_NEWNET) moves only the calling thread, so it happens on a thread of its own that ends
            // right after the bind mount has taken a reference to the new namespace.
            NamespaceThread.Run(() =>
            {
                LinuxException.Check(Interop.Libc.unshare(Interop.Libc.CLONE_NEWNET), "unshare(CLONE_NEWNET) for", path);
                LinuxException.Check(
                    Interop.Libc.mount(bindSource, path, null, Interop.Libc.MS_BIND, 0),
                    $"bind-mount {bindSource} onto", path);
                return true;
            });
            // A bind mount that went wrong reads as the filesystem below it; check before calling it a pin.
            using var check = NetworkNamespace.Open(path);
            return check.Id;
        });

    /// <summary>
    /// Pins an EXISTING network namespace (e.g. a container's <c>/proc/&lt;pid&gt;/ns/net</c>) at
    /// <paramref name="pinPath"/>: a bind mount of the namespace onto a new empty file (Mesos's
    /// <c>ROOT/&lt;CID&gt;/ns</c>). Missing parent directories are created (0755). Returns the namespace's identity.
    /// </summary>
    /// <remarks>
    /// The source is opened and validated (a network namespace) first, and the bind is made from that open handle
    /// (<c>/proc/self/fd/&lt;n&gt;</c>), not from the path again: if the process exits and its pid is reused between
    /// the check and the mount, the pin still holds the namespace that was checked. The pin is then opened and must
    /// be that same namespace. Same rules as <see cref="Create(string)"/>: the pin path must not exist (EEXIST,
    /// left as it was), and on any failure everything this call made (mount, file, directories) is undone.
    /// </remarks>
    /// <exception cref="NamespaceNotFoundException">The source does not exist (e.g. the process is gone).</exception>
    /// <exception cref="NotANamespaceException">The source, or the pin after the bind, is not a network namespace.</exception>
    /// <exception cref="LinuxException">A step failed; its message names the step, the path and the errno.</exception>
    public static NamespaceId Pin(string sourceNamespacePath, string pinPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(sourceNamespacePath);
        using var source = NetworkNamespace.Open(sourceNamespacePath);
        return PinWith(pinPath, path =>
        {
            var handlePath = $"/proc/self/fd/{source.Handle.FileDescriptor}";
            LinuxException.Check(
                Interop.Libc.mount(handlePath, path, null, Interop.Libc.MS_BIND, 0),
                $"bind-mount {sourceNamespacePath} onto", path);
            using var check = NetworkNamespace.Open(path);
            return check.Id == source.Id
                ? check.Id
                : throw new IOException(
                    $"pin namespace {sourceNamespacePath} at '{path}': the pin holds {check.Id}, not the source's {source.Id}");
        });
    }

    /// <summary>
    /// The steps every pin shares: the missing parent directories and a new empty file at <paramref name="pinPath"/>,
    /// then <paramref name="bind"/> mounts a namespace onto it and checks the result. On any failure everything made
    /// here (a mount <paramref name="bind"/> got as far as, the file, the directories) is undone.
    /// </summary>
    private static NamespaceId PinWith(string pinPath, Func<string, NamespaceId> bind)
    {
        ArgumentException.ThrowIfNullOrEmpty(pinPath);
        var path = System.IO.Path.GetFullPath(pinPath);
        var createdDirectories = CreateParentDirectories(path);
        var fileCreated = false;
        try
        {
            CreatePinFile(path);
            fileCreated = true;
            return bind(path);
        }
        catch
        {
            // The file is ours, so is any mount on it; unmounting a file that holds none fails harmlessly (EINVAL).
            Undo(path, mounted: fileCreated, fileCreated, createdDirectories);
            throw;
        }
    }

    /// <summary>
    /// Unmounts the pin (MNT_DETACH, every stacked mount) and deletes the file. Idempotent: a missing path is a
    /// no-op, a file that is not a mount (an old pin after a reboot) is just deleted. The namespace itself goes away
    /// once nothing else (an open <see cref="NetworkNamespace"/>, a process inside it) refers to it.
    /// </summary>
    /// <returns>Whether anything (a mount or the file) was removed.</returns>
    /// <exception cref="LinuxException">Unmounting or deleting failed for another reason than "not there".</exception>
    public static bool Remove(string pinPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(pinPath);
        var path = System.IO.Path.GetFullPath(pinPath);
        var removed = Unmount(path);
        if (Interop.Libc.unlink(path) == 0)
        {
            return true;
        }
        var errno = Errno.Last;
        if (errno == Errno.ENOENT)
        {
            return removed;
        }
        throw new LinuxException(errno, "unlink namespace pin", path);
    }

    /// <summary>
    /// Whether <paramref name="pinPath"/> currently holds a namespace (statfs reports nsfs or proc). A missing path,
    /// a plain file and a corrupted bind mount (reads as tmpfs) are all "not pinned".
    /// </summary>
    public static bool IsPinned(string pinPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(pinPath);
        try
        {
            using var fd = FileDescriptors.OpenNamespaceFile(pinPath);
            return FileDescriptors.IsNamespaceFilesystem(FileDescriptors.FilesystemMagic(fd, pinPath));
        }
        catch (NamespaceNotFoundException)
        {
            return false;
        }
        catch (LinuxException e) when (e.Errno == Errno.ENOTDIR)
        {
            return false;
        }
    }

    /// <summary>
    /// The pins (nsfs mounts) at or below <paramref name="directory"/>, from <c>/proc/self/mountinfo</c>, in mount
    /// order and each path once: what a recovery sweep compares against the containers it knows.
    /// </summary>
    public static IReadOnlyList<string> FindPins(string directory)
    {
        var root = MountPropagation.RealPath(directory);
        return MountInfo.ReadSelf()
            .Where(m => m.FilesystemType == "nsfs"
                        && (m.MountPoint == root
                            || m.MountPoint.StartsWith(root == "/" ? root : root + "/", StringComparison.Ordinal)))
            .Select(m => m.MountPoint)
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }

    private static bool Unmount(string path)
    {
        var unmounted = false;
        for (var i = 0; i < MaxStackedMounts; i++)
        {
            // UMOUNT_NOFOLLOW: a symlink planted at the pin path must not make us unmount what it points to.
            if (Interop.Libc.umount2(path, Interop.Libc.MNT_DETACH | Interop.Libc.UMOUNT_NOFOLLOW) == 0)
            {
                unmounted = true;
                continue;
            }
            var errno = Errno.Last;
            if (errno is Errno.EINVAL or Errno.ENOENT)
            {
                // EINVAL: not (or no longer) a mount point. ENOENT: nothing there.
                return unmounted;
            }
            throw new LinuxException(errno, "unmount namespace pin", path);
        }
        return unmounted;
    }

    private static void CreatePinFile(string path)
    {
        while (true)
        {
            var fd = Interop.Libc.open(
                path,
                Interop.Libc.O_WRONLY | Interop.Libc.O_CREAT | Interop.Libc.O_EXCL | Interop.Libc.O_CLOEXEC | Interop.Libc.O_NOCTTY,
                PinFileMode);
            if (fd >= 0)
            {
                Interop.Libc.close(fd);
                return;
            }
            var errno = Errno.Last;
            if (errno != Errno.EINTR)
            {
                throw new LinuxException(errno, "create namespace pin", path);
            }
        }
    }

    /// <summary><c>mkdir -p</c> of the pin's parent; returns the directories it made, outermost first.</summary>
    private static List<string> CreateParentDirectories(string path)
    {
        var missing = new Stack<string>();
        for (var directory = System.IO.Path.GetDirectoryName(path);
             directory is not null && !System.IO.Path.Exists(directory);
             directory = System.IO.Path.GetDirectoryName(directory))
        {
            missing.Push(directory);
        }
        var created = new List<string>(missing.Count);
        try
        {
            while (missing.TryPop(out var directory))
            {
                if (Interop.Libc.mkdir(directory, DirectoryMode) != 0)
                {
                    var errno = Errno.Last;
                    if (errno == Errno.EEXIST && Directory.Exists(directory))
                    {
                        continue; // made concurrently by someone else: not ours to remove
                    }
                    throw new LinuxException(errno, "create directory", directory);
                }
                created.Add(directory);
            }
            return created;
        }
        catch
        {
            Undo(path, mounted: false, fileCreated: false, created);
            throw;
        }
    }

    /// <summary>Best effort, innermost first; the original exception is the one worth reporting.</summary>
    private static void Undo(string path, bool mounted, bool fileCreated, List<string> createdDirectories)
    {
        if (mounted)
        {
            Interop.Libc.umount2(path, Interop.Libc.MNT_DETACH | Interop.Libc.UMOUNT_NOFOLLOW);
        }
        if (fileCreated)
        {
            Interop.Libc.unlink(path);
        }
        for (var i = createdDirectories.Count - 1; i >= 0; i--)
        {
            Interop.Libc.rmdir(createdDirectories[i]);
        }
    }
}
