using System.Runtime.InteropServices;
using NetIsolator.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        // <sys/socket.h>: with MSG_TRUNC a datagram socket returns the real length of a datagram that did not fit.
        internal const int MSG_TRUNC = 0x20;

        [LibraryImport(Libraries.Libc, EntryPoint = "recv", SetLastError = true)]
        internal static unsafe partial nint recv(SafeFileDescriptorHandle socket, byte* buffer, nuint length, int flags);
    }
}
