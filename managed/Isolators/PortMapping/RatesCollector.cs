using NetIsolator.Linux.Netlink;

namespace NetIsolator.Isolators.PortMappingIsolation;

/// <summary>The distribution of one rate over the sampling window (Mesos's <c>RatePercentiles</c>), per second.</summary>
public sealed record RatePercentiles(ulong Min, ulong Max, ulong P50, ulong P90, ulong P95, ulong P99, ulong P999, ulong P9999, ulong Samples);

/// <summary>A container's rates as it sees them (receive = what its veth's host end sent), over the window.</summary>
public sealed record ContainerRates(
    RatePercentiles RxRate,
    RatePercentiles RxPacketRate,
    RatePercentiles RxDropRate,
    RatePercentiles RxErrorRate,
    RatePercentiles TxRate,
    RatePercentiles TxPacketRate,
    RatePercentiles TxDropRate,
    RatePercentiles TxErrorRate);

/// <summary>
/// Mesos's rates collector (<c>network_enable_rate_statistics</c>, reference §3.10): every interval, one dump of the
/// host's links gives the counters of each registered container's veth; the rates between consecutive samples are
/// kept for the window, and usage reports their percentiles. One dump serves every container.
/// </summary>
/// <remarks>
/// Unlike Mesos, a counter that goes down (a reset) gives no rate for that interval, where Mesos's unsigned
/// subtraction reports an enormous one.
/// </remarks>
public sealed class RatesCollector : IDisposable
{
    private readonly Func<IReadOnlyList<(string Name, LinkCounters? Counters)>> _dump;
    private readonly Action<string> _onError;
    private readonly int _capacity;
    private readonly Dictionary<string, Series> _containers = new(StringComparer.Ordinal);
    private readonly Timer _timer;
    private int _sampling;

    /// <param name="dump">One dump of the host's links (name and counters).</param>
    /// <param name="onError">Told why a sample failed (the collector goes on).</param>
    public RatesCollector(TimeSpan window, TimeSpan interval, Func<IReadOnlyList<(string Name, LinkCounters? Counters)>> dump, Action<string> onError)
    {
        ArgumentNullException.ThrowIfNull(dump);
        ArgumentNullException.ThrowIfNull(onError);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        Window = window;
        Interval = interval;
        _dump = dump;
        _onError = onError;
        _capacity = Math.Max(2, (int)(window.Ticks / interval.Ticks));
        _timer = new Timer(_ => Sample(), null, TimeSpan.Zero, interval);
    }

    public TimeSpan Window { get; }

    public TimeSpan Interval { get; }

    public void Add(string key, string veth)
    {
        lock (_containers)
        {
            _containers[key] = new Series(veth);
        }
    }

    public void Remove(string key)
    {
        lock (_containers)
        {
            _containers.Remove(key);
        }
    }

    /// <summary>The container's rates, or null if it is unknown or has fewer than two rate points yet.</summary>
    public ContainerRates? Rates(string key)
    {
        List<(double Seconds, LinkCounters Counters)> samples;
        lock (_containers)
        {
            if (!_containers.TryGetValue(key, out var series))
            {
                return null;
            }

            samples = [.. series.Samples];
        }

        RatePercentiles? Of(Func<LinkCounters, ulong> counter) => Percentiles(RatesOf(samples.Select(s => (s.Seconds, counter(s.Counters))).ToList()));
        // The container's receive is what the host end of its veth transmits, and the other way round.
        return Of(c => c.TxBytes) is { } rx
            ? new ContainerRates(
                rx, Of(c => c.TxPackets)!, Of(c => c.TxDropped)!, Of(c => c.TxErrors)!,
                Of(c => c.RxBytes)!, Of(c => c.RxPackets)!, Of(c => c.RxDropped)!, Of(c => c.RxErrors)!)
            : null;
    }

    /// <summary>The per-second rates between consecutive samples; an interval whose counter went down gives none.</summary>
    public static List<ulong> RatesOf(IReadOnlyList<(double Seconds, ulong Value)> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var rates = new List<ulong>();
        for (var i = 1; i < samples.Count; i++)
        {
            var elapsed = samples[i].Seconds - samples[i - 1].Seconds;
            if (elapsed > 0 && samples[i].Value >= samples[i - 1].Value)
            {
                rates.Add((ulong)((samples[i].Value - samples[i - 1].Value) / elapsed));
            }
        }

        return rates;
    }

    /// <summary>
    /// Mesos's percentiles of a time series: at least two points; a percentile q is the linear interpolation between
    /// the closest ranks around position q·(n−1) of the sorted values, truncated to an integer.
    /// </summary>
    public static RatePercentiles? Percentiles(IReadOnlyCollection<ulong> rates)
    {
        ArgumentNullException.ThrowIfNull(rates);
        if (rates.Count < 2)
        {
            return null;
        }

        var sorted = rates.Order().ToArray();
        ulong At(double q)
        {
            var position = q * (sorted.Length - 1);
            var low = (int)Math.Floor(position);
            var high = Math.Min(low + 1, sorted.Length - 1);
            return (ulong)(sorted[low] + ((sorted[high] - (double)sorted[low]) * (position - low)));
        }

        return new RatePercentiles(sorted[0], sorted[^1], At(0.5), At(0.9), At(0.95), At(0.99), At(0.999), At(0.9999), (ulong)sorted.Length);
    }

    public void Dispose() => _timer.Dispose();

    private void Sample()
    {
        // Mesos schedules the next sample after each one: a slow dump delays, never overlaps.
        if (Interlocked.Exchange(ref _sampling, 1) != 0)
        {
            return;
        }

        try
        {
            var now = System.Diagnostics.Stopwatch.GetTimestamp() / (double)System.Diagnostics.Stopwatch.Frequency;
            var links = _dump().Where(l => l.Counters is not null).ToDictionary(l => l.Name, l => l.Counters!.Value, StringComparer.Ordinal);
            lock (_containers)
            {
                foreach (var series in _containers.Values)
                {
                    // A veth that is gone (the container is being cleaned up) gives no sample.
                    if (links.TryGetValue(series.Veth, out var counters))
                    {
                        series.Samples.Enqueue((now, counters));
                        while (series.Samples.Count > _capacity + 1)
                        {
                            series.Samples.Dequeue();
                        }
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
            _onError(e.Message);
        }
        finally
        {
            Volatile.Write(ref _sampling, 0);
        }
    }

    private sealed class Series(string veth)
    {
        public string Veth { get; } = veth;

        public Queue<(double Seconds, LinkCounters Counters)> Samples { get; } = new();
    }
}
