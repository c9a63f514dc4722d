using System.Text;

namespace NetIsolator.Linux;

/// <summary>
/// The sysctl files (<c>/proc/sys</c>) for a batch of writes in one network namespace: open it, write from the thread
/// that has joined the namespace, dispose. Each file is resolved when it is opened, against the network namespace of
/// the thread opening it, as with the machine's <c>/proc/sys</c>.
/// </summary>
/// <remarks>
/// <para>
/// Why not simply <c>/proc/sys</c>: every network namespace has its own <c>net/ipv4</c> and <c>net/ipv6</c>
/// directories, and within one procfs instance their dentries all hang under the one shared <c>net</c> dentry with
/// the same name, so they share a dcache hash chain. A lookup compares itself with each entry of the chain (under the
/// sysctl lock, and once more after the RCU walk gives up, since sysctl dentries refuse RCU revalidation) until it
/// meets its own namespace's. The first lookup from a new namespace walks them all, and an old namespace's dentry sits
/// behind every newer one. With 500 namespaces this measured 0.5–0.8 ms per directory, on every container's isolate.
/// </para>
/// <para>
/// A private procfs instance has a dcache of its own: one per batch, made with the new mount API (<c>fsopen</c>,
/// <c>fsmount</c>; Linux 5.2, and a new instance per mount since 5.8) as a detached mount that is in no mount table
/// and goes with its last descriptor. It costs about 40 µs whatever the number of namespaces. Where it cannot be made
/// (an older kernel or glibc, or no <c>CAP_SYS_ADMIN</c> over the process's pid namespace), the machine's
/// <c>/proc/sys</c> is used instead, with the same results.
/// </para>
/// </remarks>
public sealed class ProcSys : IDisposable
{
    private const string ProcSysPath = "/proc/sys";
    private static volatile bool s_privateInstanceUnavailable;

    private readonly SafeFileDescriptorHandle _directory;

    private ProcSys(SafeFileDescriptorHandle directory, bool isPrivateInstance)
    {
        _directory = directory;
        IsPrivateInstance = isPrivateInstance;
    }

    /// <summary>True when the files come from a private procfs instance, false when from the machine's /proc/sys.</summary>
    public bool IsPrivateInstance { get; }

    /// <summary>A private procfs instance's <c>sys</c> directory, or the machine's <c>/proc/sys</c> where none can be made.</summary>
    /// <exception cref="LinuxException">Neither can be opened.</exception>
    public static ProcSys Open()
    {
        if (!s_privateInstanceUnavailable)
        {
            try
            {
                return new ProcSys(OpenPrivateInstance(), isPrivateInstance: true);
            }
            catch (Exception e) when (e is EntryPointNotFoundException
                                      || (e is LinuxException l && l.Errno is Errno.ENOSYS or Errno.EPERM or Errno.ENODEV or Errno.EINVAL))
            {
                s_privateInstanceUnavailable = true;
            }
        }

        return new ProcSys(OpenDirectory(Interop.Libc.AT_FDCWD, ProcSysPath, ProcSysPath), isPrivateInstance: false);
    }

    /// <summary>Writes <paramref name="value"/> to the sysctl <paramref name="key"/> (slash form: <c>net/ipv4/ip_forward</c>).</summary>
    /// <exception cref="LinuxException">The file cannot be opened or written; the message names <c>/proc/sys/&lt;key&gt;</c>.</exception>
    public void Write(string key, string value) => _ = WriteOrSkip(key, value, skipMissingOrReadOnly: false);

    /// <summary>
    /// Writes like <see cref="Write"/>, but returns false instead when the file does not exist or is read-only here
    /// (a knob this kernel lacks, or one that is not per network namespace and so is read-only outside the first).
    /// </summary>
    /// <exception cref="LinuxException">Any other failure to open or write it.</exception>
    public bool TryWrite(string key, string value) => WriteOrSkip(key, value, skipMissingOrReadOnly: true);

    public void Dispose() => _directory.Dispose();

    private unsafe bool WriteOrSkip(string key, string value, bool skipMissingOrReadOnly)
    {
        ValidateKey(key);
        ArgumentNullException.ThrowIfNull(value);
        var path = $"{ProcSysPath}/{key}";
        var fd = Interop.Libc.openat(_directory.FileDescriptor, key, Interop.Libc.O_WRONLY | Interop.Libc.O_CLOEXEC | Interop.Libc.O_NOFOLLOW, 0);
        if (fd < 0)
        {
            var errno = Errno.Last;
            if (skipMissingOrReadOnly && errno is Errno.ENOENT or Errno.EACCES or Errno.EPERM)
            {
                return false;
            }

            throw new LinuxException(errno, "open sysctl", path);
        }

        using var file = new SafeFileDescriptorHandle(fd);
        // A sysctl takes its value from one write at offset 0.
        var bytes = Encoding.ASCII.GetBytes(value);
        fixed (byte* buffer = bytes)
        {
            var written = Interop.Libc.pwrite(fd, buffer, (nuint)bytes.Length, 0);
            if (written < 0)
            {
                throw new LinuxException(Errno.Last, $"write '{value}' to sysctl", path);
            }

            if (written != bytes.Length)
            {
                throw new IOException($"write '{value}' to sysctl '{path}': the kernel took {written} of {bytes.Length} bytes");
            }
        }

        return true;
    }

    private static SafeFileDescriptorHandle OpenPrivateInstance()
    {
        using var context = new SafeFileDescriptorHandle(
            LinuxException.Check(Interop.Libc.fsopen("proc", Interop.Libc.FSOPEN_CLOEXEC), "fsopen", "proc"));
        LinuxException.Check(Interop.Libc.fsconfig(context.FileDescriptor, Interop.Libc.FSCONFIG_CMD_CREATE, null, 0, 0), "fsconfig(FSCONFIG_CMD_CREATE)", "proc");
        using var mount = new SafeFileDescriptorHandle(LinuxException.Check(
            Interop.Libc.fsmount(context.FileDescriptor, Interop.Libc.FSMOUNT_CLOEXEC,
                Interop.Libc.MOUNT_ATTR_NOSUID | Interop.Libc.MOUNT_ATTR_NODEV | Interop.Libc.MOUNT_ATTR_NOEXEC),
            "fsmount", "proc"));
        // The sys directory's descriptor keeps the detached mount alive; the mount's own one can go.
        return OpenDirectory(mount.FileDescriptor, "sys", "<private proc>/sys");
    }

    private static SafeFileDescriptorHandle OpenDirectory(int directory, string path, string name) =>
        new(LinuxException.Check(
            Interop.Libc.openat(directory, path, Interop.Libc.O_PATH | Interop.Libc.O_DIRECTORY | Interop.Libc.O_CLOEXEC, 0),
            "open directory", name));

    /// <summary>A key stays below /proc/sys: relative, with no empty, <c>.</c> or <c>..</c> component.</summary>
    private static void ValidateKey(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key.Split('/').Any(part => part is "" or "." or ".."))
        {
            throw new ArgumentException($"sysctl key '{key}' is not a relative path below {ProcSysPath}", nameof(key));
        }
    }
}
