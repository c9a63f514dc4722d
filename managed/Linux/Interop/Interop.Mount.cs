using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        // <sys/mount.h>
        internal const ulong MS_BIND = 0x1000;
        internal const ulong MS_REC = 0x4000;
        internal const ulong MS_PRIVATE = 0x40000;
        internal const ulong MS_SHARED = 0x100000;

        [LibraryImport(Libraries.Libc, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int mount(string? source, string target, string? filesystemtype, ulong mountflags, nint data);
    }
}
