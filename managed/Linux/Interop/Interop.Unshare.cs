using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "unshare", SetLastError = true)]
        internal static partial int unshare(int flags);
    }
}
