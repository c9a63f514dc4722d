using System.Globalization;

namespace NetIsolator.Isolators.PortMappingIsolation;

/// <summary>
/// A byte count written as Mesos writes its <c>Bytes</c> flags: an unsigned integer followed by a unit, one of
/// <c>B</c>, <c>KB</c>, <c>MB</c>, <c>GB</c>, <c>TB</c> (any case), in binary multiples (1KB = 1024B). Bare numbers
/// and fractions are refused. Rates are these bytes per second.
/// </summary>
public readonly record struct ByteSize(ulong Bytes) : IComparable<ByteSize>
{
    private static readonly (string Unit, ulong Factor)[] Units =
    [
        ("TB", 1UL << 40),
        ("GB", 1UL << 30),
        ("MB", 1UL << 20),
        ("KB", 1UL << 10),
        ("B", 1),
    ];

    /// <exception cref="FormatException">Not <c>&lt;integer&gt;&lt;unit&gt;</c>, or it overflows 64 bits.</exception>
    public static ByteSize Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits]))
        {
            digits++;
        }

        if (digits == 0 || !ulong.TryParse(text.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            throw new FormatException($"'{text}' is not a byte size: expected an integer followed by B, KB, MB, GB or TB");
        }

        var unit = text[digits..];
        if (unit.Length == 0 || unit[0] == '.')
        {
            throw new FormatException(unit.Length == 0
                ? $"'{text}' has no unit: expected B, KB, MB, GB or TB after the number"
                : $"'{text}' is not a byte size: fractions are not allowed, use a smaller unit");
        }

        foreach (var (name, factor) in Units)
        {
            if (string.Equals(unit, name, StringComparison.OrdinalIgnoreCase))
            {
                return value > ulong.MaxValue / factor
                    ? throw new FormatException($"'{text}' does not fit in 64 bits")
                    : new ByteSize(value * factor);
            }
        }

        throw new FormatException($"'{text}' has unknown unit '{unit}': expected B, KB, MB, GB or TB");
    }

    public int CompareTo(ByteSize other) => Bytes.CompareTo(other.Bytes);

    public static bool operator <(ByteSize a, ByteSize b) => a.Bytes < b.Bytes;

    public static bool operator >(ByteSize a, ByteSize b) => a.Bytes > b.Bytes;

    public static bool operator <=(ByteSize a, ByteSize b) => a.Bytes <= b.Bytes;

    public static bool operator >=(ByteSize a, ByteSize b) => a.Bytes >= b.Bytes;

    /// <summary>In the largest unit that loses nothing: <c>1000B</c>, <c>37500KB</c>, <c>2GB</c>.</summary>
    public override string ToString()
    {
        foreach (var (name, factor) in Units)
        {
            if (Bytes != 0 && Bytes % factor == 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{Bytes / factor}{name}");
            }
        }

        return "0B";
    }
}
