using NetIsolator.Bridge;
using NetIsolator.Linux;

namespace NetIsolator.Isolators.Cni;

/// <summary>
/// The CNI isolator's settings, read from its module parameters under Mesos's agent flag names (a module cannot
/// read the agent's own flags, so the operator repeats the ones it needs).
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term><c>network_cni_config_dir</c></term><description>Flat directory of network configs (<c>.conf</c>,
/// <c>.conflist</c>, <c>.json</c>).</description></item>
/// <item><term><c>network_cni_plugins_dir</c></term><description>':'-separated plugin search path (also CNI_PATH).
/// Never checked for existence, as in Mesos; a missing plugin fails the prepare that needs it.</description></item>
/// <item><term><c>network_cni_root_dir_persist</c></term><description><c>true</c>: ROOT =
/// <c>&lt;work_dir&gt;/isolators/network/cni</c> (kept across reboots); default <c>false</c>: ROOT =
/// <c>&lt;runtime_dir&gt;/isolators/network/cni</c>.</description></item>
/// <item><term><c>network_cni_metrics</c></term><description>Default <c>true</c>: usage reports the container's
/// interface counters, read over netlink inside its namespace; <c>false</c>: the timestamp only.</description></item>
/// <item><term><c>default_container_dns</c></term><description>Mesos's <c>ContainerDNSInfo</c> JSON, inline or
/// <c>file://path</c>; validated at start (see <see cref="ContainerDnsInfo"/>).</description></item>
/// <item><term><c>runtime_dir</c></term><description>The agent's <c>--runtime_dir</c>; default
/// <c>/var/run/mesos</c>.</description></item>
/// <item><term><c>work_dir</c></term><description>The agent's <c>--work_dir</c>; required with
/// <c>network_cni_root_dir_persist=true</c>.</description></item>
/// <item><term><c>network_cni_host_netns</c></term><description>Ours, not Mesos's: an absolute path of a network
/// namespace (e.g. <c>/run/netns/fake-host</c>) in which every plugin is started, so that what plugins do "on the
/// host" (bridges, veth host ends, iptables) happens there. For the standalone runner and tests, so that nothing
/// touches the machine's real network; leave it unset on a real agent.</description></item>
/// <item><term><c>network_cni_plugin_timeout</c></term><description>Ours: seconds one plugin run may take before it
/// is killed (Mesos has no limit); default 60.</description></item>
/// </list>
/// Neither <c>network_cni_config_dir</c> nor <c>network_cni_plugins_dir</c> set = no-op mode (Mesos §1.2 step 1):
/// no ROOT, no root check; containers on the host network run as usual and one naming a network fails in prepare.
/// </remarks>
public sealed record CniIsolatorOptions
{
    public const string ConfigDirParameter = "network_cni_config_dir";
    public const string PluginsDirParameter = "network_cni_plugins_dir";
    public const string RootDirPersistParameter = "network_cni_root_dir_persist";
    public const string MetricsParameter = "network_cni_metrics";
    public const string DefaultContainerDnsParameter = "default_container_dns";
    public const string RuntimeDirParameter = "runtime_dir";
    public const string WorkDirParameter = "work_dir";
    public const string HostNetnsParameter = "network_cni_host_netns";
    public const string PluginTimeoutParameter = "network_cni_plugin_timeout";

    public const string DefaultRuntimeDirectory = "/var/run/mesos";

    /// <summary>ROOT relative to the runtime or work directory.</summary>
    public const string RootSuffix = "isolators/network/cni";

    public static readonly TimeSpan DefaultPluginTimeout = TimeSpan.FromSeconds(60);

    public string? ConfigDirectory { get; init; }

    public string? PluginsDirectory { get; init; }

    public bool RootDirPersist { get; init; }


    public bool Metrics { get; init; } = true;

    /// <summary>The parsed <c>default_container_dns</c> (<see cref="ContainerDnsInfo.Empty"/> when unset).</summary>
    public ContainerDnsInfo DefaultContainerDns { get; init; } = ContainerDnsInfo.Empty;

    public string RuntimeDirectory { get; init; } = DefaultRuntimeDirectory;

    public string? WorkDirectory { get; init; }

    public string? HostNetworkNamespace { get; init; }

    public TimeSpan PluginTimeout { get; init; } = DefaultPluginTimeout;

    /// <summary>Neither directory set: Mesos's no-op mode.</summary>
    public bool IsNoOp => string.IsNullOrEmpty(ConfigDirectory) && string.IsNullOrEmpty(PluginsDirectory);

    /// <summary>ROOT (before realpath), or null in no-op mode.</summary>
    /// <summary>
    /// What files under ROOT must survive: a machine crash when ROOT persists across reboots (a DEL after the reboot
    /// needs the cached config), only an agent crash when ROOT is in the runtime directory, which a reboot discards.
    /// </summary>
    public Durability StateDurability => RootDirPersist ? Durability.PowerLoss : Durability.ProcessCrash;

    public string? RootDirectory =>
        IsNoOp ? null : Path.Join(RootDirPersist ? WorkDirectory! : RuntimeDirectory, RootSuffix);

    /// <summary>Reads every supported parameter (so none is reported unknown) and validates them.</summary>
    /// <exception cref="ModuleParameterException">A parameter is malformed or a required one is missing.</exception>
    public static CniIsolatorOptions FromParameters(ModuleParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var timeoutSeconds = parameters.GetInt64(PluginTimeoutParameter, (long)DefaultPluginTimeout.TotalSeconds, 1, 24 * 3600);
        var dnsText = parameters.Get(DefaultContainerDnsParameter);
        ContainerDnsInfo dns;
        try
        {
            dns = ContainerDnsInfo.Parse(dnsText);
        }
        catch (ContainerDnsInfoException e)
        {
            throw new ModuleParameterException(
                $"module '{parameters.ModuleName}': parameter '{DefaultContainerDnsParameter}': {e.Message}");
        }

        var options = new CniIsolatorOptions
        {
            ConfigDirectory = Empty(parameters.Get(ConfigDirParameter)),
            PluginsDirectory = Empty(parameters.Get(PluginsDirParameter)),
            RootDirPersist = parameters.GetBoolean(RootDirPersistParameter, false),
            Metrics = parameters.GetBoolean(MetricsParameter, true),
            DefaultContainerDns = dns,
            RuntimeDirectory = Empty(parameters.Get(RuntimeDirParameter)) ?? DefaultRuntimeDirectory,
            WorkDirectory = Empty(parameters.Get(WorkDirParameter)),
            HostNetworkNamespace = Empty(parameters.Get(HostNetnsParameter)),
            PluginTimeout = TimeSpan.FromSeconds(timeoutSeconds),
        };
        if (options.Problem() is { } problem)
        {
            throw new ModuleParameterException($"module '{parameters.ModuleName}': {problem}");
        }

        return options;
    }

    /// <summary>
    /// The first problem with these settings, worded as Mesos words it where it has words, or null. Checks only what
    /// needs no privileges (the config directory's existence included); the isolator checks the rest.
    /// </summary>
    public string? Problem()
    {
        if (IsNoOp)
        {
            return null;
        }

        if (string.IsNullOrEmpty(PluginsDirectory))
        {
            return $"Missing required '--{PluginsDirParameter}' flag";
        }

        if (string.IsNullOrEmpty(ConfigDirectory))
        {
            return $"Missing required '--{ConfigDirParameter}' flag";
        }

        if (!Directory.Exists(ConfigDirectory))
        {
            return $"The CNI network configuration directory '{ConfigDirectory}' does not exist";
        }

        if (RootDirPersist && string.IsNullOrEmpty(WorkDirectory))
        {
            return $"Missing required '{WorkDirParameter}' parameter: '--{RootDirPersistParameter}' puts the CNI root directory under it";
        }

        foreach (var (name, value) in new[] { (RuntimeDirParameter, (string?)RuntimeDirectory), (WorkDirParameter, WorkDirectory), (HostNetnsParameter, HostNetworkNamespace) })
        {
            if (value is not null && !Path.IsPathRooted(value))
            {
                return $"parameter '{name}' must be an absolute path, not '{value}'";
            }
        }

        if (PluginTimeout <= TimeSpan.Zero)
        {
            return $"parameter '{PluginTimeoutParameter}' must be positive";
        }

        return null;
    }

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
