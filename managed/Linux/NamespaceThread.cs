using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace NetIsolator.Linux;

/// <summary>
/// Runs a function on a dedicated OS thread, one kept for namespace work and never a pool thread, and waits for it.
/// Whatever namespaces the function moves that thread into, the thread leaves them afterwards: it goes back to the
/// network, UTS and mount namespaces it started in, and only if it is verifiably there again (namespaces and root
/// directory) is it reused. Otherwise it ends, and the foreign namespaces end with it, as a thread made for a single
/// function would.
/// </summary>
/// <remarks>
/// Reuse is for speed: creating a thread costs 0.5-1 ms on hosts where first-touch page faults are dear (its stack,
/// its runtime state), paid twice per container attach (the setup in its mount namespace, the plugin start in a host
/// namespace). Each worker gives itself a filesystem context of its own (<c>unshare(CLONE_FS)</c>) when it starts,
/// which joining a mount namespace needs and which keeps its root and working directory apart from the process's.
/// A few idle workers are kept; callers beyond that get a new one, which ends when it is done.
/// </remarks>
internal static class NamespaceThread
{
    /// <summary>Enough for plugin start-up and netlink; the default would be the runtime's 1.5 MB anyway.</summary>
    private const int StackSize = 1024 * 1024;

    /// <summary>Idle workers kept for reuse; more are made when more functions run at once.</summary>
    private const int MaxIdleWorkers = 4;

    private static readonly ConcurrentBag<Worker> s_idle = [];

    public static T Run<T>(Func<T> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        if (!s_idle.TryTake(out var worker))
        {
            worker = new Worker();
        }

        T result = default!;
        var failure = worker.Run(() => result = function());
        if (worker.IsHome && s_idle.Count < MaxIdleWorkers)
        {
            s_idle.Add(worker);
        }
        else
        {
            worker.Retire();
        }

        failure?.Throw();
        return result;
    }

    /// <summary>One dedicated thread, running one function at a time handed to it by <see cref="Run"/>.</summary>
    private sealed class Worker
    {
        private readonly SemaphoreSlim _start = new(0);
        private readonly SemaphoreSlim _done = new(0);
        private Action? _work;
        private ExceptionDispatchInfo? _failure;

        public Worker()
        {
            var thread = new Thread(Loop, StackSize) { IsBackground = true, Name = "namespaces" };
            thread.Start();
        }

        /// <summary>False once the thread could not return to (or, at its start, settle in) its own namespaces.</summary>
        public bool IsHome { get; private set; } = true;

        public ExceptionDispatchInfo? Run(Action work)
        {
            _work = work;
            _failure = null;
            _start.Release();
            _done.Wait();
            return _failure;
        }

        /// <summary>Lets the thread end.</summary>
        public void Retire()
        {
            _work = null;
            _start.Release();
        }

        private void Loop()
        {
            Home home;
            try
            {
                LinuxException.Check(Interop.Libc.unshare(Interop.Libc.CLONE_FS), "unshare(CLONE_FS) of a namespace thread");
                home = Home.OfCurrentThread();
            }
            catch (Exception e)
            {
                // The first function fails with this, and the thread ends.
                IsHome = false;
                _start.Wait();
                _failure = ExceptionDispatchInfo.Capture(e);
                _done.Release();
                return;
            }

            using var _ = home;
            while (true)
            {
                _start.Wait();
                if (_work is not { } work)
                {
                    return;
                }

                try
                {
                    work();
                }
                catch (Exception e)
                {
                    _failure = ExceptionDispatchInfo.Capture(e);
                }

                IsHome = home.Return();
                _done.Release();
                if (!IsHome)
                {
                    return;
                }
            }
        }
    }

    /// <summary>The namespaces, root and working directory a worker started with, held open to return to.</summary>
    private sealed class Home : IDisposable
    {
        private readonly (SafeFileDescriptorHandle Handle, int Type, string Path, NamespaceId Id)[] _namespaces;
        private readonly SafeFileDescriptorHandle _workingDirectory;
        private readonly NamespaceId _root;

        private Home((SafeFileDescriptorHandle, int, string, NamespaceId)[] namespaces, SafeFileDescriptorHandle workingDirectory, NamespaceId root)
        {
            _namespaces = namespaces;
            _workingDirectory = workingDirectory;
            _root = root;
        }

        public static Home OfCurrentThread()
        {
            var namespaces = new List<(SafeFileDescriptorHandle, int, string, NamespaceId)>();
            try
            {
                // The mount namespace first: /proc, where the others are checked, is then this process's again.
                foreach (var (type, name) in new[] { (Interop.Libc.CLONE_NEWNS, "mnt"), (Interop.Libc.CLONE_NEWNET, "net"), (Interop.Libc.CLONE_NEWUTS, "uts") })
                {
                    var path = $"/proc/thread-self/ns/{name}";
                    var handle = FileDescriptors.OpenNamespaceFile(path);
                    namespaces.Add((handle, type, path, FileDescriptors.Identity(handle, path)));
                }

                var workingDirectory = FileDescriptors.OpenDirectory(".");
                return new Home([.. namespaces], workingDirectory, FileDescriptors.DirectoryIdentity("/"));
            }
            catch
            {
                foreach (var (handle, _, _, _) in namespaces)
                {
                    handle.Dispose();
                }

                throw;
            }
        }

        /// <summary>
        /// Joins the home namespaces again (joining the mount namespace also resets root and working directory to
        /// its root) and the working directory, then checks each; false if anything is not as it was.
        /// </summary>
        public bool Return()
        {
            foreach (var (handle, type, _, _) in _namespaces)
            {
                if (Interop.Libc.setns(handle, type) != 0)
                {
                    return false;
                }
            }

            foreach (var (_, _, path, id) in _namespaces)
            {
                if (!IsCurrent(path, id))
                {
                    return false;
                }
            }

            return Interop.Libc.fchdir(_workingDirectory.FileDescriptor) == 0 && SafeIdentity("/") == _root;
        }

        public void Dispose()
        {
            foreach (var (handle, _, _, _) in _namespaces)
            {
                handle.Dispose();
            }

            _workingDirectory.Dispose();
        }

        private static bool IsCurrent(string path, NamespaceId id)
        {
            try
            {
                using var handle = FileDescriptors.OpenNamespaceFile(path);
                return FileDescriptors.Identity(handle, path) == id;
            }
            catch (IOException)
            {
                return false;
            }
        }

        private static NamespaceId? SafeIdentity(string path)
        {
            try
            {
                return FileDescriptors.DirectoryIdentity(path);
            }
            catch (IOException)
            {
                return null;
            }
        }
    }
}
