using NetIsolator.Cni.Requests;

namespace NetIsolator.PortMapper.Plugin;

/// <summary>
/// The error codes of Mesos's <c>mesos-cni-port-mapper</c>, kept for the cases Mesos uses them (its users and logs
/// know them); everything Mesos never reported (an unsupported <c>cniVersion</c>, a busy host lock, ...) uses the
/// spec's well-known codes (<see cref="CniErrorCodes"/>).
/// </summary>
public static class MesosErrorCodes
{
    /// <summary>Reading stdin failed.</summary>
    public const uint ReadFailure = 100;

    /// <summary>A missing CNI_* variable, a bad config field or port mapping, a delegate not in CNI_PATH.</summary>
    public const uint BadArgs = 101;

    /// <summary>The delegate could not run, failed, or returned no usable address.</summary>
    public const uint DelegateFailure = 102;

    /// <summary>Installing, removing or checking the iptables rules failed.</summary>
    public const uint PortmapFailure = 103;

    /// <summary>CNI_COMMAND is none of the commands this plugin implements.</summary>
    public const uint UnsupportedCommand = 104;
}

/// <summary>
/// A failure the plugin reports as a CNI error object on stdout (<see cref="CniError"/>) with a non-zero exit. The
/// message names the failing step and the identifiers involved (container, chain, rule, plugin path).
/// </summary>
public sealed class PortMapperException(uint code, string message, string? details = null, Exception? inner = null)
    : Exception(message, inner)
{
    public uint Code { get; } = code;

    /// <summary>Extra text for the error's <c>details</c> (the delegate's own error, iptables' stderr).</summary>
    public string? Details { get; } = details;

    public static PortMapperException BadArgs(string message) => new(MesosErrorCodes.BadArgs, message);
}
