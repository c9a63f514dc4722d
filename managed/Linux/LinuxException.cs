namespace NetIsolator.Linux;

/// <summary>
/// A system call failed. Carries the errno, the step and the path it was applied to, and says all three:
/// <c>setns into '/run/x/ns' failed: EINVAL (Invalid argument)</c>.
/// </summary>
public class LinuxException : IOException
{
    public LinuxException(int errno, string operation, string? path = null)
        : this(errno, operation, path, FormatMessage(errno, operation, path)) { }

    protected LinuxException(int errno, string operation, string? path, string message) : base(message)
    {
        Errno = errno;
        Operation = operation;
        Path = path;
        HResult = errno;
    }

    /// <summary>The errno value (see <see cref="Linux.Errno"/>).</summary>
    public int Errno { get; }

    /// <summary>Symbolic name of <see cref="Errno"/>, e.g. <c>ENOENT</c>.</summary>
    public string ErrorName => Linux.Errno.Name(Errno);

    /// <summary>The failing step, e.g. <c>setns into</c> or <c>unshare(CLONE_NEWNET)</c>.</summary>
    public string Operation { get; }

    /// <summary>The path the step was applied to, if any.</summary>
    public string? Path { get; }

    internal static string FormatMessage(int errno, string operation, string? path) => path is null
        ? $"{operation} failed: {Linux.Errno.Name(errno)} ({Linux.Errno.Describe(errno)})"
        : $"{operation} '{path}' failed: {Linux.Errno.Name(errno)} ({Linux.Errno.Describe(errno)})";

    /// <summary>Throws for a negative system-call result, reading errno; returns the result otherwise.</summary>
    internal static int Check(int result, string operation, string? path = null)
    {
        if (result < 0)
        {
            throw new LinuxException(Linux.Errno.Last, operation, path);
        }
        return result;
    }
}

/// <summary>The path given for a namespace does not exist (ENOENT), e.g. a pin already removed.</summary>
public sealed class NamespaceNotFoundException : LinuxException
{
    public NamespaceNotFoundException(string path, string operation = "open namespace")
        : base(Linux.Errno.ENOENT, operation, path,
               $"namespace '{path}' does not exist: {operation} failed with ENOENT") { }
}

/// <summary>
/// The path exists but is not a namespace: statfs reports neither nsfs nor proc. A pin that was never mounted,
/// was unmounted, or whose bind mount is corrupted (it then reads as tmpfs) ends up here.
/// </summary>
public sealed class NotANamespaceException : IOException
{
    public NotANamespaceException(string path, long filesystemMagic)
        : this(path, filesystemMagic, $"'{path}' is not a namespace: it is on {FilesystemNames.Describe(filesystemMagic)}, "
               + "expected nsfs (0x6e736673) or proc (0x9fa0)") { }

    private NotANamespaceException(string path, long filesystemMagic, string message) : base(message)
    {
        Path = path;
        FilesystemMagic = filesystemMagic;
    }

    /// <summary>The path is a namespace, but not a network namespace (e.g. <c>/proc/self/ns/mnt</c>).</summary>
    internal static NotANamespaceException OfOtherType(string path, long filesystemMagic, int namespaceType) =>
        new(path, filesystemMagic,
            $"'{path}' is not a network namespace: it is a {NamespaceTypeName(namespaceType)} namespace");

    private static string NamespaceTypeName(int type) => type switch
    {
        0x00020000 => "mnt",
        0x04000000 => "uts",
        0x08000000 => "ipc",
        0x10000000 => "user",
        0x20000000 => "pid",
        0x40000000 => "net",
        0x02000000 => "cgroup",
        0x00000080 => "time",
        _ => $"0x{type:x}",
    };

    public string Path { get; }

    /// <summary>statfs f_type of the path found.</summary>
    public long FilesystemMagic { get; }

    /// <summary>The filesystem's name if known (<c>tmpfs</c>), else its magic in hex.</summary>
    public string FilesystemName => FilesystemNames.Name(FilesystemMagic) ?? $"0x{FilesystemMagic:x}";
}

internal static class FilesystemNames
{
    public static string? Name(long magic) => magic switch
    {
        0x6e736673 => "nsfs",
        0x9fa0 => "proc",
        0x01021994 => "tmpfs",
        0xef53 => "ext4",
        0x58465342 => "xfs",
        0x9123683e => "btrfs",
        0x794c7630 => "overlayfs",
        0x62656572 => "sysfs",
        0x1373 => "devfs",
        0x6969 => "nfs",
        _ => null,
    };

    public static string Describe(long magic) => Name(magic) is { } name ? $"{name} (0x{magic:x})" : $"0x{magic:x}";
}
