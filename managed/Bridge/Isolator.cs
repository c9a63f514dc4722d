using Mesos;
using Mesos.Slave;

namespace NetIsolator.Bridge;

/// <summary>
/// The managed counterpart of <c>mesos::slave::Isolator</c>. An isolator overrides what it needs; every method
/// that is not overridden behaves as Mesos's own default does. The bridge calls these methods on thread-pool
/// threads, concurrently: for different containers, and for the same container too where the agent overlaps
/// calls (usage or status during update; <see cref="WatchAsync"/> stays pending throughout). Implementations
/// must be thread-safe.
/// </summary>
public abstract class Isolator : IAsyncDisposable
{
    /// <summary>Whether nested containers (a <see cref="ContainerID"/> with a parent) are sent to this isolator.</summary>
    public virtual bool SupportsNesting => false;

    /// <summary>Whether standalone containers (launched without an executor) are sent to this isolator.</summary>
    public virtual bool SupportsStandalone => false;

    /// <summary>
    /// Called once at agent start with the containers the agent checkpointed and the orphans it found
    /// (containers the isolator may know but the agent does not; Mesos destroys them afterwards, which ends in
    /// <see cref="CleanupAsync"/>). A failure aborts the agent's recovery.
    /// </summary>
    public virtual Task RecoverAsync(IReadOnlyList<ContainerState> states, IReadOnlyList<ContainerID> orphans) =>
        Task.CompletedTask;

    /// <summary>
    /// Called before the container's first process starts. The answer (or null for none) is merged into what the
    /// agent uses to launch it: namespaces to clone, commands to run inside the container first, environment.
    /// </summary>
    public virtual Task<ContainerLaunchInfo?> PrepareAsync(ContainerID containerId, ContainerConfig config) =>
        Task.FromResult<ContainerLaunchInfo?>(null);

    /// <summary>Called once the container's first process exists (forked, held before exec).</summary>
    public virtual Task IsolateAsync(ContainerID containerId, int pid) => Task.CompletedTask;

    /// <summary>
    /// Called once per container; completes only when the container hits a limitation, which makes the agent
    /// destroy it. Return null (or observe <paramref name="containerGone"/>, cancelled when the container has been
    /// cleaned up) to never report one. Throwing also destroys the container: do it only on purpose.
    /// </summary>
    public virtual async Task<ContainerLimitation?> WatchAsync(ContainerID containerId, CancellationToken containerGone)
    {
        var gone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (containerGone.Register(() => gone.TrySetResult()))
        {
            await gone.Task.ConfigureAwait(false);
        }
        return null;
    }

    /// <summary>Called when the container's resources change (e.g. ports added or removed).</summary>
    public virtual Task UpdateAsync(
        ContainerID containerId,
        IReadOnlyList<Resource> resourceRequests,
        IReadOnlyDictionary<string, Value.Types.Scalar> resourceLimits) => Task.CompletedTask;

    /// <summary>
    /// The container's statistics as far as this isolator knows them. The agent merges the answers of all its
    /// isolators; <see cref="ResourceStatistics.Timestamp"/> is required by the wire format.
    /// </summary>
    public virtual Task<ResourceStatistics> UsageAsync(ContainerID containerId) => Task.FromResult(StatisticsNow());

    /// <summary>Empty statistics stamped with the current time (seconds since the epoch), which the wire format requires.</summary>
    protected static ResourceStatistics StatisticsNow() =>
        new() { Timestamp = (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds };

    /// <summary>
    /// Runs a lifecycle step that completes synchronously as a task: its exception becomes the task's fault instead of
    /// escaping from the call, as the bridge expects of every lifecycle method.
    /// </summary>
    protected static Task<T> RunSynchronously<T>(Func<T> step)
    {
        ArgumentNullException.ThrowIfNull(step);
        try
        {
            return Task.FromResult(step());
        }
        catch (Exception e)
        {
            return Task.FromException<T>(e);
        }
    }

    /// <summary>The container's status as far as this isolator knows it (e.g. its network addresses).</summary>
    public virtual Task<ContainerStatus> StatusAsync(ContainerID containerId) => Task.FromResult(new ContainerStatus());

    /// <summary>
    /// Called once when the container is destroyed, after prepare finished or failed, and possibly for a
    /// container this isolator never saw (which it must then ignore).
    /// </summary>
    public virtual Task CleanupAsync(ContainerID containerId) => Task.CompletedTask;

    /// <summary>
    /// The isolator's counters and gauges, each under its full name as the agent's <c>/metrics/snapshot</c> lists
    /// it (Mesos's isolators use <c>&lt;isolator&gt;/&lt;metric&gt;</c>, e.g.
    /// <c>port_mapping/adding_veth_ip_filters_errors</c>). Default: none.
    /// </summary>
    /// <remarks>
    /// The Mesos shim asks once right after the isolator is created and registers one libprocess gauge per name
    /// of that answer; afterwards it asks each time the agent's snapshot is read (one call serves every gauge read
    /// at that moment). So report every name from construction on (counters start at 0) and keep the set fixed:
    /// names that appear later are not shown, and a name that goes missing drops out of the snapshot. Names must
    /// not be empty and values must be finite; otherwise the whole answer is refused with a text naming the metric.
    /// Runs on a thread-pool thread, concurrently with the lifecycle calls: keep it cheap and thread-safe.
    /// </remarks>
    public virtual IReadOnlyDictionary<string, double> MetricsSnapshot() => NoMetrics;

    private static readonly IReadOnlyDictionary<string, double> NoMetrics = new Dictionary<string, double>();

    /// <summary>Called when the host destroys the isolator, after its calls in flight have completed.</summary>
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
