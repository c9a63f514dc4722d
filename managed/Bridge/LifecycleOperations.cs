using System.Globalization;
using Google.Protobuf;
using Mesos;
using NetIsolator.Contracts.Bridge;

namespace NetIsolator.Bridge;

/// <summary>One lifecycle call: how to read its request, how to name what it is about, and what to run.</summary>
/// <param name="Name">The Mesos method name, used in every error text.</param>
/// <param name="RequestName">The request envelope's type (bridge.proto), for error texts.</param>
/// <param name="Parser">Its parser.</param>
/// <param name="MissingFields">The envelope's own required fields that are not set, or null. The Mesos messages
/// inside are not checked here: the native side serializes only messages its libprotobuf found complete,
/// and checking them would need protobuf reflection (see <see cref="IsolatorHost"/>).</param>
/// <param name="Subject">What the call is about, for error texts ("container 'c1'").</param>
/// <param name="Run">The work; a null answer means "never answered" (the native side abandons its future).</param>
internal sealed record LifecycleOperation(
    string Name,
    string RequestName,
    MessageParser Parser,
    Func<IMessage, string?> MissingFields,
    Func<IMessage, string> Subject,
    Func<IsolatorHost, IMessage, Task<IMessage?>> Run);

/// <summary>The table from the C ABI's method numbers to the operations of <see cref="Isolator"/>.</summary>
internal static class LifecycleOperations
{
    private static readonly Empty s_nothing = new();

    private static readonly LifecycleOperation[] s_operations =
    [
        new("recover", nameof(RecoverRequest), RecoverRequest.Parser, _ => null,
            request => $"{((RecoverRequest)request).States.Count} checkpointed container(s) and "
                       + $"{((RecoverRequest)request).Orphans.Count} orphan(s)",
            async (host, request) =>
            {
                var recover = (RecoverRequest)request;
                await host.Isolator.RecoverAsync(recover.States, recover.Orphans).ConfigureAwait(false);
                return s_nothing;
            }),
        new("prepare", nameof(PrepareRequest), PrepareRequest.Parser,
            request => Missing(((PrepareRequest)request).ContainerId, (((PrepareRequest)request).ContainerConfig is null, "container_config")),
            request => Describe(((PrepareRequest)request).ContainerId),
            async (host, request) =>
            {
                var prepare = (PrepareRequest)request;
                var launchInfo = await host.Isolator.PrepareAsync(prepare.ContainerId, prepare.ContainerConfig)
                    .ConfigureAwait(false);
                return launchInfo is null ? new PrepareResponse() : new PrepareResponse { LaunchInfo = launchInfo };
            }),
        new("isolate", nameof(IsolateRequest), IsolateRequest.Parser,
            request => Missing(((IsolateRequest)request).ContainerId, (!((IsolateRequest)request).HasPid, "pid")),
            request => Describe(((IsolateRequest)request).ContainerId),
            async (host, request) =>
            {
                var isolate = (IsolateRequest)request;
                if (isolate.Pid is 0 or > int.MaxValue)
                {
                    throw new IsolatorException($"pid {isolate.Pid} is not a process id");
                }
                await host.Isolator.IsolateAsync(isolate.ContainerId, (int)isolate.Pid).ConfigureAwait(false);
                return s_nothing;
            }),
        new("watch", nameof(WatchRequest), WatchRequest.Parser,
            request => Missing(((WatchRequest)request).ContainerId),
            request => Describe(((WatchRequest)request).ContainerId),
            (host, request) => host.WatchAsync(((WatchRequest)request).ContainerId)),
        new("update", nameof(UpdateRequest), UpdateRequest.Parser,
            request => Missing(((UpdateRequest)request).ContainerId),
            request => Describe(((UpdateRequest)request).ContainerId),
            async (host, request) =>
            {
                var update = (UpdateRequest)request;
                await host.Isolator.UpdateAsync(update.ContainerId, update.ResourceRequests, update.ResourceLimits)
                    .ConfigureAwait(false);
                return s_nothing;
            }),
        new("usage", nameof(UsageRequest), UsageRequest.Parser,
            request => Missing(((UsageRequest)request).ContainerId),
            request => Describe(((UsageRequest)request).ContainerId),
            async (host, request) =>
                await host.Isolator.UsageAsync(((UsageRequest)request).ContainerId).ConfigureAwait(false)),
        new("status", nameof(StatusRequest), StatusRequest.Parser,
            request => Missing(((StatusRequest)request).ContainerId),
            request => Describe(((StatusRequest)request).ContainerId),
            async (host, request) =>
                await host.Isolator.StatusAsync(((StatusRequest)request).ContainerId).ConfigureAwait(false)),
        new("cleanup", nameof(CleanupRequest), CleanupRequest.Parser,
            request => Missing(((CleanupRequest)request).ContainerId),
            request => Describe(((CleanupRequest)request).ContainerId),
            async (host, request) =>
            {
                await host.CleanupAsync(((CleanupRequest)request).ContainerId).ConfigureAwait(false);
                return s_nothing;
            }),
        new("metrics", nameof(MetricsRequest), MetricsRequest.Parser, _ => null,
            _ => "the isolator",
            (host, _) => Task.FromResult<IMessage?>(MetricsAnswer(host.Isolator.MetricsSnapshot()))),
    ];

    public static LifecycleOperation? Find(LifecycleMethod method) =>
        (uint)method < (uint)s_operations.Length ? s_operations[(int)method] : null;

    /// <summary>The isolator's metrics as the envelope carries them; refuses what /metrics/snapshot could not show.</summary>
    private static MetricsResponse MetricsAnswer(IReadOnlyDictionary<string, double>? metrics)
    {
        if (metrics is null)
        {
            throw new IsolatorException("MetricsSnapshot() answered null instead of a dictionary");
        }
        var response = new MetricsResponse();
        foreach (var (name, value) in metrics)
        {
            if (string.IsNullOrEmpty(name))
            {
                throw new IsolatorException(
                    $"a metric has an empty name (its value is {value.ToString(CultureInfo.InvariantCulture)})");
            }
            if (!double.IsFinite(value))
            {
                throw new IsolatorException(
                    $"metric '{name}' is {value.ToString(CultureInfo.InvariantCulture)}, not a finite number");
            }
            response.Values[name] = value;
        }
        return response;
    }

    private static string Describe(ContainerID containerId) => $"container '{containerId.ToKey()}'";

    /// <summary>The missing ones among an envelope's container_id (with its value) and its other required fields.</summary>
    private static string? Missing(ContainerID? containerId, params (bool IsMissing, string Name)[] others)
    {
        var missing = new List<string>();
        if (containerId is null)
        {
            missing.Add("container_id");
        }
        else if (!containerId.HasValue)
        {
            missing.Add("container_id.value");
        }
        missing.AddRange(others.Where(o => o.IsMissing).Select(o => o.Name));
        return missing.Count == 0 ? null : string.Join(", ", missing);
    }
}
