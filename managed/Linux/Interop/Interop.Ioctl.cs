using System.Runtime.InteropServices;
using NetIsolator.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>&lt;linux/nsfs.h&gt; _IO(0xb7, 0x3): returns the CLONE_NEW* type of a namespace fd (Linux 4.11+).</summary>
        internal const uint NS_GET_NSTYPE = 0xb703;

        /// <remarks>ioctl(2) is variadic; this is the form without an argument.</remarks>
        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        internal static partial int ioctl(SafeFileDescriptorHandle fd, nuint request);

        /// <remarks>The form with a pointer argument (e.g. a <c>struct ifreq</c>).</remarks>
        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        internal static unsafe partial int ioctl(SafeFileDescriptorHandle fd, nuint request, void* argument);
    }
}
