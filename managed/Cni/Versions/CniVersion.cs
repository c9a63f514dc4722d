using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace NetIsolator.Cni.Versions;

/// <summary>
/// A CNI spec version (<c>major.minor.patch</c>). Parsing follows libcni: one to three dot-separated non-negative
/// integers, missing parts being zero ("0.4" is 0.4.0). Comparison is numeric, so 0.10.0 &gt; 0.4.0.
/// </summary>
public readonly record struct CniVersion(int Major, int Minor, int Patch) : IComparable<CniVersion>
{
    public static readonly CniVersion V010 = new(0, 1, 0);
    public static readonly CniVersion V020 = new(0, 2, 0);
    public static readonly CniVersion V030 = new(0, 3, 0);
    public static readonly CniVersion V031 = new(0, 3, 1);
    public static readonly CniVersion V040 = new(0, 4, 0);
    public static readonly CniVersion V100 = new(1, 0, 0);
    public static readonly CniVersion V110 = new(1, 1, 0);

    /// <summary>The highest spec version this runtime implements.</summary>
    public static readonly CniVersion Latest = V110;

    /// <summary>
    /// The version a config or a VERSION request means when it carries no <c>cniVersion</c> (the spec's backwards
    /// compatibility rule, as in libcni's config decoder).
    /// </summary>
    public static readonly CniVersion Default = V010;

    /// <summary>Every spec version the runtime speaks, ascending.</summary>
    public static IReadOnlyList<CniVersion> Supported { get; } = [V010, V020, V030, V031, V040, V100, V110];

    /// <summary>True when the runtime speaks this exact version (unknown patch levels are not assumed compatible).</summary>
    public bool IsSupported => Supported.Contains(this);

    public static CniVersion Parse(string text) =>
        TryParse(text, out var version, out var problem)
            ? version
            : throw new CniVersionException($"invalid CNI version \"{text}\": {problem}");

    public static bool TryParse([NotNullWhen(true)] string? text, out CniVersion version) =>
        TryParse(text, out version, out _);

    public static bool TryParse([NotNullWhen(true)] string? text, out CniVersion version, out string problem)
    {
        version = default;
        if (string.IsNullOrEmpty(text))
        {
            problem = "empty version";
            return false;
        }

        var parts = text.Split('.');
        if (parts.Length > 3)
        {
            problem = "more than three dot-separated parts";
            return false;
        }

        Span<int> numbers = [0, 0, 0];
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            if (part.Length == 0 || part.Length > 9 || !part.All(char.IsAsciiDigit))
            {
                problem = $"part {i + 1} (\"{part}\") is not a non-negative integer";
                return false;
            }

            numbers[i] = int.Parse(part, NumberStyles.None, CultureInfo.InvariantCulture);
        }

        version = new CniVersion(numbers[0], numbers[1], numbers[2]);
        problem = "";
        return true;
    }

    /// <summary>
    /// Parses a version and requires that the runtime supports it; the error lists what is supported.
    /// </summary>
    public static CniVersion ParseSupported(string text)
    {
        var version = Parse(text);
        return version.IsSupported
            ? version
            : throw new CniVersionException(
                $"CNI version \"{text}\" is not supported (supported: {string.Join(", ", Supported)})");
    }

    public int CompareTo(CniVersion other)
    {
        var byMajor = Major.CompareTo(other.Major);
        if (byMajor != 0)
        {
            return byMajor;
        }

        var byMinor = Minor.CompareTo(other.Minor);
        return byMinor != 0 ? byMinor : Patch.CompareTo(other.Patch);
    }

    public static bool operator <(CniVersion left, CniVersion right) => left.CompareTo(right) < 0;

    public static bool operator >(CniVersion left, CniVersion right) => left.CompareTo(right) > 0;

    public static bool operator <=(CniVersion left, CniVersion right) => left.CompareTo(right) <= 0;

    public static bool operator >=(CniVersion left, CniVersion right) => left.CompareTo(right) >= 0;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}");
}

/// <summary>A version string that cannot be parsed, or one the runtime does not support.</summary>
public sealed class CniVersionException(string message) : FormatException(message);
