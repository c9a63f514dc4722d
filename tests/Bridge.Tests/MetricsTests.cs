using Google.Protobuf;
using NetIsolator.Contracts.Bridge;

namespace NetIsolator.Bridge.Tests;

/// <summary>
/// The metrics call (C ABI method 8) driven through <see cref="IsolatorHost.Dispatch"/> as NativeExports.Invoke
/// drives it: what <see cref="Isolator.MetricsSnapshot"/> answers reaches the native side as a
/// <see cref="MetricsResponse"/>, and whatever /metrics/snapshot could not show is refused with a text naming it.
/// </summary>
public sealed class MetricsTests : IDisposable
{
    private const string Module = "org_test_Fake";

    private readonly FakeIsolator _isolator = new();
    private readonly IsolatorHost _host;
    private readonly List<NativeCall> _calls = [];

    public MetricsTests() => _host = new IsolatorHost(Module, _isolator);

    public void Dispose()
    {
        _host.Close();
        foreach (var call in _calls)
        {
            call.Dispose();
        }
    }

    private NativeCall Metrics(byte[]? request = null)
    {
        var call = new NativeCall();
        _calls.Add(call);
        _host.Dispatch(LifecycleMethod.Metrics, request ?? [], call.Completion);
        return call;
    }

    [Fact]
    public async Task AnIsolatorThatDeclaresNoneAnswersAnEmptyMessage()
    {
        var answer = await Metrics().SucceededAsync();

        Assert.Empty(answer.Data);
        Assert.True(answer.DataWasNull);
        Assert.Equal(["metrics"], _isolator.Calls);
    }

    [Fact]
    public void TheBaseClassDeclaresNone()
    {
        Assert.Empty(new FakeIsolator().MetricsSnapshot());
    }

    [Fact]
    public async Task EveryMetricArrivesUnderItsNameWithItsValue()
    {
        var metrics = new Dictionary<string, double>
        {
            ["port_mapping/adding_veth_ip_filters_errors"] = 0,
            ["port_mapping/removing_eth0_ip_filters_do_not_exist"] = 3,
            ["port_mapping/per_cpu_egress_rate_limit"] = 125000,
            ["example/fraction"] = 0.25,
            ["example/negative"] = -7,
            ["example/large"] = 9007199254740992,
            ["example/max"] = double.MaxValue,
        };
        _isolator.OnMetrics = () => metrics;

        var response = await Metrics().SucceededAsync(MetricsResponse.Parser);

        Assert.Equal(metrics.OrderBy(p => p.Key), response.Values.OrderBy(p => p.Key));
    }

    [Fact]
    public async Task TheValuesAreReadAfreshOnEveryCall()
    {
        var count = 0;
        _isolator.OnMetrics = () => new Dictionary<string, double> { ["example/calls"] = ++count };

        var first = await Metrics().SucceededAsync(MetricsResponse.Parser);
        var second = await Metrics().SucceededAsync(MetricsResponse.Parser);

        Assert.Equal(1, first.Values["example/calls"]);
        Assert.Equal(2, second.Values["example/calls"]);
    }

    [Fact]
    public void TheWireLayoutIsTheOneTheShimDecodesByHand()
    {
        // native/shim/envelopes.cpp reads MetricsResponse without generated code: field 1 is a repeated map entry
        // {1: name (length-delimited), 2: value (fixed64 double)}.
        var bytes = new MetricsResponse { Values = { ["a/b"] = 1.5 } }.ToByteArray();

        var entry = new MemoryStream();
        using (var output = new CodedOutputStream(entry, leaveOpen: true))
        {
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteString("a/b");
            output.WriteTag(2, WireFormat.WireType.Fixed64);
            output.WriteDouble(1.5);
        }
        var expected = new MemoryStream();
        using (var output = new CodedOutputStream(expected, leaveOpen: true))
        {
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(entry.ToArray()));
        }
        Assert.Equal(expected.ToArray(), bytes);
        Assert.Empty(new MetricsRequest().ToByteArray());
    }

    [Fact]
    public async Task AnEmptyMessageAndUnknownFieldsAreAccepted()
    {
        _isolator.OnMetrics = () => new Dictionary<string, double> { ["example/one"] = 1 };

        await Metrics(new MetricsRequest().ToByteArray()).SucceededAsync();
        await Metrics([0x28, 0x01]).SucceededAsync(); // field 5, varint 1: from a later host
    }

    [Fact]
    public async Task MalformedRequestFailsWithoutCallingTheIsolator()
    {
        var error = await Metrics([0xFF, 0xFF, 0xFF]).FailedAsync();

        Assert.StartsWith($"{Module}: metrics: malformed MetricsRequest (3 bytes): ", error);
        Assert.Empty(_isolator.Calls);
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    public async Task AValueThatIsNotAFiniteNumberIsRefusedByName(double value, string shown)
    {
        _isolator.OnMetrics = () => new Dictionary<string, double> { ["example/good"] = 1, ["example/bad"] = value };

        var error = await Metrics().FailedAsync();

        Assert.Equal($"{Module}: metrics of the isolator failed: metric 'example/bad' is {shown}, not a finite number",
            error);
    }

    [Fact]
    public async Task AnEmptyNameIsRefused()
    {
        _isolator.OnMetrics = () => new Dictionary<string, double> { [""] = 2.5 };

        var error = await Metrics().FailedAsync();

        Assert.Equal($"{Module}: metrics of the isolator failed: a metric has an empty name (its value is 2.5)", error);
    }

    [Fact]
    public async Task ANullAnswerIsRefused()
    {
        _isolator.OnMetrics = () => null!;

        var error = await Metrics().FailedAsync();

        Assert.Equal($"{Module}: metrics of the isolator failed: MetricsSnapshot() answered null instead of a dictionary",
            error);
    }

    [Fact]
    public async Task AnIsolatorExceptionPassesThroughAsWritten()
    {
        _isolator.OnMetrics = () => throw new IsolatorException("counters are not ready");

        var error = await Metrics().FailedAsync();

        Assert.Equal($"{Module}: metrics of the isolator failed: counters are not ready", error);
    }

    [Fact]
    public async Task AnyOtherExceptionIsReportedWithItsType()
    {
        _isolator.OnMetrics = () => throw new KeyNotFoundException("no such counter");

        var error = await Metrics().FailedAsync();

        Assert.Equal($"{Module}: metrics of the isolator failed: KeyNotFoundException: no such counter", error);
    }

    [Fact]
    public async Task TheIsolatorIsAskedOnAThreadPoolThreadNotTheCallersThread()
    {
        var callerThread = System.Environment.CurrentManagedThreadId;

        await Metrics().SucceededAsync();

        Assert.NotEqual(callerThread, _isolator.Threads["metrics"]);
    }

    [Fact]
    public async Task ASlowAnswerDoesNotHoldTheCaller()
    {
        using var release = new ManualResetEventSlim();
        _isolator.OnMetrics = () =>
        {
            release.Wait(NativeCall.Timeout);
            return new Dictionary<string, double> { ["example/one"] = 1 };
        };

        var call = Metrics(); // returns while the isolator is still blocked
        Assert.False(call.IsAnswered);
        release.Set();

        var response = await call.SucceededAsync(MetricsResponse.Parser);
        Assert.Equal(1, response.Values["example/one"]);
    }

    [Fact]
    public async Task CloseWaitsForAMetricsCallInFlightBeforeDisposing()
    {
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        _isolator.OnMetrics = () =>
        {
            entered.Set();
            release.Wait(NativeCall.Timeout);
            return new Dictionary<string, double>();
        };
        var call = Metrics();
        Assert.True(entered.Wait(NativeCall.Timeout));

        _host.Close();
        Assert.Equal(0, _isolator.DisposeCount);
        release.Set();

        await call.SucceededAsync();
        await _isolator.Disposed.Task.WaitAsync(NativeCall.Timeout);
        Assert.Equal(0, _isolator.RunningAtDispose);
    }

    [Fact]
    public async Task ManyConcurrentCallsAreEachAnsweredExactlyOnce()
    {
        var count = 0;
        _isolator.OnMetrics = () => new Dictionary<string, double> { ["example/calls"] = Interlocked.Increment(ref count) };

        var calls = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(() =>
        {
            var call = new NativeCall();
            _host.Dispatch(LifecycleMethod.Metrics, [], call.Completion);
            return call;
        })));
        lock (_calls)
        {
            _calls.AddRange(calls);
        }

        var values = new List<double>();
        foreach (var call in calls)
        {
            values.Add((await call.SucceededAsync(MetricsResponse.Parser)).Values["example/calls"]);
            Assert.Equal(1, call.Callbacks);
        }
        Assert.Equal(Enumerable.Range(1, 64).Select(i => (double)i), values.Order());
    }
}
