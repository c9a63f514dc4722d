using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>Sets the host name of the calling thread's UTS namespace (not NUL-terminated: a length is given).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "sethostname", SetLastError = true)]
        internal static unsafe partial int sethostname(byte* name, nuint length);
    }
}
