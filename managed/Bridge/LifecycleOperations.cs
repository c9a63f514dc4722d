using Google.Protobuf;
using Google.Protobuf.Reflection;
using Mesos;
using NetIsolator.Contracts.Bridge;

namespace NetIsolator.Bridge;

/// <summary>One lifecycle call: how to read its request, how to name what it is about, and what to run.</summary>
/// <param name="Name">The Mesos method name, used in every error text.</param>
/// <param name="Request">The request envelope (bridge.proto).</param>
/// <param name="Subject">What the call is about, for error texts ("container 'c1'").</param>
/// <param name="Run">The work; a null answer means "never answered" (the native side abandons its future).</param>
internal sealed record LifecycleOperation(
    string Name,
    MessageDescriptor Request,
    Func<IMessage, string> Subject,
    Func<IsolatorHost, IMessage, Task<IMessage?>> Run);

/// <summary>The table from the C ABI's method numbers to the operations of <see cref="Isolator"/>.</summary>
internal static class LifecycleOperations
{
    private static readonly Empty s_nothing = new();

    private static readonly LifecycleOperation[] s_operations =
    [
        new("recover", RecoverRequest.Descriptor,
            request => $"{((RecoverRequest)request).States.Count} checkpointed container(s) and "
                       + $"{((RecoverRequest)request).Orphans.Count} orphan(s)",
            async (host, request) =>
            {
                var recover = (RecoverRequest)request;
                await host.Isolator.RecoverAsync(recover.States, recover.Orphans).ConfigureAwait(false);
                return s_nothing;
            }),
        new("prepare", PrepareRequest.Descriptor, request => Describe(((PrepareRequest)request).ContainerId),
            async (host, request) =>
            {
                var prepare = (PrepareRequest)request;
                var launchInfo = await host.Isolator.PrepareAsync(prepare.ContainerId, prepare.ContainerConfig)
                    .ConfigureAwait(false);
                return launchInfo is null ? new PrepareResponse() : new PrepareResponse { LaunchInfo = launchInfo };
            }),
        new("isolate", IsolateRequest.Descriptor, request => Describe(((IsolateRequest)request).ContainerId),
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
        new("watch", WatchRequest.Descriptor, request => Describe(((WatchRequest)request).ContainerId),
            (host, request) => host.WatchAsync(((WatchRequest)request).ContainerId)),
        new("update", UpdateRequest.Descriptor, request => Describe(((UpdateRequest)request).ContainerId),
            async (host, request) =>
            {
                var update = (UpdateRequest)request;
                await host.Isolator.UpdateAsync(update.ContainerId, update.ResourceRequests, update.ResourceLimits)
                    .ConfigureAwait(false);
                return s_nothing;
            }),
        new("usage", UsageRequest.Descriptor, request => Describe(((UsageRequest)request).ContainerId),
            async (host, request) =>
                await host.Isolator.UsageAsync(((UsageRequest)request).ContainerId).ConfigureAwait(false)),
        new("status", StatusRequest.Descriptor, request => Describe(((StatusRequest)request).ContainerId),
            async (host, request) =>
                await host.Isolator.StatusAsync(((StatusRequest)request).ContainerId).ConfigureAwait(false)),
        new("cleanup", CleanupRequest.Descriptor, request => Describe(((CleanupRequest)request).ContainerId),
            async (host, request) =>
            {
                await host.CleanupAsync(((CleanupRequest)request).ContainerId).ConfigureAwait(false);
                return s_nothing;
            }),
    ];

    public static LifecycleOperation? Find(LifecycleMethod method) =>
        (uint)method < (uint)s_operations.Length ? s_operations[(int)method] : null;

    private static string Describe(ContainerID containerId) => $"container '{containerId.ToKey()}'";
}
