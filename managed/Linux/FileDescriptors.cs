namespace NetIsolator.Linux;

/// <summary>The fd-level steps shared by the namespace types: open, statfs and statx with errno mapping.</summary>
internal static class FileDescriptors
{
    /// <summary>open(2) O_RDONLY|O_CLOEXEC, retrying EINTR. ENOENT becomes <see cref="NamespaceNotFoundException"/>.</summary>
    public static SafeFileDescriptorHandle OpenNamespaceFile(string path)
    {
        while (true)
        {
            var fd = Interop.Libc.open(path, Interop.Libc.O_RDONLY | Interop.Libc.O_CLOEXEC | Interop.Libc.O_NOCTTY, 0);
            if (fd >= 0)
            {
                return new SafeFileDescriptorHandle(fd);
            }
            var errno = Errno.Last;
            switch (errno)
            {
                case Errno.EINTR:
                    continue;
                case Errno.ENOENT:
                    throw new NamespaceNotFoundException(path);
                default:
                    throw new LinuxException(errno, "open namespace", path);
            }
        }
    }

    /// <summary>open(2) of a directory, O_RDONLY|O_DIRECTORY|O_CLOEXEC (usable with fchdir and statx).</summary>
    public static SafeFileDescriptorHandle OpenDirectory(string path) => new(LinuxException.Check(
        Interop.Libc.open(path, Interop.Libc.O_RDONLY | Interop.Libc.O_DIRECTORY | Interop.Libc.O_CLOEXEC, 0), "open", path));

    /// <summary>Device and inode of a directory, e.g. to tell whether two roots are the same.</summary>
    public static NamespaceId DirectoryIdentity(string path)
    {
        using var handle = OpenDirectory(path);
        return Identity(handle, path);
    }

    /// <summary>statfs(2) f_type of the filesystem the fd lives on.</summary>
    public static unsafe long FilesystemMagic(SafeFileDescriptorHandle fd, string path)
    {
        Interop.Libc.statfs buffer;
        LinuxException.Check(Interop.Libc.fstatfs(fd, &buffer), "fstatfs", path);
        return buffer.f_type;
    }

    public static bool IsNamespaceFilesystem(long magic) =>
        magic == Interop.Libc.NSFS_MAGIC || magic == Interop.Libc.PROC_SUPER_MAGIC;

    /// <summary>Device and inode of the open file (statx with AT_EMPTY_PATH, whose layout is the same on every arch).</summary>
    public static unsafe NamespaceId Identity(SafeFileDescriptorHandle fd, string path)
    {
        Interop.Libc.statx buffer;
        LinuxException.Check(
            Interop.Libc.statx_fd(fd, "", Interop.Libc.AT_EMPTY_PATH, Interop.Libc.STATX_INO, &buffer), "statx", path);
        var device = ((ulong)buffer.stx_dev_major << 32) | buffer.stx_dev_minor;
        return new NamespaceId(device, buffer.stx_ino);
    }
}
