using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        // <sys/mount.h> (glibc 2.36): the new mount API, which makes a filesystem instance and a mount of it without
        // attaching it anywhere (Linux 5.2).
        internal const uint FSOPEN_CLOEXEC = 0x1;
        internal const uint FSCONFIG_CMD_CREATE = 6;
        internal const uint FSMOUNT_CLOEXEC = 0x1;
        internal const uint MOUNT_ATTR_NOSUID = 0x2;
        internal const uint MOUNT_ATTR_NODEV = 0x4;
        internal const uint MOUNT_ATTR_NOEXEC = 0x8;

        [LibraryImport(Libraries.Libc, EntryPoint = "fsopen", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int fsopen(string fsname, uint flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "fsconfig", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int fsconfig(int fd, uint cmd, string? key, nint value, int aux);

        [LibraryImport(Libraries.Libc, EntryPoint = "fsmount", SetLastError = true)]
        internal static partial int fsmount(int fd, uint flags, uint mountAttributes);
    }
}
