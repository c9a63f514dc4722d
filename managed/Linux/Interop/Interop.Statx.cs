// Structs keep their C names (dotnet/runtime interop style).
#pragma warning disable CS8981

using System.Runtime.InteropServices;
using NetIsolator.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const uint STATX_INO = 0x100;

        /// <summary>struct statx from &lt;linux/stat.h&gt;: one layout on every architecture (256 bytes).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct statx
        {
            public uint stx_mask;
            public uint stx_blksize;
            public ulong stx_attributes;
            public uint stx_nlink;
            public uint stx_uid;
            public uint stx_gid;
            public ushort stx_mode;
            private ushort __spare0;
            public ulong stx_ino;
            public ulong stx_size;
            public ulong stx_blocks;
            public ulong stx_attributes_mask;
            public fixed byte stx_atime_btime_ctime_mtime[64];
            public uint stx_rdev_major;
            public uint stx_rdev_minor;
            public uint stx_dev_major;
            public uint stx_dev_minor;
            public fixed ulong __spare2[14];
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static unsafe partial int statx_fd(SafeFileDescriptorHandle dirfd, string pathname, int flags, uint mask, statx* statxbuf);
    }
}
