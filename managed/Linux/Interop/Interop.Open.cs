using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int O_RDONLY = 0x0;
        internal const int O_WRONLY = 0x1;
        internal const int O_CREAT = 0x40;
        internal const int O_EXCL = 0x80;
        internal const int O_NOCTTY = 0x100;
        internal const int O_CLOEXEC = 0x80000;

        /// <remarks>
        /// open(2) is variadic; the mode is always passed, which is what glibc's wrapper expects. It returns a C int,
        /// so it is declared as such and wrapped afterwards: a SafeHandle return would be read as a pointer-sized
        /// value, and -1 would arrive as 0xFFFFFFFF, i.e. "valid".
        /// </remarks>
        [LibraryImport(Libraries.Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int open(string pathname, int flags, uint mode);
    }
}
