using System.Net;
using Mesos;
using NetIsolator.Isolators.PortMappingIsolation;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>The rate-statistics collector (Mesos's tests 19 and 20): the rate and percentile arithmetic, and the sampler on a real kernel.</summary>
public sealed class RatesCollectorTests
{
    [Fact]
    public void MesosVector_RatesAndPercentiles()
    {
        // Mesos's RatesCollectorTest.PercentileRatesCollector: bytes 0,100,200,250,300,350 at t = 0..5 s.
        var rates = RatesCollector.RatesOf([(0, 0), (1, 100), (2, 200), (3, 250), (4, 300), (5, 350)]);
        Assert.Equal([100UL, 100, 50, 50, 50], rates);
        var percentiles = RatesCollector.Percentiles(rates)!;
        Assert.Equal((5UL, 50UL, 100UL, 100UL, 50UL), (percentiles.Samples, percentiles.Min, percentiles.Max, percentiles.P90, percentiles.P50));
    }

    [Fact]
    public void Percentiles_InterpolateBetweenRanks_AndNeedTwoPoints()
    {
        // Position q·(n−1) = 0.5·3 = 1.5 between 20 and 30; truncated.
        Assert.Equal(25UL, RatesCollector.Percentiles([10, 20, 30, 40])!.P50);
        Assert.Equal(37UL, RatesCollector.Percentiles([10, 20, 30, 40])!.P90);
        Assert.Null(RatesCollector.Percentiles([7]));
        Assert.Null(RatesCollector.Percentiles([]));
    }

    [Fact]
    public void CounterReset_GivesNoRate_InsteadOfAHugeOne() =>
        Assert.Equal([100UL, 100UL], RatesCollector.RatesOf([(0, 100), (1, 200), (2, 5), (3, 105)]));

    [RootFact]
    public Task Usage_ReportsRatesSampledOverTheWindow() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        // Mesos's ROOT_NC_PortMappingRateStatistics with a 1 s window and 50 ms interval (Mesos: 5 s, 50 ms).
        var options = sandbox.Options() with
        {
            RateStatistics = true,
            RateStatisticsWindow = TimeSpan.FromSeconds(1),
            RateStatisticsInterval = TimeSpan.FromMilliseconds(50),
        };
        await using var isolator = sandbox.CreateIsolator(options);
        var id = new ContainerID { Value = "rates" };
        var pid = await sandbox.LaunchAsync(isolator, id, "[31000-31000]");
        using var listener = PortMappingSandbox.Listen($"/proc/{pid}/ns/net", 31000);
        for (var i = 0; i < 10; i++)
        {
            Assert.NotNull(PortMappingSandbox.Exchange(sandbox.PeerNetnsPath, new IPEndPoint(sandbox.HostIp, 31000), listener));
            await Task.Delay(60);
        }

        var rates = (await isolator.UsageAsync(id)).NetRateStatistics;
        Assert.NotNull(rates);
        Assert.Equal((1.0, 0.05), (rates.SamplingWindowSecs, rates.SamplingIntervalSecs));
        foreach (var rate in new[] { rates.RxRate, rates.RxPacketRate, rates.RxDropRate, rates.RxErrorRate, rates.TxRate, rates.TxPacketRate, rates.TxDropRate, rates.TxErrorRate })
        {
            Assert.InRange(rate.Samples, 2UL, 20UL);
            Assert.True(rate.P90 >= rate.P50 && rate.Max >= rate.P90 && rate.P50 >= rate.Min);
        }

        Assert.True(rates.RxRate.Max > 0 && rates.TxPacketRate.Max > 0, $"rx max {rates.RxRate.Max}, tx packets max {rates.TxPacketRate.Max}");
        await isolator.CleanupAsync(id);
        Assert.Null((await isolator.UsageAsync(id)).NetRateStatistics);
    });
}
