namespace NetIsolator.Cni.Invocation;

/// <summary>
/// Runs CNI plugins (what libcni's <c>invoke.Exec</c> is for Go runtimes). The runtime only talks to this interface,
/// so it can be tested with fakes; <see cref="ProcessPluginExecutor"/> is the real one.
/// </summary>
public interface IPluginExecutor
{
    /// <summary>
    /// Resolves a plugin <paramref name="type"/> in the ':'-separated <paramref name="cniPath"/>.
    /// Throws <see cref="CniPluginException"/> (<see cref="PluginFailureKind.NotFound"/> or
    /// <see cref="PluginFailureKind.InvalidType"/>) when it cannot.
    /// </summary>
    string FindPlugin(string type, string cniPath);

    /// <summary>
    /// Runs the plugin once. Returns its output when it exits 0; throws <see cref="CniPluginException"/> when it
    /// cannot be started, exits non-zero or exceeds its time limit, and <see cref="OperationCanceledException"/>
    /// (after killing it) when <paramref name="cancellationToken"/> fires. <see cref="PluginInvocation.BeforeStdin"/>
    /// runs once the plugin has started and before it is given its stdin; its exception propagates as it is.
    /// </summary>
    Task<PluginOutput> ExecuteAsync(PluginInvocation invocation, CancellationToken cancellationToken = default);
}
