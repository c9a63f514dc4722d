namespace NetIsolator.Linux;

/// <summary>
/// An open handle to a network namespace: a pin (bind mount, see <see cref="PersistentNetworkNamespace"/>), or a
/// <c>/proc/.../ns/net</c> file. The fd keeps the namespace alive while it is open, even if the pin is removed.
/// </summary>
/// <remarks>
/// <para>
/// Code runs inside the namespace only through <see cref="Run{T}(Func{T})"/>: a new OS thread is started, it
/// setns()es into the namespace, runs the action and ends. The caller's thread, and every thread-pool thread, stay
/// where they were, so no restore step exists that could fail (the safe form of containernetworking's
/// <c>ns.Do</c>). Never <c>await</c> inside the action: the continuation would run on some other thread.
/// </para>
/// <para>
/// Threads and processes inherit the namespace of the thread that creates them. A process started with
/// <see cref="System.Diagnostics.Process.Start(System.Diagnostics.ProcessStartInfo)"/> inside the action is forked
/// from the dedicated thread, so it runs in this namespace; that is how a CNI plugin is run "in the host namespace"
/// of a test. Start it inside <c>Run</c> and read its output and wait for it after <c>Run</c> returns. Conversely, do
/// not start threads, queue thread-pool work or use asynchronous I/O inside the action: a thread created from there
/// (the runtime creates pool threads on demand, from the thread that queues the work) would live in this namespace
/// for the rest of the process.
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
    /// Runs <paramref name="action"/> on a new OS thread that has joined this namespace, waits for it and returns
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
            return NamespaceThread.Run("netns", () =>
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
