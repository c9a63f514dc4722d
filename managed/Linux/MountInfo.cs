using System.Globalization;
using System.Text;

namespace NetIsolator.Linux;

/// <summary>
/// One line of <c>/proc/&lt;pid&gt;/mountinfo</c> (proc(5)):
/// <code>
/// 36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
/// (1)(2)(3)   (4)   (5)         (6)       (7)      (8) (9)   (10)      (11)
/// </code>
/// (7) is zero or more optional fields (<c>shared:N</c>, <c>master:N</c>, <c>propagate_from:N</c>,
/// <c>unbindable</c>) closed by the <c>-</c> separator (8). Paths are unescaped (<c>\040</c> is a space).
/// </summary>
public sealed record MountInfoEntry(
    int MountId,
    int ParentId,
    uint Major,
    uint Minor,
    string Root,
    string MountPoint,
    string MountOptions,
    IReadOnlyList<string> OptionalFields,
    string FilesystemType,
    string Source,
    string SuperOptions)
{
    /// <summary>The peer group this mount shares events with (<c>shared:N</c>), if it is shared.</summary>
    public int? SharedPeerGroup => OptionalField("shared:");

    /// <summary>The peer group this mount receives events from (<c>master:N</c>), if it is a slave.</summary>
    public int? MasterPeerGroup => OptionalField("master:");

    public bool IsShared => SharedPeerGroup is not null;

    private int? OptionalField(string tag)
    {
        foreach (var field in OptionalFields)
        {
            if (field.StartsWith(tag, StringComparison.Ordinal)
                && int.TryParse(field.AsSpan(tag.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }
        }
        return null;
    }
}

/// <summary>A pure parser for mountinfo text, plus a reader for the calling process's.</summary>
public static class MountInfo
{
    public const string SelfPath = "/proc/self/mountinfo";

    /// <summary>All entries of <c>/proc/self/mountinfo</c>, in the kernel's order (parents before children).</summary>
    public static IReadOnlyList<MountInfoEntry> ReadSelf() => ParseAll(File.ReadAllText(SelfPath));

    /// <summary>Parses every non-empty line.</summary>
    /// <exception cref="FormatException">A line is malformed; the message quotes it.</exception>
    public static IReadOnlyList<MountInfoEntry> ParseAll(string text)
    {
        var entries = new List<MountInfoEntry>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length > 0)
            {
                entries.Add(Parse(line));
            }
        }
        return entries;
    }

    /// <exception cref="FormatException">The line is malformed; the message quotes it.</exception>
    public static MountInfoEntry Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var separator = fields.Length < 10 ? -1 : Array.IndexOf(fields, "-", 6);
        if (separator < 0 || fields.Length < separator + 4)
        {
            throw Malformed(line, "expected 6 fields, optional fields, '-', and 3 more fields");
        }
        var device = fields[2].Split(':');
        if (device.Length != 2
            || !uint.TryParse(device[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            || !uint.TryParse(device[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor))
        {
            throw Malformed(line, $"bad device '{fields[2]}'");
        }
        return new MountInfoEntry(
            MountId: ParseId(fields[0], line),
            ParentId: ParseId(fields[1], line),
            Major: major,
            Minor: minor,
            Root: Unescape(fields[3]),
            MountPoint: Unescape(fields[4]),
            MountOptions: fields[5],
            OptionalFields: fields[6..separator],
            FilesystemType: Unescape(fields[separator + 1]),
            Source: Unescape(fields[separator + 2]),
            SuperOptions: fields[separator + 3]);
    }

    /// <summary>Undoes the kernel's octal escapes (<c>\040</c> space, <c>\011</c> tab, <c>\012</c> newline, <c>\134</c> backslash).</summary>
    public static string Unescape(string field)
    {
        if (!field.Contains('\\'))
        {
            return field;
        }
        // Escapes stand for single bytes of the (UTF-8) path, so unescape at the byte level.
        var input = Encoding.UTF8.GetBytes(field);
        var output = new byte[input.Length];
        var length = 0;
        for (var i = 0; i < input.Length; i++)
        {
            if (input[i] == (byte)'\\' && IsOctal(input, i + 1))
            {
                output[length++] = (byte)(((input[i + 1] - '0') << 6) | ((input[i + 2] - '0') << 3) | (input[i + 3] - '0'));
                i += 3;
            }
            else
            {
                output[length++] = input[i];
            }
        }
        return Encoding.UTF8.GetString(output, 0, length);
    }

    private static bool IsOctal(byte[] text, int start)
    {
        for (var i = start; i < start + 3; i++)
        {
            if (i >= text.Length || text[i] < '0' || text[i] > '7')
            {
                return false;
            }
        }
        return text[start] <= '3';
    }

    private static int ParseId(string field, string line) =>
        int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            ? id
            : throw Malformed(line, $"bad mount id '{field}'");

    private static FormatException Malformed(string line, string reason) =>
        new($"malformed mountinfo line ({reason}): '{line}'");
}
