using System.Runtime.InteropServices;
using NetIsolator.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "setns", SetLastError = true)]
        internal static partial int setns(SafeFileDescriptorHandle fd, int nstype);
    }
}
