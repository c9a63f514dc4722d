using System.Diagnostics.CodeAnalysis;

namespace NetIsolator.Cni.Config;

/// <summary>
/// The CNI network name rule (libcni ValidateNetworkName): <c>^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$</c>, plus a length bound,
/// because the name ends up in file names (the result cache's <c>&lt;net&gt;-&lt;cid&gt;-&lt;ifname&gt;</c>, checkpoints).
/// The rule already excludes '/', "../" and any non-ASCII character; the messages say which rule a name broke.
/// </summary>
public static class NetworkName
{
    /// <summary>The longest accepted network name.</summary>
    public const int MaxLength = 128;

    public static bool IsValid([NotNullWhen(true)] string? name) => Problem(name) is null;

    /// <summary>Null when <paramref name="name"/> is valid; otherwise why not.</summary>
    public static string? Problem(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "must not be empty";
        }

        if (name.Length > MaxLength)
        {
            return $"is {name.Length} characters long, more than {MaxLength}";
        }

        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (!char.IsAscii(c))
            {
                return $"contains the non-ASCII character U+{(int)c:X4} at index {i}; only ASCII letters, digits, '_', '.' and '-' are allowed";
            }

            if (c == '/')
            {
                return $"contains '/' at index {i}; a network name is not a path";
            }

            var allowed = char.IsAsciiLetterOrDigit(c) || (i > 0 && c is '_' or '.' or '-');
            if (!allowed)
            {
                return i == 0
                    ? $"must start with an ASCII letter or digit, not '{Printable(c)}'"
                    : $"contains '{Printable(c)}' at index {i}; only ASCII letters, digits, '_', '.' and '-' are allowed";
            }
        }

        return null;
    }

    private static string Printable(char c) => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString();
}
