// Structs keep their C names (dotnet/runtime interop style).
#pragma warning disable CS8981

using System.Runtime.InteropServices;
using NetIsolator.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>struct statfs of 64-bit glibc (x86_64 and aarch64 share this layout; 120 bytes).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct statfs
        {
            public long f_type;
            public long f_bsize;
            public ulong f_blocks;
            public ulong f_bfree;
            public ulong f_bavail;
            public ulong f_files;
            public ulong f_ffree;
            public fixed int f_fsid[2];
            public long f_namelen;
            public long f_frsize;
            public long f_flags;
            public fixed long f_spare[4];
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "fstatfs", SetLastError = true)]
        internal static unsafe partial int fstatfs(SafeFileDescriptorHandle fd, statfs* buf);
    }
}
