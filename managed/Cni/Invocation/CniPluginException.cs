using NetIsolator.Cni.Requests;
namespace NetIsolator.Cni.Invocation;

/// <summary>Why a plugin run failed.</summary>
public enum PluginFailureKind
{
    /// <summary>The plugin ran and exited with a non-zero status (its CNI error, if any, is in <see cref="CniPluginException.Error"/>).</summary>
    ExitedNonZero,

    /// <summary>The plugin exceeded its time limit and was killed with its whole process tree.</summary>
    TimedOut,

    /// <summary>The process could not be started (missing, not executable, not a valid binary, ...).</summary>
    CouldNotStart,

    /// <summary>The plugin type was not found in CNI_PATH.</summary>
    NotFound,

    /// <summary>The plugin type is not a plain file name (contains '/', "..", NUL, ...).</summary>
    InvalidType,

    /// <summary>The plugin exited 0 but wrote more stdout than the executor accepts.</summary>
    OutputTooLarge,
}

/// <summary>
/// A CNI plugin could not be found, started, or finished successfully. The message names the plugin, the verb, the
/// container and interface, the exit code, the parsed CNI error (or raw stdout) and stderr, so that an operator can
/// act on it without re-running anything, e.g.
/// <c>bridge ADD for container 'c1' eth0 failed (exit 1): [code 11] try again later: busy; stderr: ...; plugin /usr/lib/cni/bridge</c>.
/// </summary>
public sealed class CniPluginException : Exception
{
    /// <summary>Bound on the stderr and stdout text kept in messages and properties.</summary>
    public const int MaxTextLength = 4096;

    public CniPluginException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    internal CniPluginException(
        PluginFailureKind kind,
        string message,
        PluginInvocation? invocation,
        string? pluginPath,
        string? pluginType,
        Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
        PluginPath = pluginPath ?? invocation?.PluginPath;
        PluginType = pluginType ?? invocation?.PluginType;
        Command = invocation?.Command;
        ContainerId = invocation?.ContainerId;
        IfName = invocation?.IfName;
    }

    public PluginFailureKind Kind { get; }

    /// <summary>The resolved plugin binary, when known.</summary>
    public string? PluginPath { get; }

    /// <summary>The plugin type (file name), when known.</summary>
    public string? PluginType { get; }

    public PluginCommand? Command { get; }

    public string? ContainerId { get; }

    public string? IfName { get; }

    /// <summary>The exit status (128 + signal when killed by a signal); null when it never ran or was killed on a time limit.</summary>
    public int? ExitCode { get; init; }

    /// <summary>The CNI error object the plugin printed on stdout, when it printed one.</summary>
    public CniError? Error { get; init; }

    /// <summary>Raw stdout (bounded) when it was not a CNI error object; null otherwise.</summary>
    public string? RawStdout { get; init; }

    /// <summary>stderr, trimmed and bounded ("" when empty).</summary>
    public string Stderr { get; init; } = "";

    /// <summary>The time limit that expired, for <see cref="PluginFailureKind.TimedOut"/>.</summary>
    public TimeSpan? TimeLimit { get; init; }

    /// <summary>The CNI error code, or null when the plugin printed none.</summary>
    public uint? ErrorCode => Error?.Code;

    /// <summary>Trims and bounds text from a plugin for use in messages.</summary>
    internal static string Bound(string text)
    {
        text = text.Trim();
        return text.Length <= MaxTextLength ? text : $"{text[..MaxTextLength]}... ({text.Length - MaxTextLength} more chars)";
    }
}
