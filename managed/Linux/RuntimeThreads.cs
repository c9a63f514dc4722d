using System.Runtime.InteropServices;

namespace NetIsolator.Linux;

/// <summary>
/// Starts the runtime's lazily created, long-lived helper threads from outside any foreign namespace.
/// </summary>
/// <remarks>
/// A thread inherits the namespaces of the thread that creates it, and the runtime creates its helper threads on
/// first need, from whichever thread needs them. The first <c>Process.Start</c> creates the signal-handling thread
/// (".NET SigHandler"); if that happened inside <see cref="NetworkNamespace.Run{T}(Func{T})"/>, the thread would
/// stay in that namespace for the life of the process, keep it alive after its pin is removed, and every thread
/// it creates in turn (it queues SIGCHLD work to the pool) would start there too. Doing the first use here, once,
/// on the thread that calls Run (normally a thread of the host namespace), prevents that for the signal thread,
/// the timer thread and the first pool worker. Pool workers the action itself causes are not covered: the action
/// must not queue work.
/// </remarks>
internal static class RuntimeThreads
{
    private static int s_started;

    public static void EnsureStarted()
    {
        if (Volatile.Read(ref s_started) != 0 || Interlocked.Exchange(ref s_started, 1) != 0)
        {
            return;
        }

        // Initializes the runtime's signal handling (the thread Process.Start would create) and nothing else that
        // lasts: the registration is removed again at once.
        if (OperatingSystem.IsLinux())
        {
            PosixSignalRegistration.Create(PosixSignal.SIGCONT, static _ => { }).Dispose();
        }

        // The timer thread starts with the first scheduled timer.
        using (new Timer(static _ => { }, null, TimeSpan.FromDays(1), Timeout.InfiniteTimeSpan))
        {
        }

        // The first pool worker, and the pool's gate thread.
        using var ran = new ManualResetEventSlim();
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Set(), ran, preferLocal: false);
        ran.Wait(TimeSpan.FromSeconds(5));
    }
}
