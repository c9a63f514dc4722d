namespace NetIsolator.Cni;

/// <summary>
/// The rules CNI puts on the identifiers that become CNI_* variables and parts of file names: network names and
/// container IDs (<c>^[A-Za-z0-9][A-Za-z0-9_.\-]*$</c>, libcni ValidateNetworkName and ValidateContainerID) and
/// interface names (libcni ValidateInterfaceName). One place, so the config loader, the runtime and the result cache
/// cannot drift apart. The texts have no subject: callers put theirs in front.
/// </summary>
public static class CniNames
{
    /// <summary>IFNAMSIZ - 1.</summary>
    public const int MaxInterfaceNameLength = 15;

    /// <summary>Null when <paramref name="value"/> follows the identifier rule and is at most
    /// <paramref name="maxLength"/> characters; otherwise why not. The grammar already excludes '/', "../" and any
    /// non-ASCII character.</summary>
    public static string? IdentifierProblem(string? value, int maxLength)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "must not be empty";
        }
        if (value.Length > maxLength)
        {
            return $"is {value.Length} characters long, more than {maxLength}";
        }
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (!char.IsAscii(c))
            {
                return $"contains the non-ASCII character U+{(int)c:X4} at index {i}; only ASCII letters, digits, '_', '.' and '-' are allowed";
            }
            if (c == '/')
            {
                return $"contains '/' at index {i}; it is a name, not a path";
            }
            if (!(char.IsAsciiLetterOrDigit(c) || (i > 0 && c is '_' or '.' or '-')))
            {
                return i == 0
                    ? $"must start with an ASCII letter or digit, not '{Printable(c.ToString())}'"
                    : $"contains '{Printable(c.ToString())}' at index {i}; only ASCII letters, digits, '_', '.' and '-' are allowed";
            }
        }
        return null;
    }

    /// <summary>Null when <paramref name="ifName"/> is an interface name libcni accepts; otherwise why not.</summary>
    public static string? InterfaceNameProblem(string? ifName)
    {
        if (string.IsNullOrEmpty(ifName))
        {
            return "must not be empty";
        }
        if (ifName.Length > MaxInterfaceNameLength)
        {
            return $"is longer than {MaxInterfaceNameLength} characters";
        }
        if (ifName is "." or "..")
        {
            return "must not be \".\" or \"..\"";
        }
        return ifName.Any(c => c is '/' or ':' || char.IsWhiteSpace(c) || char.IsControl(c))
            ? "must not contain '/', ':', whitespace or control characters"
            : null;
    }

    /// <summary>A value as it can be quoted in a message: control characters escaped, long values cut.</summary>
    public static string Printable(string value)
    {
        var text = value.Length > 80 ? value[..80] + "..." : value;
        return string.Concat(text.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
    }
}
