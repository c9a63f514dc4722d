using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace NetIsolator.Linux.Tests;

/// <summary>
/// The hand-declared structs and constants against the system's C headers: a C file of <c>_Static_assert</c>s,
/// generated from the C# values, must compile (Tmds.LibC's approach).
/// </summary>
public sealed class InteropLayoutTests
{
    [Fact]
    public unsafe void StructsAndConstants_MatchTheCHeaders()
    {
        Interop.Libc.statfs fs;
        Interop.Libc.statx sx;
        var checks = new (string C, long Value)[]
        {
            ("sizeof(struct statfs)", sizeof(Interop.Libc.statfs)),
            ("offsetof(struct statfs, f_type)", (byte*)&fs.f_type - (byte*)&fs),
            ("offsetof(struct statfs, f_fsid)", (byte*)fs.f_fsid - (byte*)&fs),
            ("offsetof(struct statfs, f_flags)", (byte*)&fs.f_flags - (byte*)&fs),
            ("sizeof(((struct statfs*)0)->f_type)", sizeof(long)),
            ("sizeof(struct statx)", sizeof(Interop.Libc.statx)),
            ("offsetof(struct statx, stx_ino)", (byte*)&sx.stx_ino - (byte*)&sx),
            ("offsetof(struct statx, stx_mode)", (byte*)&sx.stx_mode - (byte*)&sx),
            ("offsetof(struct statx, stx_dev_major)", (byte*)&sx.stx_dev_major - (byte*)&sx),
            ("offsetof(struct statx, stx_dev_minor)", (byte*)&sx.stx_dev_minor - (byte*)&sx),
            ("CLONE_NEWNS", Interop.Libc.CLONE_NEWNS),
            ("CLONE_FS", Interop.Libc.CLONE_FS),
            ("CLONE_NEWUTS", Interop.Libc.CLONE_NEWUTS),
            ("CLONE_NEWNET", Interop.Libc.CLONE_NEWNET),
            ("NSFS_MAGIC", Interop.Libc.NSFS_MAGIC),
            ("PROC_SUPER_MAGIC", Interop.Libc.PROC_SUPER_MAGIC),
            ("TMPFS_MAGIC", Interop.Libc.TMPFS_MAGIC),
            ("AT_FDCWD", Interop.Libc.AT_FDCWD),
            ("AT_EMPTY_PATH", Interop.Libc.AT_EMPTY_PATH),
            ("STATX_INO", Interop.Libc.STATX_INO),
            ("O_RDONLY", Interop.Libc.O_RDONLY),
            ("O_WRONLY", Interop.Libc.O_WRONLY),
            ("O_CREAT", Interop.Libc.O_CREAT),
            ("O_EXCL", Interop.Libc.O_EXCL),
            ("O_NOCTTY", Interop.Libc.O_NOCTTY),
            ("O_CLOEXEC", Interop.Libc.O_CLOEXEC),
            ("O_DIRECTORY", Interop.Libc.O_DIRECTORY),
            ("O_NOFOLLOW", Interop.Libc.O_NOFOLLOW),
            ("O_PATH", Interop.Libc.O_PATH),
            ("RENAME_EXCHANGE", (long)Interop.Libc.RENAME_EXCHANGE),
            ("FSOPEN_CLOEXEC", Interop.Libc.FSOPEN_CLOEXEC),
            ("FSCONFIG_CMD_CREATE", Interop.Libc.FSCONFIG_CMD_CREATE),
            ("FSMOUNT_CLOEXEC", Interop.Libc.FSMOUNT_CLOEXEC),
            ("MOUNT_ATTR_NOSUID", Interop.Libc.MOUNT_ATTR_NOSUID),
            ("MOUNT_ATTR_NODEV", Interop.Libc.MOUNT_ATTR_NODEV),
            ("MOUNT_ATTR_NOEXEC", Interop.Libc.MOUNT_ATTR_NOEXEC),
            ("MS_BIND", (long)Interop.Libc.MS_BIND),
            ("MS_REC", (long)Interop.Libc.MS_REC),
            ("MS_PRIVATE", (long)Interop.Libc.MS_PRIVATE),
            ("MS_SHARED", (long)Interop.Libc.MS_SHARED),
            ("MNT_DETACH", Interop.Libc.MNT_DETACH),
            ("UMOUNT_NOFOLLOW", Interop.Libc.UMOUNT_NOFOLLOW),
            ("NS_GET_NSTYPE", Interop.Libc.NS_GET_NSTYPE),
        };
        CHeaders.AssertMatch(
        [
            "#define _GNU_SOURCE",
            "#include <fcntl.h>",
            "#include <sched.h>",
            "#include <stddef.h>",
            "#include <stdio.h>",
            "#include <sys/mount.h>",
            "#include <sys/stat.h>",
            "#include <sys/statfs.h>",
            "#include <linux/magic.h>",
            "#include <linux/nsfs.h>",
        ], checks);
    }
}
