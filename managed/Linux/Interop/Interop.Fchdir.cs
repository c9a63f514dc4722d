using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "fchdir", SetLastError = true)]
        internal static partial int fchdir(int fd);
    }
}
