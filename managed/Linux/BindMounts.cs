namespace NetIsolator.Linux;

/// <summary>
/// Bind mounts and mount propagation in the calling thread's mount namespace (for the network files setup, on a
/// thread that has joined a container's; see <see cref="MountNamespace"/>).
/// </summary>
public static class BindMounts
{
    /// <summary>
    /// Makes every mount at or below <paramref name="path"/> a slave (MS_SLAVE|MS_REC): mounts made here from now on
    /// no longer propagate to the peer group the namespace was copied from (the host), while the host's still arrive.
    /// </summary>
    public static void MakeRecursiveSlave(string path) =>
        LinuxException.Check(
            Interop.Libc.mount(null, path, null, Interop.Libc.MS_SLAVE | Interop.Libc.MS_REC, 0),
            "making the mounts recursively slave (MS_SLAVE|MS_REC) at", path);

    /// <summary>
    /// Bind-mounts the file or directory <paramref name="source"/> over <paramref name="target"/>.
    /// </summary>
    /// <remarks>
    /// A bind mount ignores every flag given with MS_BIND except MS_REC: the new mount takes the flags of the mount
    /// the source lives on. Read-only (and nosuid, nodev, noexec, which a configuration file never needs) therefore
    /// takes a second call, MS_REMOUNT|MS_BIND, which changes the flags of that one mount point only.
    /// </remarks>
    public static void Bind(string source, string target, bool readOnly)
    {
        LinuxException.Check(
            Interop.Libc.mount(source, target, null, Interop.Libc.MS_BIND, 0), $"bind-mounting '{source}' over", target);
        if (readOnly)
        {
            const ulong flags = Interop.Libc.MS_REMOUNT | Interop.Libc.MS_BIND | Interop.Libc.MS_RDONLY
                | Interop.Libc.MS_NOSUID | Interop.Libc.MS_NODEV | Interop.Libc.MS_NOEXEC;
            LinuxException.Check(Interop.Libc.mount(null, target, null, flags, 0), "read-only remount of", target);
        }
    }
}
