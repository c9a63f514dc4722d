using System.Runtime.InteropServices;
using NetIsolator.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>&lt;linux/netlink.h&gt; struct sockaddr_nl.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct sockaddr_nl
        {
            internal ushort nl_family;
            internal ushort nl_pad;
            internal uint nl_pid;
            internal uint nl_groups;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "bind", SetLastError = true)]
        internal static unsafe partial int bind(SafeFileDescriptorHandle socket, sockaddr_nl* address, uint addressLength);
    }
}
