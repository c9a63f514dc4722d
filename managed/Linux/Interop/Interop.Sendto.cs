using System.Runtime.InteropServices;
using NetIsolator.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "sendto", SetLastError = true)]
        internal static unsafe partial nint sendto(SafeFileDescriptorHandle socket, byte* buffer, nuint length, int flags, sockaddr_nl* address, uint addressLength);
    }
}
