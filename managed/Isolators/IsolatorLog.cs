using NetIsolator.Bridge;

namespace NetIsolator.Isolators;

/// <summary>Severity of a line an isolator logs.</summary>
public enum IsolatorLogLevel
{
    Info,
    Warning,
    Error,
}

/// <summary>
/// Where an isolator's log lines go: a sink given at construction (tests collect them), or the agent's log through
/// the bridge. A sink that throws never breaks a container operation.
/// </summary>
public sealed class IsolatorLog(Action<IsolatorLogLevel, string>? sink = null)
{
    private readonly Action<IsolatorLogLevel, string> _sink = sink ?? ToAgent;

    public void Write(IsolatorLogLevel level, string message)
    {
        try
        {
            _sink(level, message);
        }
        catch (Exception)
        {
            // A broken logger must not break the container.
        }
    }

    /// <summary>The agent's log (glog, through the bridge's log sink).</summary>
    public static void ToAgent(IsolatorLogLevel level, string message)
    {
        switch (level)
        {
            case IsolatorLogLevel.Error:
                BridgeLog.LogError(message);
                break;
            case IsolatorLogLevel.Warning:
                BridgeLog.LogWarning(message);
                break;
            default:
                BridgeLog.LogInfo(message);
                break;
        }
    }
}
