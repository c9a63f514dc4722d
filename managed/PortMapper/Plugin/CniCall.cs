using System.Collections;
using NetIsolator.Cni.Invocation;
using NetIsolator.Cni.Runtime;

namespace NetIsolator.PortMapper.Plugin;

/// <summary>
/// The CNI_* variables of one invocation, checked for the command they came with. Mesos's plugin demands CNI_NETNS
/// for every command but DEL, VERSION included; here VERSION needs nothing but CNI_COMMAND, DEL never needs the
/// namespace (it may be gone), and GC and STATUS need only CNI_PATH, as the spec says.
/// </summary>
public sealed record CniCall
{
    public required PluginCommand Command { get; init; }

    public string ContainerId { get; init; } = "";

    /// <summary>CNI_NETNS as given; null when unset (only DEL, GC, STATUS and VERSION allow that).</summary>
    public string? NetNs { get; init; }

    public string IfName { get; init; } = "";

    /// <summary>CNI_ARGS pairs, passed through to the delegate.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Args { get; init; } = [];

    /// <summary>CNI_PATH: where the delegate is looked up, and passed on to it.</summary>
    public string CniPath { get; init; } = "";

    /// <summary>Reads CNI_COMMAND; an unknown command is refused with Mesos's code 104 before anything else is read.</summary>
    public static PluginCommand ReadCommand(IDictionary environment)
    {
        var text = Get(environment, "CNI_COMMAND") ?? throw PortMapperException.BadArgs("missing environment variable CNI_COMMAND");
        return text switch
        {
            "ADD" => PluginCommand.Add,
            "DEL" => PluginCommand.Del,
            "CHECK" => PluginCommand.Check,
            "VERSION" => PluginCommand.Version,
            "GC" => PluginCommand.Gc,
            "STATUS" => PluginCommand.Status,
            _ => throw new PortMapperException(MesosErrorCodes.UnsupportedCommand, $"Unsupported command: {Printable(text)}"),
        };
    }

    /// <summary>The variables <paramref name="command"/> needs, validated (code 101, naming the variable and the value).</summary>
    public static CniCall Read(PluginCommand command, IDictionary environment)
    {
        var attachment = command is PluginCommand.Add or PluginCommand.Del or PluginCommand.Check;
        var call = new CniCall { Command = command, NetNs = Get(environment, "CNI_NETNS") };
        if (command == PluginCommand.Version)
        {
            return call;
        }

        if (attachment)
        {
            var containerId = Require(environment, "CNI_CONTAINERID");
            if (RuntimeConf.ContainerIdProblem(containerId) is { } idProblem)
            {
                throw PortMapperException.BadArgs($"CNI_CONTAINERID: {idProblem}");
            }

            if (command != PluginCommand.Del && call.NetNs is null)
            {
                throw PortMapperException.BadArgs($"missing environment variable CNI_NETNS (required for {command.ToWire()})");
            }

            if (call.NetNs is { } netns && (!Path.IsPathRooted(netns) || netns.Contains('\0')))
            {
                throw PortMapperException.BadArgs($"CNI_NETNS: \"{Printable(netns)}\" is not an absolute path");
            }

            var ifName = Require(environment, "CNI_IFNAME");
            if (RuntimeConf.InterfaceNameProblem(ifName) is { } ifProblem)
            {
                throw PortMapperException.BadArgs($"CNI_IFNAME: {ifProblem}");
            }

            call = call with { ContainerId = containerId, IfName = ifName, Args = ParseArgs(Get(environment, "CNI_ARGS")) };
        }

        return call with { CniPath = Require(environment, "CNI_PATH") };
    }

    /// <summary><c>K=V;K2=V2</c> as pairs; an entry without '=' is refused, as libcni's skel refuses it.</summary>
    internal static IReadOnlyList<KeyValuePair<string, string>> ParseArgs(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return [];
        }

        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var item in text.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = item.IndexOf('=');
            if (equals <= 0)
            {
                throw PortMapperException.BadArgs($"CNI_ARGS: invalid entry \"{Printable(item)}\" (expected KEY=VALUE)");
            }

            pairs.Add(new(item[..equals], item[(equals + 1)..]));
        }

        return pairs;
    }

    private static string Require(IDictionary environment, string name) =>
        Get(environment, name) is { Length: > 0 } value ? value : throw PortMapperException.BadArgs($"missing environment variable {name}");

    private static string? Get(IDictionary environment, string name) => environment[name] as string;

    private static string Printable(string text) => NetIsolator.Cni.CniNames.Printable(text);
}
