using Google.Protobuf;
using Mesos;
using Mesos.Slave;
using NetIsolator.Contracts.Bridge;
using static NetIsolator.Bridge.Tests.Messages;

namespace NetIsolator.Bridge.Tests;

/// <summary>
/// Lifecycle calls driven through <see cref="IsolatorHost.Dispatch"/> exactly as NativeExports.Invoke drives them:
/// serialized request bytes in, one native completion callback out.
/// </summary>
public sealed class IsolatorHostTests : IDisposable
{
    private const string Module = "org_test_Fake";

    /// <summary>How long a call must stay unanswered to count as pending.</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(200);

    private readonly FakeIsolator _isolator = new();
    private readonly IsolatorHost _host;
    private readonly List<NativeCall> _calls = [];

    public IsolatorHostTests() => _host = new IsolatorHost(Module, _isolator);

    public void Dispose()
    {
        _host.Close();
        foreach (var call in _calls)
        {
            call.Dispose();
        }
    }

    private NativeCall Dispatch(LifecycleMethod method, IMessage request) => Dispatch(method, request.ToByteArray());

    private NativeCall Dispatch(LifecycleMethod method, byte[] requestBytes)
    {
        var call = new NativeCall();
        _calls.Add(call);
        _host.Dispatch(method, requestBytes, call.Completion);
        return call;
    }

    private static TaskCompletionSource Gate() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    // ----- each method reaches the isolator with its arguments, and answers the right message -----

    [Fact]
    public async Task RecoverPassesStatesAndOrphansAndAnswersEmpty()
    {
        IReadOnlyList<ContainerState>? seenStates = null;
        IReadOnlyList<ContainerID>? seenOrphans = null;
        _isolator.OnRecover = (states, orphans) =>
        {
            (seenStates, seenOrphans) = (states, orphans);
            return Task.CompletedTask;
        };
        var request = new RecoverRequest
        {
            States = { State("a", 101), State("b", 102) },
            Orphans = { Id("o1"), Id("o2", Id("p")), Id("o3") },
        };

        var answer = await Dispatch(LifecycleMethod.Recover, request).SucceededAsync();

        Assert.Empty(answer.Data);
        Assert.True(answer.DataWasNull);
        Assert.Equal(request.States, seenStates!);
        Assert.Equal(request.Orphans, seenOrphans!);
        Assert.Equal(["recover 2+3"], _isolator.Calls);
    }

    [Fact]
    public async Task PrepareAnswersTheLaunchInfoTheIsolatorReturns()
    {
        ContainerID? seenId = null;
        ContainerConfig? seenConfig = null;
        var launchInfo = new ContainerLaunchInfo
        {
            CloneNamespaces = { 0x40000000 },
            Environment = new Mesos.Environment
            {
                Variables = { new Mesos.Environment.Types.Variable { Name = "NET", Value = "net1" } },
            },
        };
        _isolator.OnPrepare = (id, config) =>
        {
            (seenId, seenConfig) = (id, config);
            return Task.FromResult<ContainerLaunchInfo?>(launchInfo);
        };
        var config = Config("/sandbox/c1");
        config.User = "nobody";

        var response = await Dispatch(LifecycleMethod.Prepare, new PrepareRequest { ContainerId = Id("c1", Id("p")), ContainerConfig = config })
            .SucceededAsync(PrepareResponse.Parser);

        Assert.Equal(Id("c1", Id("p")), seenId);
        Assert.Equal(config, seenConfig);
        Assert.NotNull(response.LaunchInfo);
        Assert.Equal(launchInfo, response.LaunchInfo);
    }

    [Fact]
    public async Task PrepareAnswersNoLaunchInfoWhenTheIsolatorReturnsNull()
    {
        _isolator.OnPrepare = (_, _) => Task.FromResult<ContainerLaunchInfo?>(null);

        var answer = await Dispatch(LifecycleMethod.Prepare, new PrepareRequest { ContainerId = Id("c1"), ContainerConfig = Config() })
            .SucceededAsync();

        Assert.Empty(answer.Data);
        Assert.Null(PrepareResponse.Parser.ParseFrom(answer.Data).LaunchInfo);
        Assert.Equal(["prepare c1"], _isolator.Calls);
    }

    [Fact]
    public async Task PrepareByDefaultAnswersNoLaunchInfo()
    {
        var response = await Dispatch(LifecycleMethod.Prepare, new PrepareRequest { ContainerId = Id("c1"), ContainerConfig = Config() })
            .SucceededAsync(PrepareResponse.Parser);

        Assert.Null(response.LaunchInfo);
    }

    [Fact]
    public async Task IsolatePassesThePidAndAnswersEmpty()
    {
        (ContainerID Id, int Pid)? seen = null;
        _isolator.OnIsolate = (id, pid) =>
        {
            seen = (id, pid);
            return Task.CompletedTask;
        };

        var answer = await Dispatch(LifecycleMethod.Isolate, new IsolateRequest { ContainerId = Id("c1"), Pid = 4321 }).SucceededAsync();

        Assert.Empty(answer.Data);
        Assert.Equal((Id("c1"), 4321), seen);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(2147483648UL)]
    [InlineData(ulong.MaxValue)]
    public async Task IsolateRejectsAPidThatIsNotAProcessIdWithoutCallingTheIsolator(ulong pid)
    {
        var error = await Dispatch(LifecycleMethod.Isolate, new IsolateRequest { ContainerId = Id("c1"), Pid = pid }).FailedAsync();

        Assert.Equal($"{Module}: isolate of container 'c1' failed: pid {pid} is not a process id", error);
        Assert.Empty(_isolator.Calls);
    }

    [Fact]
    public async Task IsolateAcceptsTheLargestPid()
    {
        var seenPid = 0;
        _isolator.OnIsolate = (_, pid) =>
        {
            seenPid = pid;
            return Task.CompletedTask;
        };

        await Dispatch(LifecycleMethod.Isolate, new IsolateRequest { ContainerId = Id("c1"), Pid = int.MaxValue }).SucceededAsync();

        Assert.Equal(int.MaxValue, seenPid);
    }

    [Fact]
    public async Task UpdatePassesTheResourceRequestsAndTheLimitsMapAndAnswersEmpty()
    {
        ContainerID? seenId = null;
        List<Resource>? seenRequests = null;
        Dictionary<string, Value.Types.Scalar>? seenLimits = null;
        _isolator.OnUpdate = (id, requests, limits) =>
        {
            seenId = id;
            seenRequests = [.. requests];
            seenLimits = limits.ToDictionary();
            return Task.CompletedTask;
        };
        var request = new UpdateRequest
        {
            ContainerId = Id("c1"),
            ResourceRequests = { Scalar("cpus", 0.5), Ports(31000, 31009) },
            ResourceLimits =
            {
                ["cpus"] = new Value.Types.Scalar { Value = 2 },
                ["mem"] = new Value.Types.Scalar { Value = 256 },
            },
        };

        var answer = await Dispatch(LifecycleMethod.Update, request).SucceededAsync();

        Assert.Empty(answer.Data);
        Assert.Equal(Id("c1"), seenId);
        Assert.Equal(request.ResourceRequests, seenRequests!);
        Assert.Equal(2, seenLimits!.Count);
        Assert.Equal(2, seenLimits["cpus"].Value);
        Assert.Equal(256, seenLimits["mem"].Value);
    }

    [Fact]
    public async Task UsageAnswersTheIsolatorsResourceStatistics()
    {
        var statistics = new ResourceStatistics { Timestamp = 1763900000.25, NetRxBytes = 987654, NetTxPackets = 12 };
        _isolator.OnUsage = _ => Task.FromResult(statistics);

        var answered = await Dispatch(LifecycleMethod.Usage, new UsageRequest { ContainerId = Id("c1") })
            .SucceededAsync(ResourceStatistics.Parser);

        Assert.Equal(statistics, answered);
        Assert.Equal(["usage c1"], _isolator.Calls);
    }

    [Fact]
    public async Task UsageByDefaultAnswersStatisticsWithATimestamp()
    {
        var answered = await Dispatch(LifecycleMethod.Usage, new UsageRequest { ContainerId = Id("c1") })
            .SucceededAsync(ResourceStatistics.Parser);

        Assert.True(answered.HasTimestamp);
        Assert.True(answered.Timestamp > 1.7e9, $"timestamp {answered.Timestamp} is not seconds since the epoch");
    }

    [Fact]
    public async Task StatusAnswersTheIsolatorsContainerStatus()
    {
        var status = new ContainerStatus
        {
            ContainerId = Id("c1"),
            ExecutorPid = 77,
            NetworkInfos = { new NetworkInfo { Name = "net1" } },
        };
        ContainerID? seenId = null;
        _isolator.OnStatus = id =>
        {
            seenId = id;
            return Task.FromResult(status);
        };

        var answered = await Dispatch(LifecycleMethod.Status, new StatusRequest { ContainerId = Id("c1", Id("p")) })
            .SucceededAsync(ContainerStatus.Parser);

        Assert.Equal(status, answered);
        Assert.Equal(Id("c1", Id("p")), seenId);
    }

    [Fact]
    public async Task CleanupReachesTheIsolatorAndAnswersEmpty()
    {
        ContainerID? seenId = null;
        _isolator.OnCleanup = id =>
        {
            seenId = id;
            return Task.CompletedTask;
        };

        var answer = await Dispatch(LifecycleMethod.Cleanup, new CleanupRequest { ContainerId = Id("c1") }).SucceededAsync();

        Assert.Empty(answer.Data);
        Assert.Equal(Id("c1"), seenId);
    }

    [Fact]
    public async Task WatchAnswersTheLimitationTheIsolatorReturns()
    {
        var limitation = new ContainerLimitation
        {
            Resources = { Scalar("mem", 128) },
            Message = "memory limit exceeded",
            Reason = Mesos.TaskStatus.Types.Reason.ContainerLimitationMemory,
        };
        ContainerID? seenId = null;
        _isolator.OnWatch = (id, _) =>
        {
            seenId = id;
            return Task.FromResult<ContainerLimitation?>(limitation);
        };

        var answered = await Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c1") })
            .SucceededAsync(ContainerLimitation.Parser);

        Assert.Equal(limitation, answered);
        Assert.Equal(Id("c1"), seenId);
    }

    [Fact]
    public async Task WatchAnswersAnEmptyLimitationAsOkWithZeroBytes()
    {
        _isolator.OnWatch = (_, _) => Task.FromResult<ContainerLimitation?>(new ContainerLimitation());

        var answer = await Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c1") }).SucceededAsync();

        Assert.Empty(answer.Data);
    }

    [Fact]
    public async Task EachMethodNumberReachesItsOwnIsolatorMethod()
    {
        _isolator.OnWatch = (_, _) => Task.FromResult<ContainerLimitation?>(new ContainerLimitation());
        (LifecycleMethod Method, IMessage Request, string Expected)[] cases =
        [
            (LifecycleMethod.Recover, new RecoverRequest(), "recover 0+0"),
            (LifecycleMethod.Prepare, new PrepareRequest { ContainerId = Id("c1"), ContainerConfig = Config() }, "prepare c1"),
            (LifecycleMethod.Isolate, new IsolateRequest { ContainerId = Id("c2"), Pid = 1 }, "isolate c2"),
            (LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c3") }, "watch c3"),
            (LifecycleMethod.Update, new UpdateRequest { ContainerId = Id("c4") }, "update c4"),
            (LifecycleMethod.Usage, new UsageRequest { ContainerId = Id("c5") }, "usage c5"),
            (LifecycleMethod.Status, new StatusRequest { ContainerId = Id("c6") }, "status c6"),
            (LifecycleMethod.Cleanup, new CleanupRequest { ContainerId = Id("c7") }, "cleanup c7"),
        ];

        foreach (var (method, request, expected) in cases)
        {
            while (_isolator.Calls.TryDequeue(out _))
            {
            }
            await Dispatch(method, request).SucceededAsync();
            Assert.Equal([expected], _isolator.Calls);
        }
    }

    // ----- failures -----

    [Fact]
    public async Task MalformedRequestBytesFailNamingTheRequestType()
    {
        // Field 1 (container_id) claims 5 bytes, but only 1 follows.
        var error = await Dispatch(LifecycleMethod.Prepare, [0x0A, 0x05, 0x01]).FailedAsync();

        Assert.StartsWith($"{Module}: prepare: malformed PrepareRequest (3 bytes): ", error);
        Assert.Empty(_isolator.Calls);
    }

    [Theory]
    [InlineData(99)]
    [InlineData(9)]
    [InlineData(-1)]
    public async Task UnknownMethodNumberFails(int method)
    {
        var error = await Dispatch((LifecycleMethod)method, []).FailedAsync();

        Assert.Equal($"{Module}: unknown lifecycle method #{method}", error);
    }

    [Fact]
    public async Task RequestLackingARequiredFieldFailsWithoutCallingTheIsolator()
    {
        var error = await Dispatch(LifecycleMethod.Isolate, new IsolateRequest { ContainerId = Id("c1") }).FailedAsync();

        Assert.Equal($"{Module}: isolate: IsolateRequest lacks required field(s) pid", error);
        Assert.Empty(_isolator.Calls);
    }

    [Fact]
    public async Task PrepareRequestLackingFieldsNamesEachOfThem()
    {
        var noId = await Dispatch(LifecycleMethod.Prepare, new PrepareRequest { ContainerConfig = Config() }).FailedAsync();
        var noConfig = await Dispatch(LifecycleMethod.Prepare, new PrepareRequest { ContainerId = Id("c1") }).FailedAsync();
        var neither = await Dispatch(LifecycleMethod.Prepare, new PrepareRequest()).FailedAsync();

        Assert.Equal($"{Module}: prepare: PrepareRequest lacks required field(s) container_id", noId);
        Assert.Equal($"{Module}: prepare: PrepareRequest lacks required field(s) container_config", noConfig);
        Assert.Equal($"{Module}: prepare: PrepareRequest lacks required field(s) container_id, container_config", neither);
        Assert.Empty(_isolator.Calls);
    }

    [Theory]
    [InlineData(1, "prepare", "PrepareRequest")]
    [InlineData(2, "isolate", "IsolateRequest")]
    [InlineData(3, "watch", "WatchRequest")]
    [InlineData(4, "update", "UpdateRequest")]
    [InlineData(5, "usage", "UsageRequest")]
    [InlineData(6, "status", "StatusRequest")]
    [InlineData(7, "cleanup", "CleanupRequest")]
    public async Task ContainerIdWithoutValueIsNamedAsMissing(int method, string name, string requestType)
    {
        // Every envelope but RecoverRequest has container_id as field 1; an empty ContainerID is the bytes 0A 00.
        var error = await Dispatch((LifecycleMethod)method, [0x0A, 0x00]).FailedAsync();

        Assert.StartsWith($"{Module}: {name}: {requestType} lacks required field(s) container_id.value", error);
        Assert.Empty(_isolator.Calls);
    }

    [Fact]
    public async Task EmptyRequestBytesLackTheContainerId()
    {
        var error = await Dispatch(LifecycleMethod.Status, []).FailedAsync();

        Assert.Equal($"{Module}: status: StatusRequest lacks required field(s) container_id", error);
    }

    [Fact]
    public async Task IsolatorExceptionMessagePassesThroughVerbatim()
    {
        _isolator.OnStatus = _ => throw new IsolatorException("attaching 'c1' to network 'net1': bridge exited 1");

        var error = await Dispatch(LifecycleMethod.Status, new StatusRequest { ContainerId = Id("c1", Id("p")) }).FailedAsync();

        Assert.Equal($"{Module}: status of container 'p.c1' failed: attaching 'c1' to network 'net1': bridge exited 1", error);
    }

    [Fact]
    public async Task IsolatorExceptionSubclassMessagePassesThroughVerbatim()
    {
        _isolator.OnCleanup = async _ =>
        {
            await Task.Yield();
            throw new DerivedIsolatorException("plugin failed");
        };

        var error = await Dispatch(LifecycleMethod.Cleanup, new CleanupRequest { ContainerId = Id("c1") }).FailedAsync();

        Assert.Equal($"{Module}: cleanup of container 'c1' failed: plugin failed", error);
    }

    [Fact]
    public async Task OtherExceptionsGetTheirTypeNamePrefixed()
    {
        _isolator.OnPrepare = (_, _) => throw new InvalidOperationException("no such bridge");

        var error = await Dispatch(LifecycleMethod.Prepare, new PrepareRequest { ContainerId = Id("c1"), ContainerConfig = Config() })
            .FailedAsync();

        Assert.Equal($"{Module}: prepare of container 'c1' failed: InvalidOperationException: no such bridge", error);
    }

    [Fact]
    public async Task ExceptionFromAnAsyncContinuationIsReportedLikeASynchronousOne()
    {
        _isolator.OnUpdate = async (_, _, _) =>
        {
            await Task.Delay(10);
            throw new ArgumentException("bad ports");
        };

        var error = await Dispatch(LifecycleMethod.Update, new UpdateRequest { ContainerId = Id("c1") }).FailedAsync();

        Assert.Equal($"{Module}: update of container 'c1' failed: ArgumentException: bad ports", error);
    }

    [Fact]
    public async Task RecoverFailureNamesTheNumberOfStatesAndOrphans()
    {
        _isolator.OnRecover = (_, _) => throw new IsolatorException("checkpoint unreadable");

        var error = await Dispatch(LifecycleMethod.Recover, new RecoverRequest { States = { State("a", 1) }, Orphans = { Id("o1"), Id("o2") } })
            .FailedAsync();

        Assert.Equal($"{Module}: recover of 1 checkpointed container(s) and 2 orphan(s) failed: checkpoint unreadable", error);
    }

    [Fact]
    public async Task ErrorTextIsUtf8()
    {
        _isolator.OnStatus = _ => throw new IsolatorException("réseau « net1 » introuvable ✗");

        var error = await Dispatch(LifecycleMethod.Status, new StatusRequest { ContainerId = Id("ç1") }).FailedAsync();

        Assert.Equal($"{Module}: status of container 'ç1' failed: réseau « net1 » introuvable ✗", error);
    }

    // ----- watch -----

    [Fact]
    public async Task DefaultWatchStaysPendingUntilCleanupOfItsContainerCompletesThenIsAbandoned()
    {
        var cleanupGate = Gate();
        _isolator.OnCleanup = _ => cleanupGate.Task;
        var watch = Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c1") });
        await _isolator.WatchStarted("c1");
        await watch.StillPendingAfterAsync(Grace);

        var cleanup = Dispatch(LifecycleMethod.Cleanup, new CleanupRequest { ContainerId = Id("c1") });
        await watch.StillPendingAfterAsync(Grace); // cleanup is still running
        cleanupGate.SetResult();

        await cleanup.SucceededAsync();
        await watch.AbandonedAsync();
        Assert.Equal(1, watch.Callbacks);
    }

    [Fact]
    public async Task WatchIsAbandonedAlsoWhenCleanupFails()
    {
        _isolator.OnCleanup = _ => throw new IsolatorException("veth already gone");
        var watch = Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c1") });
        await _isolator.WatchStarted("c1");

        var error = await Dispatch(LifecycleMethod.Cleanup, new CleanupRequest { ContainerId = Id("c1") }).FailedAsync();

        Assert.Equal($"{Module}: cleanup of container 'c1' failed: veth already gone", error);
        await watch.AbandonedAsync();
    }

    [Fact]
    public async Task CleanupOfAnotherContainerDoesNotEndTheWatch()
    {
        var watchA = Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("a") });
        await _isolator.WatchStarted("a");

        await Dispatch(LifecycleMethod.Cleanup, new CleanupRequest { ContainerId = Id("b") }).SucceededAsync();
        await watchA.StillPendingAfterAsync(Grace);

        await Dispatch(LifecycleMethod.Cleanup, new CleanupRequest { ContainerId = Id("a") }).SucceededAsync();
        await watchA.AbandonedAsync();
    }

    [Fact]
    public async Task WatchOfANestedContainerIsEndedOnlyByCleanupOfThatNestedContainer()
    {
        var nested = Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c", Id("p")) });
        var parent = Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("p") });
        await _isolator.WatchStarted("p.c");
        await _isolator.WatchStarted("p");

        // Same value "c" but top level: a different container.
        await Dispatch(LifecycleMethod.Cleanup, new CleanupRequest { ContainerId = Id("c") }).SucceededAsync();
        await nested.StillPendingAfterAsync(Grace);

        await Dispatch(LifecycleMethod.Cleanup, new CleanupRequest { ContainerId = Id("c", Id("p")) }).SucceededAsync();
        await nested.AbandonedAsync();
        await parent.StillPendingAfterAsync(Grace);
    }

    [Fact]
    public async Task WatchThatReturnsNullIsAbandoned()
    {
        _isolator.OnWatch = (_, _) => Task.FromResult<ContainerLimitation?>(null);

        await Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c1") }).AbandonedAsync();
    }

    [Fact]
    public async Task WatchCancelledThroughContainerGoneIsAbandonedNotFailed()
    {
        _isolator.OnWatch = async (_, containerGone) =>
        {
            await Task.Delay(Timeout.Infinite, containerGone);
            return new ContainerLimitation();
        };
        var watch = Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c1") });
        await _isolator.WatchStarted("c1");
        await watch.StillPendingAfterAsync(Grace);

        await Dispatch(LifecycleMethod.Cleanup, new CleanupRequest { ContainerId = Id("c1") }).SucceededAsync();

        await watch.AbandonedAsync();
    }

    [Fact]
    public async Task WatchCancelledForAnotherReasonFails()
    {
        _isolator.OnWatch = (_, _) => throw new OperationCanceledException("the isolator's own token");

        var error = await Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c1") }).FailedAsync();

        Assert.Equal($"{Module}: watch of container 'c1' failed: OperationCanceledException: the isolator's own token", error);
    }

    [Fact]
    public async Task WatchThatThrowsFails()
    {
        _isolator.OnWatch = (_, _) => throw new IsolatorException("link down");

        var error = await Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c1") }).FailedAsync();

        Assert.Equal($"{Module}: watch of container 'c1' failed: link down", error);
    }

    [Fact]
    public async Task WatchAnsweringALimitationAfterAWhileIsOk()
    {
        var limit = Gate();
        _isolator.OnWatch = async (_, _) =>
        {
            await limit.Task;
            return new ContainerLimitation { Message = "too many ports" };
        };
        var watch = Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c1") });
        await _isolator.WatchStarted("c1");
        await watch.StillPendingAfterAsync(Grace);

        limit.SetResult();

        Assert.Equal("too many ports", (await watch.SucceededAsync(ContainerLimitation.Parser)).Message);
    }

    // ----- Close -----

    [Fact]
    public async Task CloseAbandonsPendingWatchesThenDisposesTheIsolator()
    {
        var watch1 = Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c1") });
        var watch2 = Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c2", Id("p")) });
        await _isolator.WatchStarted("c1");
        await _isolator.WatchStarted("p.c2");

        _host.Close();

        await watch1.AbandonedAsync();
        await watch2.AbandonedAsync();
        await _isolator.Disposed.Task.WaitAsync(NativeCall.Timeout);
        Assert.Equal(1, _isolator.DisposeCount);
        Assert.Equal(0, _isolator.RunningAtDispose);
    }

    /// <summary>
    /// Close() right after a watch was dispatched, before the thread pool ran it: the watch must still be
    /// abandoned and the isolator disposed (a regression test: once, the watch registered its token after Close
    /// had swept them, and stayed pending forever).
    /// </summary>
    [Fact]
    public async Task CloseRightAfterDispatchingAWatchStillAbandonsItAndDisposes()
    {
        var watch = Dispatch(LifecycleMethod.Watch, new WatchRequest { ContainerId = Id("c1") });
        _host.Close();

        await watch.AbandonedAsync();
        await _isolator.Disposed.Task.WaitAsync(NativeCall.Timeout);
    }

    [Theory]
    [InlineData(0, "recover")]
    [InlineData(1, "prepare")]
    [InlineData(2, "isolate")]
    [InlineData(3, "watch")]
    [InlineData(4, "update")]
    [InlineData(5, "usage")]
    [InlineData(6, "status")]
    [InlineData(7, "cleanup")]
    [InlineData(8, "metrics")]
    public async Task CallsAfterCloseFailWithoutReachingTheIsolator(int method, string name)
    {
        _host.Close();

        var error = await Dispatch((LifecycleMethod)method, []).FailedAsync();

        Assert.Equal($"{Module}: {name} after the isolator was destroyed", error);
        Assert.Empty(_isolator.Calls);
    }

    [Fact]
    public async Task CloseWithNothingInFlightDisposesTheIsolatorOnce()
    {
        _host.Close();
        _host.Close();

        await _isolator.Disposed.Task.WaitAsync(NativeCall.Timeout);
        await Task.Delay(Grace);
        Assert.Equal(1, _isolator.DisposeCount);
    }

    [Fact]
    public async Task DisposeWaitsForCallsInFlightAndRunsExactlyOnce()
    {
        var gate1 = Gate();
        var gate2 = Gate();
        var entered1 = Gate();
        var entered2 = Gate();
        _isolator.OnStatus = id =>
        {
            (id.Value == "c1" ? entered1 : entered2).SetResult();
            return (id.Value == "c1" ? gate1 : gate2).Task.ContinueWith(_ => new ContainerStatus(), TaskScheduler.Default);
        };
        var call1 = Dispatch(LifecycleMethod.Status, new StatusRequest { ContainerId = Id("c1") });
        var call2 = Dispatch(LifecycleMethod.Status, new StatusRequest { ContainerId = Id("c2") });
        await entered1.Task.WaitAsync(NativeCall.Timeout);
        await entered2.Task.WaitAsync(NativeCall.Timeout);

        _host.Close();
        _host.Close();
        await Task.Delay(Grace);
        Assert.Equal(0, _isolator.DisposeCount);

        gate1.SetResult();
        await call1.SucceededAsync();
        await Task.Delay(Grace);
        Assert.Equal(0, _isolator.DisposeCount);

        gate2.SetResult();
        await call2.SucceededAsync();
        await _isolator.Disposed.Task.WaitAsync(NativeCall.Timeout);
        await Task.Delay(Grace);
        Assert.Equal(1, _isolator.DisposeCount);
        Assert.Equal(0, _isolator.RunningAtDispose);
    }

    [Fact]
    public async Task DisposeRunsOnceCallsHaveFinishedEvenIfTheyFailed()
    {
        var gate = Gate();
        var entered = Gate();
        _isolator.OnCleanup = async _ =>
        {
            entered.SetResult();
            await gate.Task;
            throw new InvalidOperationException("late failure");
        };
        var cleanup = Dispatch(LifecycleMethod.Cleanup, new CleanupRequest { ContainerId = Id("c1") });
        await entered.Task.WaitAsync(NativeCall.Timeout);

        _host.Close();
        await Task.Delay(Grace);
        Assert.Equal(0, _isolator.DisposeCount);
        gate.SetResult();

        await cleanup.FailedAsync();
        await _isolator.Disposed.Task.WaitAsync(NativeCall.Timeout);
        Assert.Equal(1, _isolator.DisposeCount);
    }

    [Fact]
    public async Task IsolatorThatFailsToDisposeDoesNotBreakTheHost()
    {
        var isolator = new ThrowingDisposeIsolator();
        var host = new IsolatorHost(Module, isolator);

        host.Close();

        await isolator.DisposeStarted.Task.WaitAsync(NativeCall.Timeout);
        var call = new NativeCall();
        _calls.Add(call);
        host.Dispatch(LifecycleMethod.Status, new StatusRequest { ContainerId = Id("c1") }.ToByteArray(), call.Completion);
        Assert.Contains("after the isolator was destroyed", await call.FailedAsync());
    }

    // ----- threading -----

    [Fact]
    public async Task IsolatorMethodRunsOnAThreadPoolThreadNotTheCallersThread()
    {
        var callerThread = System.Environment.CurrentManagedThreadId;
        var call = Dispatch(LifecycleMethod.Status, new StatusRequest { ContainerId = Id("c1") });

        await call.SucceededAsync();

        Assert.NotEqual(callerThread, _isolator.Threads["status"]);
    }

    [Fact]
    public async Task DispatchReturnsBeforeABlockingIsolatorMethodFinishes()
    {
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        _isolator.OnStatus = _ =>
        {
            entered.Set();
            release.Wait(NativeCall.Timeout); // blocks synchronously: would block Dispatch if it ran the call inline
            return Task.FromResult(new ContainerStatus());
        };

        var call = Dispatch(LifecycleMethod.Status, new StatusRequest { ContainerId = Id("c1") });

        Assert.False(call.IsAnswered, "Dispatch ran the isolator method on the caller's thread");
        Assert.True(entered.Wait(NativeCall.Timeout), "the isolator method never started");
        Assert.False(call.IsAnswered);
        release.Set();
        await call.SucceededAsync();
    }

    [Fact]
    public async Task ConcurrentCallsForDifferentContainersAllAnswerOnce()
    {
        var calls = Enumerable.Range(0, 200)
            .Select(i => Dispatch(LifecycleMethod.Usage, new UsageRequest { ContainerId = Id($"c{i}") }))
            .ToList();

        foreach (var call in calls)
        {
            await call.SucceededAsync(ResourceStatistics.Parser);
        }
        await Task.Delay(50);
        Assert.All(calls, call => Assert.Equal(1, call.Callbacks));
        Assert.Equal(200, _isolator.Calls.Count);
    }

    [Fact]
    public void CapabilitiesReflectNestingAndStandaloneSupport()
    {
        Assert.Equal(0, _host.Capabilities);
        Assert.Equal(1, new IsolatorHost(Module, new CapableIsolator(nesting: true, standalone: false)).Capabilities);
        Assert.Equal(2, new IsolatorHost(Module, new CapableIsolator(nesting: false, standalone: true)).Capabilities);
        Assert.Equal(3, new IsolatorHost(Module, new CapableIsolator(nesting: true, standalone: true)).Capabilities);
    }

    private sealed class DerivedIsolatorException(string message) : IsolatorException(message);

    private sealed class ThrowingDisposeIsolator : Isolator
    {
        public TaskCompletionSource DisposeStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override ValueTask DisposeAsync()
        {
            DisposeStarted.SetResult();
            throw new InvalidOperationException("dispose failed");
        }
    }

    private sealed class CapableIsolator(bool nesting, bool standalone) : Isolator
    {
        public override bool SupportsNesting => nesting;

        public override bool SupportsStandalone => standalone;
    }
}
