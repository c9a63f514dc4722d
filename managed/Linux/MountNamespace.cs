namespace NetIsolator.Linux;

/// <summary>
/// Runs code inside the mount namespace of a process held before exec, on a dedicated thread of this process.
/// </summary>
/// <remarks>
/// <para>The kernel refuses setns(CLONE_NEWNS) with EINVAL to a task whose filesystem context (struct fs_struct: root,
/// working directory, umask) is shared with other tasks, and all threads of a process share one. A thread that first
/// calls unshare(CLONE_FS) holds a private copy and may join: its root and working directory become the namespace's
/// root, for that thread alone. The thread is a dedicated one of <see cref="NamespaceThread"/>, which has such a copy
/// from its start, and which afterwards goes back to this process's namespace, root and working directory (or ends,
/// if it cannot), so no other thread ever sees the container's.</para>
/// <para>Every path the action uses resolves in the other namespace, including any file the runtime opens lazily on
/// that thread (a library a P/Invoke binds on first call, an assembly). That is only safe while the namespace still
/// has this process's root: a fresh copy of our mount table, as a container's is while it is held before exec. So a
/// process whose root differs (it has pivoted or chrooted) is refused, and so is one that shares this process's own
/// namespace, where mounting would change the host's view.</para>
/// </remarks>
public static class MountNamespace
{
    private const string OwnNamespacePath = "/proc/self/ns/mnt";

    /// <summary>Runs <paramref name="action"/> on a dedicated thread that has joined the mount namespace of <paramref name="pid"/>.</summary>
    /// <exception cref="MountNamespaceRefusedException">The pid shares this process's mount namespace, or has another root.</exception>
    /// <exception cref="LinuxException">Opening, comparing or joining failed (<see cref="NamespaceNotFoundException"/>: no such pid).</exception>
    public static T RunInNamespaceOf<T>(int pid, Func<T> action)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid);
        ArgumentNullException.ThrowIfNull(action);
        var path = $"/proc/{pid}/ns/mnt";
        using var target = FileDescriptors.OpenNamespaceFile(path);
        using (var own = FileDescriptors.OpenNamespaceFile(OwnNamespacePath))
        {
            if (FileDescriptors.Identity(target, path) == FileDescriptors.Identity(own, OwnNamespacePath))
            {
                throw new MountNamespaceRefusedException(pid, "it is in this process's own mount namespace");
            }
        }

        var root = $"/proc/{pid}/root";
        if (FileDescriptors.DirectoryIdentity(root) != FileDescriptors.DirectoryIdentity("/"))
        {
            throw new MountNamespaceRefusedException(pid, $"its root ('{root}') is not this process's root: it has already pivoted or chrooted");
        }

        RuntimeThreads.EnsureStarted();
        var added = false;
        target.DangerousAddRef(ref added);
        try
        {
            return NamespaceThread.Run(() =>
            {
                LinuxException.Check(Interop.Libc.setns(target, Interop.Libc.CLONE_NEWNS), "setns into", path);
                return action();
            });
        }
        finally
        {
            if (added)
            {
                target.DangerousRelease();
            }
        }
    }

    /// <inheritdoc cref="RunInNamespaceOf{T}(int, Func{T})"/>
    public static void RunInNamespaceOf(int pid, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        RunInNamespaceOf<object?>(pid, () =>
        {
            action();
            return null;
        });
    }
}

/// <summary>A mount namespace <see cref="MountNamespace"/> will not join; the message says why.</summary>
public sealed class MountNamespaceRefusedException(int pid, string reason)
    : IOException($"the mount namespace of pid {pid} is not joined: {reason}")
{
    public int Pid { get; } = pid;

    /// <summary>Why, as a clause: "it is in this process's own mount namespace".</summary>
    public string Reason { get; } = reason;
}
