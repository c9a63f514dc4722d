using System.Collections;

namespace NetIsolator.Cni.Invocation;

/// <summary>
/// Builds a plugin's environment: the agent's environment without any inherited CNI_* variable, plus the CNI_* ones
/// of the invocation. PATH is kept (plugins exec iptables, ip, their IPAM delegate ...); a default is supplied when
/// the agent has none.
/// </summary>
internal static class PluginEnvironment
{
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static Dictionary<string, string> Build(PluginInvocation invocation, IEnumerable<KeyValuePair<string, string>> inherited)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in inherited)
        {
            if (!name.StartsWith("CNI_", StringComparison.Ordinal))
            {
                environment[name] = value;
            }
        }

        if (!environment.TryGetValue("PATH", out var path) || string.IsNullOrEmpty(path))
        {
            environment["PATH"] = DefaultPath;
        }

        Set(environment, "CNI_COMMAND", invocation.Command.ToWire());
        Set(environment, "CNI_CONTAINERID", invocation.ContainerId);
        Set(environment, "CNI_NETNS", invocation.NetNsPath);
        Set(environment, "CNI_IFNAME", invocation.IfName);
        Set(environment, "CNI_PATH", invocation.CniPath);
        if (invocation.CniArgs.Count > 0)
        {
            Set(environment, "CNI_ARGS", FormatArgs(invocation.CniArgs));
        }

        return environment;
    }

    /// <summary>The agent's current environment.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Current()
    {
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && entry.Value is string value)
            {
                yield return new(name, value);
            }
        }
    }

    /// <summary><c>K=V;K2=V2</c>; refuses keys or values that would change the meaning of the list.</summary>
    public static string FormatArgs(IReadOnlyList<KeyValuePair<string, string>> args)
    {
        var parts = new List<string>(args.Count);
        foreach (var (key, value) in args)
        {
            if (key.Length == 0 || key.AsSpan().IndexOfAny("=;\0") >= 0)
            {
                throw new ArgumentException($"invalid CNI_ARGS key \"{key}\": must be non-empty without '=', ';' or NUL");
            }

            if (value.AsSpan().IndexOfAny(";\0") >= 0)
            {
                throw new ArgumentException($"invalid CNI_ARGS value for \"{key}\": must not contain ';' or NUL");
            }

            parts.Add($"{key}={value}");
        }

        return string.Join(';', parts);
    }

    private static void Set(Dictionary<string, string> environment, string name, string? value)
    {
        if (value is null)
        {
            return;
        }

        if (value.Contains('\0'))
        {
            throw new ArgumentException($"{name} must not contain NUL");
        }

        environment[name] = value;
    }
}
