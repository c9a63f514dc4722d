using System.Globalization;
using NetIsolator.Bridge;
using NetIsolator.Linux.Netlink.Tc;

namespace NetIsolator.Isolators.PortMappingIsolation;

/// <summary>
/// The port-mapping isolator's settings, read from its module parameters under Mesos's agent flag names (a module
/// cannot read the agent's flags, so the operator repeats the ones it needs: at least <c>resources</c>, with the
/// same text as the agent's <c>--resources</c>).
/// </summary>
/// <remarks>
/// <para>Mesos's flags, same names, types and defaults: <c>resources</c>, <c>ephemeral_ports_per_container</c>
/// (1024), <c>eth0_name</c>, <c>lo_name</c> (auto-detected when unset), <c>egress_rate_limit_per_container</c>,
/// <c>egress_rate_per_cpu</c>, <c>minimum_egress_rate_limit</c>, <c>maximum_egress_rate_limit</c>,
/// <c>egress_ceil_limit</c>, <c>egress_burst</c>, <c>egress_unique_flow_per_container</c> (false),
/// <c>egress_flow_classifier_parent</c> (<c>root</c>), the same six <c>ingress_*</c> rate flags,
/// <c>ingress_isolate_existing_containers</c> (true), <c>network_link_speed</c>,
/// <c>network_enable_socket_statistics_summary</c>, <c>network_enable_socket_statistics_details</c>,
/// <c>network_enable_snmp_statistics</c>, <c>network_enable_rate_statistics</c> (all false),
/// <c>network_rate_statistics_window</c>, <c>network_rate_statistics_interval</c>, <c>launcher_dir</c>.
/// Byte sizes are <c>&lt;integer&gt;&lt;B|KB|MB|GB|TB&gt;</c> (binary), durations <c>&lt;number&gt;&lt;ns|us|ms|secs|mins|hrs|days|weeks&gt;</c>.</para>
/// <para>Ours: <c>port_mapping_host_netns</c> (a network namespace path standing in for the host's: everything the
/// isolator does "on the host" happens there; for the runner and tests, never set on a real agent),
/// <c>port_mapping_bind_mount_root</c> (default <c>/var/run/netns</c>) and <c>port_mapping_symlink_root</c>
/// (default <c>/var/run/mesos/netns</c>).</para>
/// <para><see cref="Problem"/> checks everything that needs neither root nor the host (Mesos's create steps 5, 6,
/// 8, 11 and 14); the isolator checks the rest at start.</para>
/// </remarks>
public sealed record PortMappingOptions
{
    public const string ResourcesParameter = "resources";
    public const string EphemeralPortsPerContainerParameter = "ephemeral_ports_per_container";
    public const string Eth0NameParameter = "eth0_name";
    public const string LoNameParameter = "lo_name";
    public const string EgressUniqueFlowParameter = "egress_unique_flow_per_container";
    public const string EgressFlowClassifierParentParameter = "egress_flow_classifier_parent";
    public const string IngressIsolateExistingParameter = "ingress_isolate_existing_containers";
    public const string LinkSpeedParameter = "network_link_speed";
    public const string SocketSummaryParameter = "network_enable_socket_statistics_summary";
    public const string SocketDetailsParameter = "network_enable_socket_statistics_details";
    public const string SnmpParameter = "network_enable_snmp_statistics";
    public const string RateStatisticsParameter = "network_enable_rate_statistics";
    public const string RateWindowParameter = "network_rate_statistics_window";
    public const string RateIntervalParameter = "network_rate_statistics_interval";
    public const string LauncherDirParameter = "launcher_dir";
    public const string HostNetnsParameter = "port_mapping_host_netns";
    public const string BindMountRootParameter = "port_mapping_bind_mount_root";
    public const string SymlinkRootParameter = "port_mapping_symlink_root";

    public const int DefaultEphemeralPortsPerContainer = 1024;
    public const int MinimumEphemeralPortsPerContainer = 16;

    /// <summary>Ports below this are well known; no ephemeral port may be one.</summary>
    public const int WellKnownPortsEnd = 1024;

    public const string DefaultBindMountRoot = "/var/run/netns";
    public const string DefaultSymlinkRoot = "/var/run/mesos/netns";

    /// <summary>The shortest rate sampling interval Mesos accepts.</summary>
    public static readonly TimeSpan MinimumRateInterval = TimeSpan.FromMilliseconds(20);

    public AgentResources Resources { get; init; } = AgentResources.Empty;

    public int EphemeralPortsPerContainer { get; init; } = DefaultEphemeralPortsPerContainer;

    public string? Eth0Name { get; init; }

    public string? LoName { get; init; }

    public RateLimitFlags Egress { get; init; } = RateLimitFlags.None;

    public RateLimitFlags Ingress { get; init; } = RateLimitFlags.None;

    public bool EgressUniqueFlowPerContainer { get; init; }

    public TcHandle EgressFlowClassifierParent { get; init; } = TcHandle.Root;

    public bool IngressIsolateExistingContainers { get; init; } = true;

    public ByteSize? NetworkLinkSpeed { get; init; }

    public bool SocketStatisticsSummary { get; init; }

    public bool SocketStatisticsDetails { get; init; }

    public bool SnmpStatistics { get; init; }

    public bool RateStatistics { get; init; }

    public TimeSpan? RateStatisticsWindow { get; init; }

    public TimeSpan? RateStatisticsInterval { get; init; }

    public string? LauncherDirectory { get; init; }

    public string? HostNetworkNamespace { get; init; }

    public string BindMountRoot { get; init; } = DefaultBindMountRoot;

    public string SymlinkRoot { get; init; } = DefaultSymlinkRoot;

    /// <summary>The egress fq_codel (or its stand-in) handle: <c>1:0</c> under root, else the parent's major + 1 (Mesos's guess).</summary>
    public TcHandle EgressFlowQdiscHandle =>
        EgressFlowClassifierParent == TcHandle.Root ? TcHandle.Make(1, 0) : TcHandle.Make((ushort)(EgressFlowClassifierParent.Major + 1), 0);

    /// <summary>Reads every supported parameter (so none is reported unknown) and validates them.</summary>
    /// <exception cref="ModuleParameterException">A parameter is malformed, or the settings are inconsistent; the message names it.</exception>
    public static PortMappingOptions FromParameters(ModuleParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var module = parameters.ModuleName;

        T Parsed<T>(string key, Func<string, T> parse, T absent)
        {
            var text = parameters.Get(key);
            if (string.IsNullOrEmpty(text))
            {
                return absent;
            }

            try
            {
                return parse(text);
            }
            catch (FormatException e)
            {
                throw new ModuleParameterException($"module '{module}': parameter '{key}': {e.Message}");
            }
        }

        ByteSize? Bytes(string key) => Parsed<ByteSize?>(key, t => ByteSize.Parse(t), null);
        TimeSpan? Duration(string key) => Parsed<TimeSpan?>(key, t => FlagDuration.Parse(t), null);
        string? PerCpu(string key) => Parsed<string?>(key, t => t == RateLimitFlags.Auto ? t : ByteSize.Parse(t).ToString(), null);
        RateLimitFlags Direction(string d) => new(
            Bytes($"{d}_rate_limit_per_container"),
            PerCpu($"{d}_rate_per_cpu"),
            Bytes($"minimum_{d}_rate_limit"),
            Bytes($"maximum_{d}_rate_limit"),
            Bytes($"{d}_ceil_limit"),
            Bytes($"{d}_burst"));

        var options = new PortMappingOptions
        {
            Resources = Parsed(ResourcesParameter, AgentResources.Parse, AgentResources.Empty),
            EphemeralPortsPerContainer = (int)parameters.GetInt64(EphemeralPortsPerContainerParameter, DefaultEphemeralPortsPerContainer, 0, ushort.MaxValue),
            Eth0Name = Empty(parameters.Get(Eth0NameParameter)),
            LoName = Empty(parameters.Get(LoNameParameter)),
            Egress = Direction("egress"),
            Ingress = Direction("ingress"),
            EgressUniqueFlowPerContainer = parameters.GetBoolean(EgressUniqueFlowParameter, false),
            EgressFlowClassifierParent = Parsed(EgressFlowClassifierParentParameter, TcHandle.Parse, TcHandle.Root),
            IngressIsolateExistingContainers = parameters.GetBoolean(IngressIsolateExistingParameter, true),
            NetworkLinkSpeed = Bytes(LinkSpeedParameter),
            SocketStatisticsSummary = parameters.GetBoolean(SocketSummaryParameter, false),
            SocketStatisticsDetails = parameters.GetBoolean(SocketDetailsParameter, false),
            SnmpStatistics = parameters.GetBoolean(SnmpParameter, false),
            RateStatistics = parameters.GetBoolean(RateStatisticsParameter, false),
            RateStatisticsWindow = Duration(RateWindowParameter),
            RateStatisticsInterval = Duration(RateIntervalParameter),
            LauncherDirectory = Empty(parameters.Get(LauncherDirParameter)),
            HostNetworkNamespace = Empty(parameters.Get(HostNetnsParameter)),
            BindMountRoot = Empty(parameters.Get(BindMountRootParameter)) ?? DefaultBindMountRoot,
            SymlinkRoot = Empty(parameters.Get(SymlinkRootParameter)) ?? DefaultSymlinkRoot,
        };
        if (options.Problem() is { } problem)
        {
            throw new ModuleParameterException($"module '{module}': {problem}");
        }

        return options;
    }

    /// <summary>
    /// The first problem with these settings that needs no host access, in Mesos's order, or null. Checked again
    /// by the isolator's constructor, so options built in code are held to the same rules.
    /// </summary>
    public string? Problem()
    {
        var pool = Resources.EphemeralPorts;
        if (pool.IsEmpty)
        {
            return $"Ephemeral ports are not specified: '{ResourcesParameter}' needs '{AgentResources.EphemeralPortsName}:[begin-end]'";
        }

        if (pool.Intersects(Resources.Ports))
        {
            return $"The ephemeral ports {pool} overlap with the non-ephemeral ports {Resources.Ports} "
                + $"({pool.Intersect(Resources.Ports)})";
        }

        if (pool.Intersects(PortSet.Of(0, WellKnownPortsEnd - 1)))
        {
            return $"The ephemeral ports {pool} overlap with the well-known ports [0-{WellKnownPortsEnd - 1}]";
        }

        var perContainer = EphemeralPortsPerContainer;
        if (perContainer <= 0 || (perContainer & (perContainer - 1)) != 0)
        {
            return $"The number of ephemeral ports per container ({perContainer}) is not a power of 2";
        }

        if (pool.Count < perContainer)
        {
            return $"The number of ephemeral ports per container ({perContainer}) is larger than the total number of ephemeral ports {pool} ({pool.Count})";
        }

        if (perContainer < MinimumEphemeralPortsPerContainer)
        {
            return $"The number of ephemeral ports per container ({perContainer}) is smaller than the minimum {MinimumEphemeralPortsPerContainer}";
        }

        foreach (var (direction, flags) in new[] { ("egress", Egress), ("ingress", Ingress) })
        {
            if (flags.Fixed is not null && flags.PerCpu is not null)
            {
                return $"'{direction}_rate_limit_per_container' and '{direction}_rate_per_cpu' cannot both be set";
            }

            if (flags.Minimum is { } min && flags.Maximum is { } max && min > max)
            {
                return $"'minimum_{direction}_rate_limit' ({min}) is larger than 'maximum_{direction}_rate_limit' ({max})";
            }

            if (flags.PerCpu == RateLimitFlags.Auto && (Resources.Cpus is not { } cpus || Math.Floor(cpus) <= 0))
            {
                return $"'{direction}_rate_per_cpu=auto' needs at least one whole CPU in '{ResourcesParameter}'";
            }
        }

        if (RateStatistics)
        {
            if (RateStatisticsWindow is not { } window || RateStatisticsInterval is not { } interval)
            {
                return $"'{RateStatisticsParameter}' needs both '{RateWindowParameter}' and '{RateIntervalParameter}'";
            }

            if (interval < MinimumRateInterval)
            {
                return $"'{RateIntervalParameter}' ({interval.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms) must be at least {MinimumRateInterval.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms";
            }

            if (window <= interval)
            {
                return $"'{RateWindowParameter}' must be longer than '{RateIntervalParameter}'";
            }
        }

        foreach (var (name, value) in new[] { (HostNetnsParameter, HostNetworkNamespace), (BindMountRootParameter, (string?)BindMountRoot), (SymlinkRootParameter, SymlinkRoot), (LauncherDirParameter, LauncherDirectory) })
        {
            if (value is not null && !Path.IsPathRooted(value))
            {
                return $"parameter '{name}' must be an absolute path, not '{value}'";
            }
        }

        return null;
    }

    /// <summary>
    /// Mesos's create step 7: the pool must not meet the host's <c>ip_local_port_range</c>, or a host socket's
    /// automatic port could be a container's. <paramref name="text"/> is the file's content (two numbers).
    /// </summary>
    /// <returns>The problem, or null.</returns>
    public string? HostLocalPortRangeProblem(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var begin)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var end)
            || begin > end || end > PortSet.MaxPort)
        {
            return $"Unexpected format of the host's ip_local_port_range: '{text.Trim()}'";
        }

        var host = PortSet.Of(begin, end);
        return Resources.EphemeralPorts.Intersects(host)
            ? $"The ephemeral ports {Resources.EphemeralPorts} overlap with the host's ip_local_port_range {host}"
            : null;
    }

    /// <summary>
    /// Mesos's create step 12 for one direction: the per-CPU rate in bytes/s, or null when the flag is unset.
    /// <c>auto</c> divides the link speed (<c>network_link_speed</c>, else <paramref name="linkSpeed"/>) by the
    /// whole CPUs in <c>resources</c>.
    /// </summary>
    /// <param name="linkSpeed">The eth0 speed in bytes/s read from sysfs, or null when unknown.</param>
    /// <exception cref="InvalidOperationException">auto with no known link speed or no whole CPU.</exception>
    public ulong? ResolvePerCpuRate(RateLimitFlags flags, ulong? linkSpeed)
    {
        ArgumentNullException.ThrowIfNull(flags);
        if (flags.PerCpu is not { } perCpu)
        {
            return null;
        }

        if (perCpu != RateLimitFlags.Auto)
        {
            return ByteSize.Parse(perCpu).Bytes;
        }

        var cpus = (ulong)Math.Floor(Resources.Cpus ?? 0);
        if (cpus == 0)
        {
            throw new InvalidOperationException($"the per-CPU rate is 'auto' but '{ResourcesParameter}' has no whole CPU");
        }

        var speed = NetworkLinkSpeed?.Bytes ?? linkSpeed
            ?? throw new InvalidOperationException($"the per-CPU rate is 'auto' but the link speed of the public interface is unknown; set '{LinkSpeedParameter}'");
        return speed / cpus;
    }

    /// <summary>
    /// Mesos's create step 13 for one direction: a fixed or minimum rate above the link speed is an error; a
    /// maximum above it only a warning. Nothing to check when the speed is unknown.
    /// </summary>
    /// <returns>(error, warning); either may be null.</returns>
    public static (string? Error, string? Warning) LinkSpeedProblem(string direction, RateLimitFlags flags, ulong? linkSpeed)
    {
        ArgumentNullException.ThrowIfNull(flags);
        if (linkSpeed is not { } speed || !flags.HasLimitFlags)
        {
            return (null, null);
        }

        if (flags.Fixed is { } fixedRate && fixedRate.Bytes > speed)
        {
            return ($"The {direction} rate limit per container ({fixedRate}) is larger than the link speed ({speed}B/s)", null);
        }

        if (flags.Minimum is { } min && min.Bytes > speed)
        {
            return ($"The minimum {direction} rate limit ({min}) is larger than the link speed ({speed}B/s)", null);
        }

        return flags.Maximum is { } max && max.Bytes > speed
            ? (null, $"The maximum {direction} rate limit ({max}) is larger than the link speed ({speed}B/s)")
            : (null, null);
    }

    /// <summary>
    /// The link speed from <c>/sys/class/net/&lt;eth0&gt;/speed</c> (Mbit/s) in bytes/s, or null when the file is
    /// missing, unparsable or holds the "unknown" values (-1 / 0xFFFFFFFF) that virtual links report.
    /// </summary>
    public static ulong? ParseSysfsSpeed(string? text) =>
        text is not null && long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var mbits) && mbits is > 0 and < uint.MaxValue
            ? SpeedFromMbits((uint)mbits)
            : null;

    /// <summary>A link speed in Mbit/s (ethtool's unit) as bytes/s; null or 0 (unknown) → null.</summary>
    public static ulong? SpeedFromMbits(uint? mbits) => mbits is { } value and > 0 and < uint.MaxValue ? (ulong)value * 1_000_000 / 8 : null;

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
