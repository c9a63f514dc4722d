namespace NetIsolator.Cni.Invocation;

/// <summary>The CNI verbs a plugin can be asked to perform (the value of <c>CNI_COMMAND</c>).</summary>
public enum PluginCommand
{
    Add,
    Del,
    Check,
    Version,
    Gc,
    Status,
}

/// <summary>Conversions between <see cref="PluginCommand"/> and its wire spelling.</summary>
public static class PluginCommands
{
    /// <summary>The value put in <c>CNI_COMMAND</c>: ADD, DEL, CHECK, VERSION, GC or STATUS.</summary>
    public static string ToWire(this PluginCommand command) => command switch
    {
        PluginCommand.Add => "ADD",
        PluginCommand.Del => "DEL",
        PluginCommand.Check => "CHECK",
        PluginCommand.Version => "VERSION",
        PluginCommand.Gc => "GC",
        PluginCommand.Status => "STATUS",
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, "unknown CNI command"),
    };
}
