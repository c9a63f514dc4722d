using System.Globalization;

namespace NetIsolator.Isolators.PortMappingIsolation;

/// <summary>
/// A block of ports one u32 key can match: <c>[Begin, End]</c> whose size is a power of two and whose
/// <see cref="Begin"/> is a multiple of that size. A u32 key compares <c>(port &amp; mask) == begin</c> on the
/// 16-bit port field, so only such blocks can be matched by one filter; <see cref="Mask"/> is
/// <c>~(End - Begin)</c> on 16 bits (e.g. [4,7] → 0xfffc, [10,10] → 0xffff).
/// </summary>
public readonly record struct PortRange
{
    private PortRange(int begin, int end)
    {
        Begin = begin;
        End = end;
    }

    public int Begin { get; }

    /// <summary>The last port, inclusive.</summary>
    public int End { get; }

    public int Size => End - Begin + 1;

    /// <summary>The 16-bit mask for the u32 key.</summary>
    public ushort Mask => (ushort)~(End - Begin);

    public PortSet ToSet() => PortSet.Of(Begin, End);

    /// <exception cref="ArgumentException">Not an aligned power-of-two block inside 0–65535.</exception>
    public static PortRange FromBeginEnd(int begin, int end) =>
        Problem(begin, end) is { } problem ? throw new ArgumentException(problem) : new PortRange(begin, end);

    /// <summary>The block a u32 key <c>(begin, mask)</c> matches.</summary>
    /// <exception cref="ArgumentException">The mask is not a run of ones followed by zeros, or begin has bits outside it.</exception>
    public static PortRange FromBeginMask(int begin, ushort mask) => FromBeginEnd(begin, begin + (ushort)~mask);

    public static bool TryFromBeginEnd(int begin, int end, out PortRange range)
    {
        var valid = Problem(begin, end) is null;
        range = valid ? new PortRange(begin, end) : default;
        return valid;
    }

    /// <summary>Why <c>[begin, end]</c> is not a valid range, or null.</summary>
    public static string? Problem(int begin, int end)
    {
        if (begin < 0 || end > PortSet.MaxPort || begin > end)
        {
            return $"Invalid port range [{begin},{end}]: not inside 0-{PortSet.MaxPort}";
        }

        var size = end - begin + 1;
        if ((size & (size - 1)) != 0)
        {
            return $"Invalid port range [{begin},{end}]: size {size} is not a power of 2";
        }

        return begin % size != 0
            ? $"Invalid port range [{begin},{end}]: begin is not a multiple of its size {size}"
            : null;
    }

    /// <summary>
    /// Mesos's <c>getPortRanges</c>: each maximal interval of <paramref name="ports"/> cut, from its low end, into
    /// the largest aligned power-of-two block that starts there and fits, ascending. This greedy cut is the unique
    /// decomposition into the fewest aligned blocks, and it is the one Mesos's veth filters hold, so recovery and
    /// update find the same ranges. (Mesos never terminates on port 0; here 0 is aligned to every size.)
    /// </summary>
    public static IReadOnlyList<PortRange> Decompose(PortSet ports)
    {
        ArgumentNullException.ThrowIfNull(ports);
        var ranges = new List<PortRange>();
        foreach (var interval in ports.Intervals)
        {
            var low = interval.Begin;
            var highExclusive = interval.End + 1;
            while (low < highExclusive)
            {
                var size = low == 0 ? PortSet.MaxPort + 1 : 1 << (31 - int.LeadingZeroCount(low));
                while ((low % size != 0 || low + size > highExclusive) && size > 1)
                {
                    size >>= 1;
                }

                ranges.Add(new PortRange(low, low + size - 1));
                low += size;
            }
        }

        return ranges;
    }

    /// <summary>As Mesos prints it: <c>[begin,end]</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"[{Begin},{End}]");
}
