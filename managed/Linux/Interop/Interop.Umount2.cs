using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        // <sys/mount.h>
        internal const int MNT_DETACH = 0x2;
        internal const int UMOUNT_NOFOLLOW = 0x8;

        [LibraryImport(Libraries.Libc, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int umount2(string target, int flags);
    }
}
