namespace NetIsolator.Linux;

/// <summary>
/// Runs short synchronous work inside a network namespace on the CALLING thread: setns(2) in, the work, setns(2)
/// back. Two system calls (a few microseconds) where <see cref="NetworkNamespace.Run{T}"/> starts and joins a new
/// OS thread (hundreds of microseconds, and far more on a loaded host) — for hot paths that touch a namespace many
/// times, such as /proc/sys writes and socket creation for every container an isolator sets up.
/// </summary>
/// <remarks>
/// A network namespace belongs to a thread, not to the process (which is why setns(CLONE_NEWNET) is allowed on any
/// thread of a multi-threaded process), and it decides what the thread reaches: sockets created, /proc/sys/net and
/// /proc/thread-self/net files opened. Sockets and files keep the namespace they were opened in after the thread
/// leaves. The work must not await, nor hand the thread back to a pool while inside: it runs start to end on this
/// thread. If the way back fails the thread would silently stay in the wrong namespace, so the process is stopped
/// (Environment.FailFast) instead; setns into a namespace the thread was just in, through an fd it holds, has no
/// documented failure for a privileged caller.
/// </remarks>
public static class NetworkNamespaceVisit
{
    private const string CurrentThreadNamespace = "/proc/thread-self/ns/net";

    /// <summary>Runs <paramref name="action"/> on this thread inside <paramref name="ns"/> and comes back.</summary>
    /// <exception cref="LinuxException">setns into <paramref name="ns"/> failed (nothing ran; the thread is where it was).</exception>
    public static T Visit<T>(this NetworkNamespace ns, Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(ns);
        ArgumentNullException.ThrowIfNull(action);
        using var home = FileDescriptors.OpenNamespaceFile(CurrentThreadNamespace);
        LinuxException.Check(Interop.Libc.setns(ns.Handle, Interop.Libc.CLONE_NEWNET), "setns into", ns.Path);
        try
        {
            return action();
        }
        finally
        {
            if (Interop.Libc.setns(home, Interop.Libc.CLONE_NEWNET) != 0)
            {
                Environment.FailFast($"setns back to the thread's own network namespace after visiting '{ns.Path}' failed: {Errno.Name(Errno.Last)}");
            }
        }
    }

    /// <inheritdoc cref="Visit{T}(NetworkNamespace, Func{T})"/>
    public static void Visit(this NetworkNamespace ns, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        ns.Visit<object?>(() =>
        {
            action();
            return null;
        });
    }
}
