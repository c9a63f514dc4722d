using System.Globalization;

namespace NetIsolator.Isolators.PortMappingIsolation;

/// <summary>
/// A duration written as Mesos writes its <c>Duration</c> flags: a non-negative number, possibly fractional,
/// followed by one of <c>ns</c>, <c>us</c>, <c>ms</c>, <c>secs</c>, <c>mins</c>, <c>hrs</c>, <c>days</c>, <c>weeks</c>
/// (e.g. <c>50ms</c>, <c>1.5secs</c>).
/// </summary>
public static class FlagDuration
{
    private static readonly (string Unit, double Seconds)[] Units =
    [
        ("ns", 1e-9),
        ("us", 1e-6),
        ("ms", 1e-3),
        ("secs", 1),
        ("mins", 60),
        ("hrs", 3600),
        ("days", 86400),
        ("weeks", 7 * 86400),
    ];

    /// <exception cref="FormatException">No number, or an unknown unit.</exception>
    public static TimeSpan Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var end = 0;
        while (end < text.Length && (char.IsAsciiDigit(text[end]) || text[end] == '.'))
        {
            end++;
        }

        if (end == 0 || !double.TryParse(text.AsSpan(0, end), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            throw new FormatException($"'{text}' is not a duration: expected a number followed by ns, us, ms, secs, mins, hrs, days or weeks");
        }

        var unit = text[end..];
        if (unit.Length == 0)
        {
            throw new FormatException($"'{text}' is not a duration: it has no unit (ns, us, ms, secs, mins, hrs, days or weeks)");
        }

        foreach (var (name, seconds) in Units)
        {
            if (unit == name)
            {
                return TimeSpan.FromTicks((long)Math.Round(value * seconds * TimeSpan.TicksPerSecond));
            }
        }

        throw new FormatException($"'{text}' has unknown unit '{unit}': expected ns, us, ms, secs, mins, hrs, days or weeks");
    }
}
