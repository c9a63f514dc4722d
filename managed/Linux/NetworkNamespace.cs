namespace NetIsolator.Linux;

/// <summary>
/// An open handle to a network namespace: a pin (bind mount, see <see cref="PersistentNetworkNamespace"/>), or a
/// <c>/proc/.../ns/net</c> file. The fd keeps the namespace alive while it is open, even if the pin is removed.
/// </summary>
/// <remarks>
/// <para>
/// Code runs inside the namespace only through <see cref="Run{T}(Func{T})"/>: a dedicated OS thread (see
/// <see cref="NamespaceThread"/>) setns()es into the namespace, runs the action, and goes back to where it was, or
/// ends if it cannot be sure it did. The caller's thread, and every thread-pool thread, never move, so a failed
/// restore can strand nothing (the safe form of containernetworking's <c>ns.Do</c>). Never <c>await</c> inside the
/// action: the continuation would run on some other thread.
/// </para>
/// <para>
/// Threads and processes inherit the namespace of the thread that creates them: that is how a CNI plugin is run "in
/// the host namespace" of a test, with <see cref="StartProcess"/>, the one exception to the rule above (the calling
/// thread joins for the fork alone, and its return is checked). Conversely, do not start threads, queue thread-pool
/// work or use asynchronous I/O inside an action: a thread created from there (the runtime creates pool threads on
/// demand, from the thread that queues the work) would live in this namespace for the rest of the process.
/// </para>
/// </remarks>
public sealed class NetworkNamespace : IDisposable
{
    private const string CurrentThreadPath = "/proc/thread-self/ns/net";

    private NetworkNamespace(string path, SafeFileDescriptorHandle handle, NamespaceId id)
    {
        Path = path;
        Handle = handle;
        Id = id;
    }

    /// <summary>The path the namespace was opened from (for messages; the handle, not the path, is used).</summary>
    public string Path { get; }

    /// <summary>The open fd. Owned by this object.</summary>
    public SafeFileDescriptorHandle Handle { get; }

    /// <summary>Device and inode of the namespace.</summary>
    public NamespaceId Id { get; }

    /// <summary>
    /// Opens and validates a namespace path: it must be on nsfs (or proc, on old kernels), and where the kernel can
    /// tell (NS_GET_NSTYPE), a network namespace.
    /// </summary>
    /// <exception cref="NamespaceNotFoundException">The path does not exist.</exception>
    /// <exception cref="NotANamespaceException">The path exists but is on another filesystem, e.g. an unmounted pin, or is another kind of namespace.</exception>
    /// <exception cref="LinuxException">Any other failure, with its errno.</exception>
    public static NetworkNamespace Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var handle = FileDescriptors.OpenNamespaceFile(path);
        try
        {
            var magic = FileDescriptors.FilesystemMagic(handle, path);
            if (!FileDescriptors.IsNamespaceFilesystem(magic))
            {
                throw new NotANamespaceException(path, magic);
            }
            // nsfs also holds mnt, uts, ... namespaces; setns would refuse those with a bare EINVAL later.
            var type = Interop.Libc.ioctl(handle, Interop.Libc.NS_GET_NSTYPE);
            if (type >= 0 && type != Interop.Libc.CLONE_NEWNET)
            {
                throw NotANamespaceException.OfOtherType(path, magic, type);
            }
            return new NetworkNamespace(path, handle, FileDescriptors.Identity(handle, path));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The namespace of the calling thread (<c>/proc/thread-self/ns/net</c>; <c>/proc/self</c> would name the main
    /// thread's). <see cref="Path"/> is that literal path and only meaningful on the thread that opened it.
    /// </summary>
    public static NetworkNamespace OpenCurrentThread() => Open(CurrentThreadPath);

    /// <summary>
    /// Starts a process in this namespace from the calling thread, which joins the namespace for the start alone (the
    /// child is forked, and execs, inside it) and is back in its own before this returns; read the process's output
    /// and wait for it afterwards. Handing the start to another thread instead costs up to a millisecond when that
    /// thread's CPU is idle (it has to be woken), on top of the fork and exec a plugin start is.
    /// </summary>
    /// <remarks>
    /// The one place a shared thread changes namespace, so it is narrow: no caller code runs inside, and the return is
    /// checked. A thread that could not return would run whatever the pool or the agent gives it next in this
    /// namespace, so that ends the process (setns into a namespace held open by this process, as root, does not
    /// fail in practice).
    /// </remarks>
    /// <exception cref="LinuxException">Joining the namespace failed; nothing was started.</exception>
    public System.Diagnostics.Process StartProcess(System.Diagnostics.ProcessStartInfo startInfo)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
        RuntimeThreads.EnsureStarted();
        using var home = OpenCurrentThread();
        LinuxException.Check(Interop.Libc.setns(Handle, Interop.Libc.CLONE_NEWNET), "setns into", Path);
        try
        {
            return System.Diagnostics.Process.Start(startInfo) ?? throw new InvalidOperationException("Process.Start returned no process");
        }
        finally
        {
            ReturnOrFail(home);
        }
    }

    private void ReturnOrFail(NetworkNamespace home)
    {
        if (Interop.Libc.setns(home.Handle, Interop.Libc.CLONE_NEWNET) != 0)
        {
            var errno = Errno.Last;
            Environment.FailFast($"a thread that started a process in the network namespace '{Path}' could not return to its own ({home.Id}): setns failed with {Errno.Name(errno)}");
        }

        using var now = OpenCurrentThread();
        if (now.Id != home.Id)
        {
            Environment.FailFast($"a thread that started a process in the network namespace '{Path}' is in {now.Id}, not back in its own ({home.Id})");
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> on a dedicated OS thread that has joined this namespace, waits for it and returns
    /// its result. An exception from the action, or from setns, is rethrown here with its original stack.
    /// </summary>
    public T Run<T>(Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
        RuntimeThreads.EnsureStarted();
        var added = false;
        Handle.DangerousAddRef(ref added);
        try
        {
            return NamespaceThread.Run(() =>
            {
                LinuxException.Check(Interop.Libc.setns(Handle, Interop.Libc.CLONE_NEWNET), "setns into", Path);
                return action();
            });
        }
        finally
        {
            if (added)
            {
                Handle.DangerousRelease();
            }
        }
    }

    /// <inheritdoc cref="Run{T}(Func{T})"/>
    public void Run(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Run<object?>(() =>
        {
            action();
            return null;
        });
    }

    public void Dispose() => Handle.Dispose();

    public override string ToString() => $"{Id} ({Path})";
}
