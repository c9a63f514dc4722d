using NetIsolator.Cni.Invocation;

namespace NetIsolator.Cni.Runtime;

/// <summary>
/// A runtime operation (ADD, DEL, CHECK, GC, STATUS, VERSION, validation) that failed. The message names the
/// network, the operation, the container and interface, the plugin (index and type) and the step, followed by the
/// underlying error, e.g.
/// <c>network "net1": ADD for container 'c1' eth0 failed at plugins[1] (portmap) while running the plugin: ...</c>.
/// The underlying <see cref="CniPluginException"/> (exit code, CNI error, stderr) is the inner exception.
/// </summary>
public sealed class CniRuntimeException : Exception
{
    public CniRuntimeException(
        string message,
        PluginCommand? command = null,
        string? networkName = null,
        string? containerId = null,
        string? ifName = null,
        int? pluginIndex = null,
        string? pluginType = null,
        string? step = null,
        Exception? innerException = null)
        : base(message, innerException)
    {
        Command = command;
        NetworkName = networkName;
        ContainerId = containerId;
        IfName = ifName;
        PluginIndex = pluginIndex;
        PluginType = pluginType;
        Step = step;
    }

    public PluginCommand? Command { get; }

    public string? NetworkName { get; }

    public string? ContainerId { get; }

    public string? IfName { get; }

    /// <summary>The failing plugin's position in the list, when a plugin was involved.</summary>
    public int? PluginIndex { get; }

    public string? PluginType { get; }

    /// <summary>What the runtime was doing: "finding the plugin", "running the plugin", "saving the cache", ...</summary>
    public string? Step { get; }

    /// <summary>The plugin failure behind this one, if any.</summary>
    public CniPluginException? PluginError => InnerException as CniPluginException;
}
