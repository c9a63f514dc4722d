using System.Collections;
using System.Globalization;
using System.Text;

namespace NetIsolator.Isolators.PortMappingIsolation;

/// <summary>An inclusive interval of port numbers, <c>[Begin, End]</c>.</summary>
public readonly record struct PortInterval(int Begin, int End)
{
    public int Count => End - Begin + 1;

    public override string ToString() => Begin == End
        ? Begin.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{Begin}-{End}");
}

/// <summary>
/// An immutable set of TCP/UDP port numbers (0–65535), kept as sorted, disjoint, non-adjacent inclusive intervals
/// (what Mesos keeps in an <c>IntervalSet&lt;uint16_t&gt;</c>). Ports are held as <see cref="int"/> so that arithmetic
/// at 65535 cannot wrap.
/// </summary>
public sealed class PortSet : IEquatable<PortSet>, IEnumerable<PortInterval>
{
    public const int MaxPort = 65535;

    private readonly PortInterval[] _intervals;

    private PortSet(PortInterval[] normalized) => _intervals = normalized;

    public static PortSet Empty { get; } = new([]);

    /// <summary>The maximal intervals of the set, ascending.</summary>
    public IReadOnlyList<PortInterval> Intervals => _intervals;

    public bool IsEmpty => _intervals.Length == 0;

    /// <summary>How many ports the set holds.</summary>
    public int Count => _intervals.Sum(i => i.Count);

    public static PortSet Of(int begin, int end) => Of([new PortInterval(begin, end)]);

    /// <summary>The union of <paramref name="intervals"/>, in any order, overlapping or adjacent.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An interval is empty or leaves 0–65535.</exception>
    public static PortSet Of(IEnumerable<PortInterval> intervals)
    {
        var sorted = new List<PortInterval>();
        foreach (var interval in intervals)
        {
            if (interval.Begin < 0 || interval.End > MaxPort || interval.Begin > interval.End)
            {
                throw new ArgumentOutOfRangeException(nameof(intervals), $"invalid port interval [{interval.Begin}-{interval.End}]");
            }

            sorted.Add(interval);
        }

        sorted.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        var merged = new List<PortInterval>(sorted.Count);
        foreach (var interval in sorted)
        {
            if (merged.Count > 0 && interval.Begin <= merged[^1].End + 1)
            {
                merged[^1] = merged[^1] with { End = Math.Max(merged[^1].End, interval.End) };
            }
            else
            {
                merged.Add(interval);
            }
        }

        return merged.Count == 0 ? Empty : new PortSet([.. merged]);
    }

    public bool Contains(int port)
    {
        foreach (var interval in _intervals)
        {
            if (port < interval.Begin)
            {
                return false;
            }

            if (port <= interval.End)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether every port of <paramref name="other"/> is in this set.</summary>
    public bool Contains(PortSet other) => other.Subtract(this).IsEmpty;

    public bool Intersects(PortSet other) => !Intersect(other).IsEmpty;

    public PortSet Union(PortSet other) => Of(_intervals.Concat(other._intervals));

    public PortSet Intersect(PortSet other)
    {
        var result = new List<PortInterval>();
        int i = 0, j = 0;
        while (i < _intervals.Length && j < other._intervals.Length)
        {
            var a = _intervals[i];
            var b = other._intervals[j];
            var begin = Math.Max(a.Begin, b.Begin);
            var end = Math.Min(a.End, b.End);
            if (begin <= end)
            {
                result.Add(new PortInterval(begin, end));
            }

            if (a.End < b.End)
            {
                i++;
            }
            else
            {
                j++;
            }
        }

        return Of(result);
    }

    public PortSet Subtract(PortSet other)
    {
        var result = new List<PortInterval>();
        foreach (var interval in _intervals)
        {
            var begin = interval.Begin;
            foreach (var cut in other._intervals)
            {
                if (cut.End < begin || cut.Begin > interval.End)
                {
                    continue;
                }

                if (cut.Begin > begin)
                {
                    result.Add(new PortInterval(begin, cut.Begin - 1));
                }

                begin = cut.End + 1;
            }

            if (begin <= interval.End)
            {
                result.Add(new PortInterval(begin, interval.End));
            }
        }

        return Of(result);
    }

    /// <summary>
    /// Parses Mesos's ranges text: <c>[31000-32000]</c>, <c>[1-2, 5-6]</c>, a single port as <c>80-80</c> or
    /// <c>80</c>; brackets optional; empty <c>[]</c> is the empty set.
    /// </summary>
    /// <exception cref="FormatException">Not a list of <c>begin-end</c> with 0 ≤ begin ≤ end ≤ 65535.</exception>
    public static PortSet Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var body = text.Trim();
        if (body.StartsWith('[') && body.EndsWith(']'))
        {
            body = body[1..^1];
        }

        var intervals = new List<PortInterval>();
        foreach (var raw in body.Split(','))
        {
            var part = raw.Trim();
            if (part.Length == 0)
            {
                if (body.Trim().Length == 0)
                {
                    continue;
                }

                throw new FormatException($"'{text}' has an empty port range");
            }

            var dash = part.IndexOf('-', StringComparison.Ordinal);
            var begin = ParsePort(dash < 0 ? part : part[..dash], text);
            var end = dash < 0 ? begin : ParsePort(part[(dash + 1)..], text);
            if (begin > end)
            {
                throw new FormatException($"'{text}': port range '{part}' ends before it begins");
            }

            intervals.Add(new PortInterval(begin, end));
        }

        return Of(intervals);
    }

    private static int ParsePort(string text, string whole)
    {
        var trimmed = text.Trim();
        return int.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= MaxPort
            ? port
            : throw new FormatException($"'{whole}': '{trimmed}' is not a port number (0-{MaxPort})");
    }

    /// <summary>Mesos's ranges text, e.g. <c>[31000-31499, 32000-32000]</c>.</summary>
    public override string ToString()
    {
        var text = new StringBuilder("[");
        for (var i = 0; i < _intervals.Length; i++)
        {
            text.Append(i == 0 ? "" : ", ").Append(CultureInfo.InvariantCulture, $"{_intervals[i].Begin}-{_intervals[i].End}");
        }

        return text.Append(']').ToString();
    }

    public bool Equals(PortSet? other) => other is not null && _intervals.AsSpan().SequenceEqual(other._intervals);

    public override bool Equals(object? obj) => Equals(obj as PortSet);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var interval in _intervals)
        {
            hash.Add(interval);
        }

        return hash.ToHashCode();
    }

    public IEnumerator<PortInterval> GetEnumerator() => ((IEnumerable<PortInterval>)_intervals).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
