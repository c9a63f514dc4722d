using System.Text;

namespace NetIsolator.Cni.Config;

/// <summary>
/// Finds plugin binaries in a ':'-separated search path (CNI_PATH): the first entry holding a regular file of that
/// name with any execute bit set wins (libcni FindInPath; Mesos checks the same bits). A plugin type is a bare file
/// name: one containing '/' or "..", whitespace or control characters is refused before the file system is
/// touched, so a config cannot point the runtime at an arbitrary binary. Relative search-path entries are ignored.
/// </summary>
public static class PluginPath
{
    /// <summary>Longest plugin type accepted (a file name).</summary>
    public const int MaxTypeLength = 255;

    private const UnixFileMode AnyExecute =
        UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>Null when <paramref name="type"/> is an acceptable plugin name; otherwise why not.</summary>
    public static string? NameProblem(string? type)
    {
        if (string.IsNullOrEmpty(type))
        {
            return "must not be empty";
        }
        if (type.Length > MaxTypeLength)
        {
            return $"must not be longer than {MaxTypeLength} characters";
        }
        if (type.Contains('/'))
        {
            return "must be a plugin file name, without '/'";
        }
        if (type == "." || type.Contains("..", StringComparison.Ordinal))
        {
            return "must be a plugin file name, without \"..\"";
        }
        if (type.Any(char.IsControl))
        {
            return "must not contain control characters";
        }
        if (type.Any(char.IsWhiteSpace))
        {
            return "must not contain whitespace";
        }
        return null;
    }

    /// <summary>The absolute entries of a ':'-separated search path, in order.</summary>
    public static IReadOnlyList<string> SplitSearchPath(string? searchPath) =>
        (searchPath ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(Path.IsPathRooted)
            .ToArray();

    /// <summary>The path of the first executable <paramref name="type"/> in <paramref name="searchPath"/>, or null.</summary>
    /// <exception cref="CniConfigException">The type is not a plain plugin file name.</exception>
    public static string? TryFind(string type, string? searchPath) => Search(type, searchPath, rejected: null);

    /// <summary>As <see cref="TryFind"/>, but a missing plugin throws <see cref="PluginNotFoundException"/>, whose
    /// message names the type, the search path and any candidate that was there but not executable.</summary>
    public static string Find(string type, string? searchPath)
    {
        var rejected = new List<string>();
        return Search(type, searchPath, rejected)
               ?? throw new PluginNotFoundException(type, searchPath ?? "", SplitSearchPath(searchPath), rejected);
    }

    private static string? Search(string type, string? searchPath, List<string>? rejected)
    {
        if (NameProblem(type) is { } problem)
        {
            throw new CniConfigException($"invalid CNI plugin type {Quote(type)}: {problem}");
        }
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("CNI plugins run on Linux only");
        }
        foreach (var directory in SplitSearchPath(searchPath))
        {
            var candidate = Path.Join(directory, type);
            if (!File.Exists(candidate))
            {
                continue;
            }
            try
            {
                // The mode of the link's target (stat, not lstat).
                if ((File.GetUnixFileMode(candidate) & AnyExecute) != 0)
                {
                    return candidate;
                }
                rejected?.Add($"{candidate} is not executable");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                rejected?.Add($"{candidate}: {e.Message}");
            }
        }
        return null;
    }

    /// <summary>The type quoted for a message, control characters escaped and long names cut.</summary>
    private static string Quote(string? text)
    {
        var builder = new StringBuilder("\"");
        text ??= "";
        foreach (var c in text.Length > 64 ? text[..64] + "..." : text)
        {
            builder.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        }
        return builder.Append('"').ToString();
    }
}
