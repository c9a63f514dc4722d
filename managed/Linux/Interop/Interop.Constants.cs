internal static partial class Interop
{
    internal static partial class Libc
    {
        // <sched.h>: namespace types for unshare(2) and setns(2), and CLONE_FS (the filesystem context: root, cwd, umask).
        internal const int CLONE_FS = 0x00000200;
        internal const int CLONE_NEWNS = 0x00020000;
        internal const int CLONE_NEWUTS = 0x04000000;
        internal const int CLONE_NEWNET = 0x40000000;

        // <linux/magic.h>: f_type values reported by statfs(2).
        internal const long NSFS_MAGIC = 0x6e736673;
        internal const long PROC_SUPER_MAGIC = 0x9fa0;
        internal const long TMPFS_MAGIC = 0x01021994;

        // <fcntl.h>
        internal const int AT_FDCWD = -100;
        internal const int AT_EMPTY_PATH = 0x1000;
    }
}
