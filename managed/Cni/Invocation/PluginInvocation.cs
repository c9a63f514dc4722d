namespace NetIsolator.Cni.Invocation;

/// <summary>
/// Everything needed to run one CNI plugin once: which binary, which verb, the CNI_* environment and the bytes for
/// its stdin. Immutable; the executor turns it into an argv-only process start (never a shell).
/// </summary>
public sealed class PluginInvocation
{
    /// <summary>The default time limit for one plugin run.</summary>
    public static readonly TimeSpan DefaultTimeLimit = TimeSpan.FromSeconds(60);

    /// <summary>Absolute path of the plugin binary (see <see cref="IPluginExecutor.FindPlugin"/>).</summary>
    public required string PluginPath { get; init; }

    /// <summary>The verb, exported as <c>CNI_COMMAND</c>.</summary>
    public required PluginCommand Command { get; init; }

    /// <summary><c>CNI_CONTAINERID</c>; not exported when null (VERSION, GC and STATUS need none).</summary>
    public string? ContainerId { get; init; }

    /// <summary>
    /// <c>CNI_NETNS</c>: the container's network namespace path. Null leaves the variable unset, which DEL allows
    /// (the namespace may be gone); the plugin must then still release host-side state.
    /// </summary>
    public string? NetNsPath { get; init; }

    /// <summary><c>CNI_IFNAME</c>; not exported when null.</summary>
    public string? IfName { get; init; }

    /// <summary><c>CNI_PATH</c>: the ':'-separated directories plugins (and their delegates) are searched in.</summary>
    public string CniPath { get; init; } = "";

    /// <summary><c>CNI_ARGS</c> as key/value pairs, joined as <c>K=V;K2=V2</c>; not exported when empty.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> CniArgs { get; init; } = [];

    /// <summary>The exact bytes written to the plugin's stdin (the network configuration).</summary>
    public ReadOnlyMemory<byte> Stdin { get; init; }

    /// <summary>
    /// Work the caller must finish before the plugin can act, done while the plugin process starts (a runtime's
    /// checkpoint, say). The executor starts the process, awaits this, and only then writes stdin: a CNI plugin learns
    /// what to do from the configuration on its stdin, so it can change nothing before the work is done, and starting a
    /// plugin (fork, exec, a Go runtime's start-up) takes milliseconds the work would otherwise add. If it throws, the
    /// plugin is killed before it has read a byte, reaped, and the exception propagates unchanged. Null: stdin is
    /// written at once.
    /// </summary>
    public Func<Task>? BeforeStdin { get; init; }

    /// <summary>How long the plugin may run before the whole process tree is killed.</summary>
    public TimeSpan TimeLimit { get; init; } = DefaultTimeLimit;

    /// <summary>The plugin type as shown in messages: the file name of <see cref="PluginPath"/>.</summary>
    public string PluginType => Path.GetFileName(PluginPath);

    /// <summary>
    /// A VERSION query as libcni sends it: stdin <c>{"cniVersion":"..."}</c> and the placeholder CNI_NETNS, CNI_IFNAME
    /// and CNI_CONTAINERID values that plugins built on older skel versions insist on.
    /// </summary>
    public static PluginInvocation ForVersion(string pluginPath, string cniVersion, string cniPath, TimeSpan? timeLimit = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(cniVersion);
        using var buffer = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("cniVersion", cniVersion);
            writer.WriteEndObject();
        }

        return new PluginInvocation
        {
            PluginPath = pluginPath,
            Command = PluginCommand.Version,
            ContainerId = "dummy",
            NetNsPath = "dummy",
            IfName = "dummy",
            CniPath = cniPath,
            Stdin = buffer.ToArray(),
            TimeLimit = timeLimit ?? DefaultTimeLimit,
        };
    }

    /// <summary>Short description for messages: <c>bridge ADD for container 'c1' eth0</c>.</summary>
    internal string Describe()
    {
        var text = $"{PluginType} {Command.ToWire()}";
        if (Command is PluginCommand.Add or PluginCommand.Del or PluginCommand.Check)
        {
            if (ContainerId is not null)
            {
                text += $" for container '{ContainerId}'";
            }

            if (IfName is not null)
            {
                text += $" {IfName}";
            }
        }

        return text;
    }
}
