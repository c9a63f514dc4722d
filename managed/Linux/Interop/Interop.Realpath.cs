using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>realpath(3) with a NULL buffer: the result is malloc'd and must be released with <see cref="free"/>.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial nint realpath(string path, nint resolved_path);
    }
}
