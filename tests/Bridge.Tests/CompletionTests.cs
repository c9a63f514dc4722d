using Mesos;
using NetIsolator.Contracts.Bridge;
using static NetIsolator.Bridge.Tests.Messages;

namespace NetIsolator.Bridge.Tests;

/// <summary>The native completion callback runs exactly once, with the status and buffer the C ABI describes.</summary>
public sealed class CompletionTests : IDisposable
{
    private readonly NativeCall _call = new();

    public void Dispose() => _call.Dispose();

    [Fact]
    public async Task SucceedPassesTheSerializedMessage()
    {
        var statistics = new ResourceStatistics { Timestamp = 12.5, NetRxBytes = 3 };

        _call.Completion.Succeed(statistics);

        Assert.Equal(statistics, await _call.SucceededAsync(ResourceStatistics.Parser));
    }

    [Fact]
    public async Task SucceedWithAnEmptyMessagePassesANullBufferOfLengthZero()
    {
        _call.Completion.Succeed(new Empty());

        var answer = await _call.SucceededAsync();
        Assert.True(answer.DataWasNull);
        Assert.Empty(answer.Data);
    }

    [Fact]
    public async Task FailPassesANulTerminatedUtf8Text()
    {
        _call.Completion.Fail("échec ✗");

        Assert.Equal("échec ✗", await _call.FailedAsync());
    }

    [Fact]
    public async Task FailWithAnEmptyTextStillPassesABuffer()
    {
        _call.Completion.Fail("");

        Assert.Equal("", await _call.FailedAsync());
    }

    [Fact]
    public async Task AbandonPassesNoBuffer()
    {
        _call.Completion.Abandon();

        await _call.AbandonedAsync();
    }

    [Theory]
    [InlineData("succeed", NativeCall.Ok)]
    [InlineData("fail", NativeCall.Failed)]
    [InlineData("abandon", NativeCall.Abandoned)]
    public async Task OnlyTheFirstOfSucceedFailAndAbandonAnswers(string first, int expectedStatus)
    {
        var steps = new Dictionary<string, Action>
        {
            ["succeed"] = () => _call.Completion.Succeed(Id("c1")),
            ["fail"] = () => _call.Completion.Fail("second thoughts"),
            ["abandon"] = _call.Completion.Abandon,
        };

        steps[first]();
        foreach (var (name, step) in steps.Where(s => s.Key != first))
        {
            step();
        }
        steps[first]();

        var answer = await _call.AnswerAsync();
        Assert.Equal(expectedStatus, answer.Status);
        Assert.Equal(1, _call.Callbacks);
    }

    [Fact]
    public async Task RacingAnswersFromManyThreadsAnswerOnce()
    {
        using var start = new Barrier(8);
        var racers = Enumerable.Range(0, 8).Select(i => Task.Run(() =>
        {
            start.SignalAndWait();
            switch (i % 3)
            {
                case 0:
                    _call.Completion.Succeed(Id($"c{i}"));
                    break;
                case 1:
                    _call.Completion.Fail($"racer {i}");
                    break;
                default:
                    _call.Completion.Abandon();
                    break;
            }
        })).ToArray();

        await Task.WhenAll(racers).WaitAsync(NativeCall.Timeout);

        await _call.AnswerAsync();
        Assert.Equal(1, _call.Callbacks);
    }
}
