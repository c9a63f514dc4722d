using System.Collections.Concurrent;
using Mesos;
using Mesos.Slave;

namespace NetIsolator.Bridge.Tests;

/// <summary>
/// An isolator whose every method records what it was called with (and on which thread), then does what the
/// test configured, or what <see cref="Isolator"/> does by default when nothing was configured.
/// </summary>
internal sealed class FakeIsolator : Isolator
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _watchesStarted = new(StringComparer.Ordinal);
    private int _running;
    private int _disposeCount;

    public Func<IReadOnlyList<ContainerState>, IReadOnlyList<ContainerID>, Task>? OnRecover { get; set; }
    public Func<ContainerID, ContainerConfig, Task<ContainerLaunchInfo?>>? OnPrepare { get; set; }
    public Func<ContainerID, int, Task>? OnIsolate { get; set; }
    public Func<ContainerID, CancellationToken, Task<ContainerLimitation?>>? OnWatch { get; set; }
    public Func<ContainerID, IReadOnlyList<Resource>, IReadOnlyDictionary<string, Value.Types.Scalar>, Task>? OnUpdate { get; set; }
    public Func<ContainerID, Task<ResourceStatistics>>? OnUsage { get; set; }
    public Func<ContainerID, Task<ContainerStatus>>? OnStatus { get; set; }
    public Func<ContainerID, Task>? OnCleanup { get; set; }
    public Func<IReadOnlyDictionary<string, double>>? OnMetrics { get; set; }

    /// <summary>Method name → managed thread id it last ran on (at entry, before any await).</summary>
    public ConcurrentDictionary<string, int> Threads { get; } = new(StringComparer.Ordinal);

    /// <summary>"method container-key" per call, in the order the calls reached the isolator.</summary>
    public ConcurrentQueue<string> Calls { get; } = new();

    public TaskCompletionSource Disposed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int DisposeCount => Volatile.Read(ref _disposeCount);

    /// <summary>How many isolator methods were still running when <see cref="DisposeAsync"/> began.</summary>
    public int RunningAtDispose { get; private set; } = -1;

    /// <summary>Completes once the bridge has called <see cref="WatchAsync"/> for the container.</summary>
    public Task WatchStarted(string containerKey) => WatchStartedSource(containerKey).Task.WaitAsync(NativeCall.Timeout);

    public override Task RecoverAsync(IReadOnlyList<ContainerState> states, IReadOnlyList<ContainerID> orphans) =>
        Run("recover", $"{states.Count}+{orphans.Count}",
            () => OnRecover?.Invoke(states, orphans) ?? base.RecoverAsync(states, orphans));

    public override Task<ContainerLaunchInfo?> PrepareAsync(ContainerID containerId, ContainerConfig config) =>
        Run("prepare", containerId.ToKey(),
            () => OnPrepare?.Invoke(containerId, config) ?? base.PrepareAsync(containerId, config));

    public override Task IsolateAsync(ContainerID containerId, int pid) =>
        Run("isolate", containerId.ToKey(),
            () => OnIsolate?.Invoke(containerId, pid) ?? base.IsolateAsync(containerId, pid));

    public override Task<ContainerLimitation?> WatchAsync(ContainerID containerId, CancellationToken containerGone) =>
        Run("watch", containerId.ToKey(), () =>
        {
            WatchStartedSource(containerId.ToKey()).TrySetResult();
            return OnWatch?.Invoke(containerId, containerGone) ?? base.WatchAsync(containerId, containerGone);
        });

    public override Task UpdateAsync(
        ContainerID containerId,
        IReadOnlyList<Resource> resourceRequests,
        IReadOnlyDictionary<string, Value.Types.Scalar> resourceLimits) =>
        Run("update", containerId.ToKey(),
            () => OnUpdate?.Invoke(containerId, resourceRequests, resourceLimits)
                  ?? base.UpdateAsync(containerId, resourceRequests, resourceLimits));

    public override Task<ResourceStatistics> UsageAsync(ContainerID containerId) =>
        Run("usage", containerId.ToKey(), () => OnUsage?.Invoke(containerId) ?? base.UsageAsync(containerId));

    public override Task<ContainerStatus> StatusAsync(ContainerID containerId) =>
        Run("status", containerId.ToKey(), () => OnStatus?.Invoke(containerId) ?? base.StatusAsync(containerId));

    public override Task CleanupAsync(ContainerID containerId) =>
        Run("cleanup", containerId.ToKey(), () => OnCleanup?.Invoke(containerId) ?? base.CleanupAsync(containerId));

    public override IReadOnlyDictionary<string, double> MetricsSnapshot()
    {
        Threads["metrics"] = System.Environment.CurrentManagedThreadId;
        Calls.Enqueue("metrics");
        Interlocked.Increment(ref _running);
        try
        {
            return OnMetrics is { } onMetrics ? onMetrics() : base.MetricsSnapshot(); // null too, when told to
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        RunningAtDispose = Volatile.Read(ref _running);
        Interlocked.Increment(ref _disposeCount);
        await base.DisposeAsync();
        Disposed.TrySetResult();
    }

    private TaskCompletionSource WatchStartedSource(string containerKey) =>
        _watchesStarted.GetOrAdd(containerKey, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private async Task Run(string method, string subject, Func<Task> body) =>
        await Run(method, subject, async () =>
        {
            await body().ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);

    private async Task<T> Run<T>(string method, string subject, Func<Task<T>> body)
    {
        Threads[method] = System.Environment.CurrentManagedThreadId;
        Calls.Enqueue($"{method} {subject}");
        Interlocked.Increment(ref _running);
        try
        {
            return await body().ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }
}
