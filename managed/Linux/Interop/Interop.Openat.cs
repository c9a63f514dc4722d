using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int O_NOFOLLOW = 0x20000;
        internal const int O_PATH = 0x200000;

        /// <remarks>Variadic like open(2); see there for why the mode is always passed and the result is an int.</remarks>
        [LibraryImport(Libraries.Libc, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int openat(int dirfd, string pathname, int flags, uint mode);
    }
}
