using System.Runtime.InteropServices;

namespace NetIsolator.Linux;

/// <summary>Mount propagation for the directory that holds namespace pins (mesos-cni §1.2 step 8).</summary>
public static class MountPropagation
{
    /// <summary>
    /// Makes <paramref name="directory"/> a mount point of its own that is shared in a peer group of its own:
    /// if it is not a mount point it is bind-mounted onto itself (recursively), then made private and shared.
    /// Idempotent: nothing is done when the top mount at the directory is already shared and no mount outside the
    /// directory's subtree is in its peer group.
    /// </summary>
    /// <remarks>
    /// Why: container mount namespaces are copies of the host's, and each copy holds its own copy of every pin. With
    /// the directory shared in its own group, an unmount of a pin on the host propagates to those copies, so the
    /// namespace really goes away. The group must be our own so that our mounts do not propagate to the rest of
    /// the host (and theirs not to us). Call it before pinning anything: a directory that is not yet a mount point
    /// but already has mounts below it is refused, since binding it onto itself would bury those mounts under the
    /// new one where no path reaches them (a plain bind even makes them read as plain files, sriov-cni#447).
    /// Unlike Mesos, the directory always gets a mount of its own, even when an enclosing mount is already shared.
    /// </remarks>
    /// <returns>Whether anything was changed.</returns>
    /// <exception cref="LinuxException">Resolving the path or a mount step failed.</exception>
    /// <exception cref="InvalidOperationException">The directory is not a mount point and has mounts below it.</exception>
    public static bool EnsureSharedMountPoint(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var path = RealPath(directory);
        var mounts = MountInfo.ReadSelf();
        var top = mounts.LastOrDefault(m => m.MountPoint == path);
        if (top is null)
        {
            var below = mounts.Where(m => m.MountPoint != path && IsAtOrBelow(m.MountPoint, path)).ToList();
            if (below.Count > 0)
            {
                throw new InvalidOperationException(
                    $"'{path}' is not a mount point but has {below.Count} mount(s) below it, e.g. '{below[0].MountPoint}': "
                    + "binding it onto itself would leave those unreachable; remove them first (PersistentNetworkNamespace.Remove)");
            }
            LinuxException.Check(
                Interop.Libc.mount(path, path, null, Interop.Libc.MS_BIND | Interop.Libc.MS_REC, 0), "bind-mount onto itself", path);
        }
        else if (top.SharedPeerGroup is int group
                 && !mounts.Any(m => m.SharedPeerGroup == group && !IsAtOrBelow(m.MountPoint, path)))
        {
            return false;
        }
        LinuxException.Check(Interop.Libc.mount(null, path, null, Interop.Libc.MS_PRIVATE, 0), "make-private", path);
        LinuxException.Check(Interop.Libc.mount(null, path, null, Interop.Libc.MS_SHARED, 0), "make-shared", path);
        return true;
    }

    /// <summary>The top mount at exactly <paramref name="directory"/> (after resolving it), or null if it is not a mount point.</summary>
    public static MountInfoEntry? FindMountPoint(string directory)
    {
        var path = RealPath(directory);
        return MountInfo.ReadSelf().LastOrDefault(m => m.MountPoint == path);
    }

    /// <summary>realpath(3): absolute, with symlinks, <c>.</c> and <c>..</c> resolved; mountinfo shows paths this way.</summary>
    public static string RealPath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var resolved = Interop.Libc.realpath(path, 0);
        if (resolved == 0)
        {
            throw new LinuxException(Errno.Last, "realpath", path);
        }
        try
        {
            return Marshal.PtrToStringUTF8(resolved)!;
        }
        finally
        {
            Interop.Libc.free(resolved);
        }
    }

    private static bool IsAtOrBelow(string mountPoint, string directory) =>
        mountPoint == directory
        || (mountPoint.StartsWith(directory, StringComparison.Ordinal)
            && (directory == "/" || mountPoint[directory.Length] == '/'));
}
