using System.Collections.Concurrent;
using Google.Protobuf;
using Mesos;
using Mesos.Slave;

namespace NetIsolator.Bridge;

/// <summary>
/// One isolator instance as the native side sees it: reads each request, runs the isolator's method on the
/// thread pool (never on the caller's thread, which in the agent is a libprocess worker that must not block),
/// and answers through the call's <see cref="Completion"/>. No exception leaves this class.
/// </summary>
/// <remarks>
/// Answers are not checked for proto2 required fields here: that needs protobuf reflection descriptors, whose
/// construction for Mesos's schema costs more than starting the runtime. The receiving side checks them with
/// its own generated code (the shim with the agent's classes, the C++ client with ours) and names the missing
/// fields.
/// </remarks>
internal sealed class IsolatorHost
{
    /// <summary>Per container: cancelled once the container has been cleaned up, which ends its watch.</summary>
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _containerGone = new(StringComparer.Ordinal);
    private int _callsInFlight;
    private int _closed;
    private int _disposed;

    public IsolatorHost(string moduleName, Isolator isolator)
    {
        ModuleName = moduleName;
        Isolator = isolator;
    }

    public string ModuleName { get; }

    public Isolator Isolator { get; }

    /// <summary>The C ABI's NETISO_SUPPORTS_* bits.</summary>
    public int Capabilities => (Isolator.SupportsNesting ? 1 : 0) | (Isolator.SupportsStandalone ? 2 : 0);

    public void Dispatch(LifecycleMethod method, ReadOnlySpan<byte> requestBytes, Completion completion)
    {
        var operation = LifecycleOperations.Find(method);
        if (operation is null)
        {
            completion.Fail($"{ModuleName}: unknown lifecycle method #{(int)method}");
            return;
        }
        if (Volatile.Read(ref _closed) != 0)
        {
            completion.Fail($"{ModuleName}: {operation.Name} after the isolator was destroyed");
            return;
        }

        IMessage request;
        try
        {
            request = operation.Parser.ParseFrom(requestBytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            completion.Fail($"{ModuleName}: {operation.Name}: malformed {operation.RequestName} "
                            + $"({requestBytes.Length} bytes): {e.Message}");
            return;
        }
        if (operation.MissingFields(request) is { } missing)
        {
            completion.Fail($"{ModuleName}: {operation.Name}: {operation.RequestName} lacks required field(s) {missing}");
            return;
        }

        // Counted before the closed check, so Close() either sees this call in flight or this call sees it closed.
        Interlocked.Increment(ref _callsInFlight);
        if (Volatile.Read(ref _closed) != 0)
        {
            completion.Fail($"{ModuleName}: {operation.Name} after the isolator was destroyed");
            EndCall();
            return;
        }
        ThreadPool.UnsafeQueueUserWorkItem(new PendingCall(this, operation, request, completion), preferLocal: false);
    }

    private async Task RunAsync(LifecycleOperation operation, IMessage request, Completion completion)
    {
        try
        {
            var response = await operation.Run(this, request).ConfigureAwait(false);
            if (response is null)
            {
                completion.Abandon();
                return;
            }
            completion.Succeed(response);
        }
        catch (Exception e)
        {
            var reason = e is IsolatorException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            completion.Fail($"{ModuleName}: {operation.Name} of {operation.Subject(request)} failed: {reason}");
            if (e is not IsolatorException)
            {
                BridgeLog.LogWarning($"{ModuleName}: {operation.Name} of {operation.Subject(request)}: {e}");
            }
        }
        finally
        {
            EndCall();
        }
    }

    /// <summary>The last call to end after Close() disposes the isolator.</summary>
    private void EndCall()
    {
        if (Interlocked.Decrement(ref _callsInFlight) == 0 && Volatile.Read(ref _closed) != 0)
        {
            _ = DisposeIsolatorOnceAsync();
        }
    }

    public async Task<IMessage?> WatchAsync(ContainerID containerId)
    {
        var gone = _containerGone.GetOrAdd(containerId.ToKey(), _ => new CancellationTokenSource());
        if (Volatile.Read(ref _closed) != 0)
        {
            gone.Cancel(); // Close() may have swept the table before this watch registered
        }
        try
        {
            return await Isolator.WatchAsync(containerId, gone.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (gone.IsCancellationRequested)
        {
            return null;
        }
    }

    public async Task CleanupAsync(ContainerID containerId)
    {
        try
        {
            await Isolator.CleanupAsync(containerId).ConfigureAwait(false);
        }
        finally
        {
            // Mesos calls cleanup once, and the container is gone afterwards whether or not it succeeded.
            if (_containerGone.TryRemove(containerId.ToKey(), out var gone))
            {
                gone.Cancel();
            }
        }
    }

    /// <summary>Ends every watch; the isolator is disposed once the calls still in flight have finished.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        foreach (var key in _containerGone.Keys)
        {
            if (_containerGone.TryRemove(key, out var gone))
            {
                gone.Cancel();
            }
        }
        if (Volatile.Read(ref _callsInFlight) == 0)
        {
            _ = DisposeIsolatorOnceAsync();
        }
    }

    private async Task DisposeIsolatorOnceAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            await Isolator.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            BridgeLog.LogWarning($"{ModuleName}: disposing the isolator failed: {e}");
        }
    }

    private sealed class PendingCall(IsolatorHost host, LifecycleOperation operation, IMessage request, Completion completion)
        : IThreadPoolWorkItem
    {
        public void Execute() => _ = host.RunAsync(operation, request, completion);
    }
}
