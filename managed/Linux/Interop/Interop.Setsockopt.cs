using System.Runtime.InteropServices;
using NetIsolator.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        // <linux/netlink.h>: socket options of level SOL_NETLINK.
        internal const int SOL_NETLINK = 270;

        /// <summary>Errors echo only the header of the failed request, not all of it.</summary>
        internal const int NETLINK_CAP_ACK = 10;

        /// <summary>Errors (and some acks) carry the kernel's explanation as NLMSGERR_ATTR_* attributes (Linux 4.12+).</summary>
        internal const int NETLINK_EXT_ACK = 11;

        [LibraryImport(Libraries.Libc, EntryPoint = "setsockopt", SetLastError = true)]
        internal static unsafe partial int setsockopt(SafeFileDescriptorHandle socket, int level, int name, void* value, uint length);
    }
}
