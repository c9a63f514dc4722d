using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "pwrite", SetLastError = true)]
        internal static unsafe partial nint pwrite(int fd, byte* buffer, nuint count, long offset);
    }
}
