using NetIsolator.Cni.Requests;

namespace NetIsolator.Cni.Runtime;

/// <summary>
/// One attachment of a container to a network, as the runtime is asked to ADD, CHECK or DEL it (libcni
/// <c>RuntimeConf</c>). The attachment key is <c>(ContainerId, IfName)</c> within a network.
/// </summary>
public sealed record RuntimeConf
{
    /// <summary>The longest container ID accepted (it becomes part of the cache file name, at most 255 bytes).</summary>
    public const int MaxContainerIdLength = 200;

    /// <summary>IFNAMSIZ - 1.</summary>
    public const int MaxInterfaceNameLength = CniNames.MaxInterfaceNameLength;

    /// <summary><c>CNI_CONTAINERID</c>: <c>^[A-Za-z0-9][A-Za-z0-9_.\-]*$</c>.</summary>
    public required string ContainerId { get; init; }

    /// <summary>
    /// <c>CNI_NETNS</c>: the path of the container's network namespace. Required for ADD and CHECK; may be null for
    /// DEL (the namespace is gone, or unknown after a crash), which leaves <c>CNI_NETNS</c> unset.
    /// </summary>
    public string? NetNsPath { get; init; }

    /// <summary><c>CNI_IFNAME</c>: at most 15 characters, no '/', ':' or whitespace, not "." or "..".</summary>
    public string IfName { get; init; } = "eth0";

    /// <summary><c>CNI_ARGS</c> pairs (deprecated by the spec in favour of <c>args</c>, still honoured by plugins).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> CniArgs { get; init; } = [];

    /// <summary>Capability arguments (<c>runtimeConfig</c>) and <c>args</c> merged into every plugin's request.</summary>
    public RuntimeInputs Inputs { get; init; } = RuntimeInputs.None;

    /// <summary>Null when <paramref name="containerId"/> is acceptable; otherwise why not (the value is named).</summary>
    public static string? ContainerIdProblem(string? containerId) =>
        CniNames.IdentifierProblem(containerId, MaxContainerIdLength) is { } problem
            ? $"invalid container ID \"{CniNames.Printable(containerId ?? "")}\": {problem}"
            : null;

    /// <summary>Null when <paramref name="ifName"/> is acceptable (libcni ValidateInterfaceName); otherwise why not.</summary>
    public static string? InterfaceNameProblem(string? ifName) =>
        CniNames.InterfaceNameProblem(ifName) is { } problem
            ? $"invalid interface name \"{CniNames.Printable(ifName ?? "")}\": {problem}"
            : null;

    /// <summary>Throws <see cref="InvalidRuntimeConfException"/> naming the offending value.</summary>
    /// <param name="requireNetNs">ADD and CHECK need a namespace path; DEL does not.</param>
    public void Validate(bool requireNetNs)
    {
        if (ContainerIdProblem(ContainerId) is { } idProblem)
        {
            throw new InvalidRuntimeConfException(idProblem);
        }

        if (InterfaceNameProblem(IfName) is { } ifProblem)
        {
            throw new InvalidRuntimeConfException(ifProblem);
        }

        if (NetNsPath is null)
        {
            if (requireNetNs)
            {
                throw new InvalidRuntimeConfException(
                    $"container \"{ContainerId}\" {IfName}: a network namespace path is required (CNI_NETNS)");
            }
        }
        else if (NetNsPath.Length == 0 || !Path.IsPathRooted(NetNsPath) || NetNsPath.Contains('\0'))
        {
            throw new InvalidRuntimeConfException(
                $"container \"{ContainerId}\" {IfName}: invalid network namespace path \"{CniNames.Printable(NetNsPath)}\": must be an absolute path");
        }

        try
        {
            Invocation.PluginEnvironment.FormatArgs(CniArgs);
        }
        catch (ArgumentException e)
        {
            throw new InvalidRuntimeConfException($"container \"{ContainerId}\" {IfName}: {e.Message}");
        }

        ArgumentNullException.ThrowIfNull(Inputs);
    }

}

/// <summary>A container ID, interface name, namespace path or CNI_ARGS pair the runtime refuses; no plugin ran.</summary>
public sealed class InvalidRuntimeConfException(string message) : ArgumentException(message);
