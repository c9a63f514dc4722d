using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Mesos;
using Mesos.Slave;
using NetIsolator.Bridge;
using NetIsolator.Testing;

[assembly: IsolatorModule(TestIsolator.ModuleName, typeof(TestIsolator))]
[assembly: IsolatorModule(TestIsolator.NestingModuleName, typeof(NestingTestIsolator))]

namespace NetIsolator.Testing;

/// <summary>
/// Answers every lifecycle call from what it was told before, so a native test can check each round trip.
/// The container id's value chooses a behaviour:
/// <list type="bullet">
/// <item><c>fail-*</c>: every call fails with an <see cref="IsolatorException"/>.</item>
/// <item><c>crash-*</c>: every call throws an unexpected exception type.</item>
/// <item><c>slow-*</c>: every call waits 20 ms first.</item>
/// <item><c>spawn-N-*</c>: prepare starts N child processes (/bin/true) and waits for each to exit 0.</item>
/// <item><c>incomplete-*</c>: usage answers without the required timestamp.</item>
/// <item><c>limit-*</c>: watch reports a limitation at once.</item>
/// <item><c>bench-*</c>: prepare answers one fixed launch info and remembers nothing, so the bridge benchmark
/// measures the bridge rather than this isolator.</item>
/// <item><c>benchref-N</c>: the bridge benchmark's reference, measured here, in the same runtime: N times, parse
/// the request the benchmark sends (the same bytes as for <c>bench-1</c>) and serialize the fixed answer, with no
/// bridge around it. Answers the mean nanoseconds per round trip in <c>NETISO_BENCH_NS</c>.</item>
/// </list>
/// Module parameters: <c>label</c> (echoed into the launch environment), <c>fail_create</c>, and <c>metrics</c>.
/// <para>
/// Metrics: <c>test_isolator/&lt;call&gt;_calls</c> counts every call of each lifecycle method that reached the
/// isolator (failed ones too), <c>test_isolator/metrics_calls</c> counts the calls of <see cref="MetricsSnapshot"/>
/// (this one included), and <c>test_isolator/containers</c> is the number of containers it knows. The
/// <c>metrics</c> parameter makes <see cref="MetricsSnapshot"/> misbehave instead: <c>count</c> (the default),
/// <c>none</c> (no metrics), <c>fail</c> (an <see cref="IsolatorException"/>), <c>crash</c> (another exception),
/// <c>nan</c> (one value is NaN), <c>unnamed</c> (one name is empty).
/// </para>
/// </summary>
public class TestIsolator : Isolator
{
    public const string ModuleName = "org_netisolator_TestIsolator";
    public const string NestingModuleName = "org_netisolator_NestingTestIsolator";

    private readonly ConcurrentDictionary<string, ContainerConfig> _configs = new();
    private readonly ConcurrentDictionary<string, int> _pids = new();
    private readonly string _label;
    private readonly string _metrics;

    /// <summary>The lifecycle calls counted in <c>test_isolator/&lt;call&gt;_calls</c>.</summary>
    public static readonly string[] CountedCalls =
        ["recover", "prepare", "isolate", "watch", "update", "usage", "status", "cleanup"];

    private static readonly string[] s_metricsModes = ["count", "none", "fail", "crash", "nan", "unnamed"];
    private readonly long[] _callsSeen = new long[CountedCalls.Length];
    private long _metricsCalls;

    public TestIsolator(ModuleParameters parameters)
    {
        _label = parameters.Get("label", "none");
        _metrics = parameters.Get("metrics", "count");
        if (Array.IndexOf(s_metricsModes, _metrics) < 0)
        {
            throw new IsolatorException($"module '{parameters.ModuleName}': parameter 'metrics' must be one of "
                                        + $"{string.Join(", ", s_metricsModes)}, not '{_metrics}'");
        }
        if (parameters.GetBoolean("fail_create", false))
        {
            throw new IsolatorException($"module '{parameters.ModuleName}': fail_create was requested");
        }
    }

    public override async Task RecoverAsync(IReadOnlyList<ContainerState> states, IReadOnlyList<ContainerID> orphans)
    {
        Count("recover");
        foreach (var state in states)
        {
            await Behave(state.ContainerId, "recover");
            _configs[state.ContainerId.ToKey()] = new ContainerConfig { ContainerInfo = state.ContainerInfo };
            _pids[state.ContainerId.ToKey()] = (int)state.Pid;
        }
    }

    private static readonly Task<ContainerLaunchInfo?> s_benchAnswer = Task.FromResult<ContainerLaunchInfo?>(
        new ContainerLaunchInfo
        {
            Environment = new Mesos.Environment
            {
                Variables = { new Mesos.Environment.Types.Variable { Name = "NETISO_TEST_CONTAINER", Value = "bench" } },
            },
        });

    public override Task<ContainerLaunchInfo?> PrepareAsync(ContainerID containerId, ContainerConfig config)
    {
        Count("prepare");
        return containerId.Value.StartsWith("bench-", StringComparison.Ordinal) ? s_benchAnswer
            : containerId.Value.StartsWith("benchref-", StringComparison.Ordinal) ? MeasureBareRoundTrip(containerId, config)
            : PrepareFromConfig(containerId, config);
    }

    private static Task<ContainerLaunchInfo?> MeasureBareRoundTrip(ContainerID containerId, ContainerConfig config)
    {
        var iterations = int.Parse(containerId.Value["benchref-".Length..]);
        var request = new NetIsolator.Contracts.Bridge.PrepareRequest
        {
            ContainerId = new ContainerID { Value = "bench-1" },
            ContainerConfig = config,
        }.ToByteArray();
        var answer = new NetIsolator.Contracts.Bridge.PrepareResponse { LaunchInfo = s_benchAnswer.Result };
        var buffer = new byte[answer.CalculateSize()];
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++)
        {
            NetIsolator.Contracts.Bridge.PrepareRequest.Parser.ParseFrom(request);
            answer.WriteTo(buffer.AsSpan(0, answer.CalculateSize()));
        }
        var nanoseconds = clock.Elapsed.TotalNanoseconds / iterations;
        return Task.FromResult<ContainerLaunchInfo?>(new ContainerLaunchInfo
        {
            Environment = new Mesos.Environment
            {
                Variables = { new Mesos.Environment.Types.Variable { Name = "NETISO_BENCH_NS", Value = nanoseconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture) } },
            },
        });
    }

    private async Task<ContainerLaunchInfo?> PrepareFromConfig(ContainerID containerId, ContainerConfig config)
    {
        await Behave(containerId, "prepare");
        if (containerId.Value.StartsWith("spawn-", StringComparison.Ordinal))
        {
            await SpawnChildren(int.Parse(containerId.Value.Split('-')[1]));
        }
        _configs[containerId.ToKey()] = config;

        var environment = new Mesos.Environment();
        environment.Variables.Add(new Mesos.Environment.Types.Variable { Name = "NETISO_TEST_CONTAINER", Value = containerId.ToKey() });
        environment.Variables.Add(new Mesos.Environment.Types.Variable { Name = "NETISO_TEST_LABEL", Value = _label });
        var networks = config.ContainerInfo?.NetworkInfos ?? [];
        for (var i = 0; i < networks.Count; i++)
        {
            environment.Variables.Add(new Mesos.Environment.Types.Variable { Name = $"NETISO_TEST_NETWORK_{i}", Value = networks[i].Name });
        }
        return new ContainerLaunchInfo { Environment = environment };
    }

    public override async Task IsolateAsync(ContainerID containerId, int pid)
    {
        Count("isolate");
        await Behave(containerId, "isolate");
        _pids[containerId.ToKey()] = pid;
    }

    public override async Task<ContainerLimitation?> WatchAsync(ContainerID containerId, CancellationToken containerGone)
    {
        Count("watch");
        await Behave(containerId, "watch");
        if (containerId.Value.StartsWith("limit-", StringComparison.Ordinal))
        {
            return new ContainerLimitation
            {
                Message = $"test limitation of '{containerId.ToKey()}'",
                Reason = Mesos.TaskStatus.Types.Reason.ContainerLimitation,
            };
        }
        return await base.WatchAsync(containerId, containerGone);
    }

    public override async Task UpdateAsync(ContainerID containerId, IReadOnlyList<Resource> resourceRequests,
        IReadOnlyDictionary<string, Value.Types.Scalar> resourceLimits)
    {
        Count("update");
        await Behave(containerId, "update");
        if (_configs.TryGetValue(containerId.ToKey(), out var config))
        {
            config.Resources.Clear();
            config.Resources.Add(resourceRequests);
            config.Limits.Clear();
            foreach (var (name, limit) in resourceLimits)
            {
                config.Limits[name] = limit;
            }
        }
    }

    public override async Task<ResourceStatistics> UsageAsync(ContainerID containerId)
    {
        Count("usage");
        await Behave(containerId, "usage");
        var statistics = new ResourceStatistics();
        if (!containerId.Value.StartsWith("incomplete-", StringComparison.Ordinal))
        {
            statistics.Timestamp = 1763900000.25;
        }
        // Echo what update() stored, so a test can see that update's arguments arrived intact.
        if (_configs.TryGetValue(containerId.ToKey(), out var config))
        {
            statistics.NetRxPackets = (ulong)config.Resources.Count;
            if (config.Limits.TryGetValue("cpus", out var cpus))
            {
                statistics.CpusLimit = cpus.Value;
            }
        }
        return statistics;
    }

    public override async Task<ContainerStatus> StatusAsync(ContainerID containerId)
    {
        Count("status");
        await Behave(containerId, "status");
        var status = new ContainerStatus { ContainerId = containerId };
        if (_configs.TryGetValue(containerId.ToKey(), out var config) && config.ContainerInfo is not null)
        {
            status.NetworkInfos.Add(config.ContainerInfo.NetworkInfos);
        }
        if (_pids.TryGetValue(containerId.ToKey(), out var pid))
        {
            status.ExecutorPid = (uint)pid;
        }
        return status;
    }

    public override async Task CleanupAsync(ContainerID containerId)
    {
        Count("cleanup");
        await Behave(containerId, "cleanup");
        _configs.TryRemove(containerId.ToKey(), out _);
        _pids.TryRemove(containerId.ToKey(), out _);
    }

    public override IReadOnlyDictionary<string, double> MetricsSnapshot()
    {
        var metricsCalls = Interlocked.Increment(ref _metricsCalls);
        switch (_metrics)
        {
            case "none":
                return new Dictionary<string, double>();
            case "fail":
                throw new IsolatorException("injected failure in metrics");
            case "crash":
                throw new InvalidOperationException("injected crash in metrics");
        }
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        for (var i = 0; i < CountedCalls.Length; i++)
        {
            metrics[$"test_isolator/{CountedCalls[i]}_calls"] = Interlocked.Read(ref _callsSeen[i]);
        }
        metrics["test_isolator/metrics_calls"] = metricsCalls;
        metrics["test_isolator/containers"] = _configs.Count;
        if (_metrics == "nan")
        {
            metrics["test_isolator/broken"] = double.NaN;
        }
        else if (_metrics == "unnamed")
        {
            metrics[""] = 1;
        }
        return metrics;
    }

    private void Count(string call) => Interlocked.Increment(ref _callsSeen[Array.IndexOf(CountedCalls, call)]);

    private static async Task Behave(ContainerID containerId, string call)
    {
        var value = containerId.Value;
        if (value.StartsWith("fail-", StringComparison.Ordinal))
        {
            throw new IsolatorException($"injected failure in {call} of '{value}'");
        }
        if (value.StartsWith("crash-", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"injected crash in {call} of '{value}'");
        }
        if (value.StartsWith("slow-", StringComparison.Ordinal))
        {
            await Task.Delay(20);
        }
    }

    /// <summary>Starts children through System.Diagnostics.Process, which makes the runtime install its SIGCHLD
    /// handling and reap them itself: the host process must keep reaping its own children undisturbed.</summary>
    private static async Task SpawnChildren(int count)
    {
        var children = new List<Process>();
        for (var i = 0; i < count; i++)
        {
            children.Add(Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })
                         ?? throw new IsolatorException("could not start /bin/true"));
        }
        foreach (var child in children)
        {
            await child.WaitForExitAsync();
            if (child.ExitCode != 0)
            {
                throw new IsolatorException($"child {child.Id} exited {child.ExitCode}");
            }
            child.Dispose();
        }
    }
}

/// <summary>The same isolator, declaring support for nested and standalone containers.</summary>
public sealed class NestingTestIsolator(ModuleParameters parameters) : TestIsolator(parameters)
{
    public override bool SupportsNesting => true;

    public override bool SupportsStandalone => true;
}
