using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using Mesos;
using Mesos.Slave;
using NetIsolator.Bridge;
using NetIsolator.Isolators.PortMappingIsolation.Kernel;
using NetIsolator.Isolators.PortMappingIsolation.Plan;
using NetIsolator.Isolators.PortMappingIsolation.Statistics;
using NetIsolator.Linux;
using NetIsolator.Linux.Netlink;
using NetIsolator.Linux.Netlink.Route;
using NetIsolator.Linux.Netlink.Tc;

namespace NetIsolator.Isolators.PortMappingIsolation;

/// <summary>
/// Mesos's <c>network/port_mapping</c> isolator (module <c>org_netisolator_PortMappingIsolator</c>): every container
/// gets its own network namespace with the host's IP, MAC and gateway, a veth <c>mesos&lt;pid&gt;</c>, its
/// <c>ports</c> resources and a block of ephemeral ports; tc filters on the host steer packets by port (see
/// <see cref="PortMappingPlans"/> for the packet paths).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Everything in the container's namespace that Mesos does with a pre-exec shell script and its
/// <c>mesos-network-helper update</c> subcommand is done here over netlink, from isolate and update, before the
/// container's first process runs; the one pre-exec command left makes the bind-mount root a slave mount in the
/// container's mount namespace (it has to run there).</item>
/// <item>ARP and ICMP reach the containers through one mirror filter per container (see <see cref="PortMappingPlans"/>),
/// so there is no 32-container limit and no rewrite of a shared filter on every isolate and cleanup.</item>
/// <item>Recovery reads the kernel only, as Mesos: pins under the bind-mount root, symlinks under the symlink root,
/// the source-port filters on each <c>mesos&lt;pid&gt;</c> and its ingress HTB class.</item>
/// </list>
/// </remarks>
public sealed class PortMappingIsolator : Isolator
{
    private const int CloneNewNs = 0x00020000;
    private const int CloneNewNet = 0x40000000;

    private static readonly string[] SnapshotSysctls =
    [
        "net/core/somaxconn", "net/core/netdev_max_backlog", "net/core/rmem_max", "net/core/wmem_max",
        "net/ipv4/tcp_ecn", "net/ipv4/tcp_ecn_fallback", "net/ipv4/tcp_keepalive_time", "net/ipv4/tcp_keepalive_intvl",
        "net/ipv4/tcp_keepalive_probes", "net/ipv4/tcp_max_syn_backlog", "net/ipv4/tcp_rmem", "net/ipv4/tcp_retries2",
        "net/ipv4/tcp_synack_retries", "net/ipv4/tcp_wmem",
        "net/ipv4/neigh/default/gc_thresh1", "net/ipv4/neigh/default/gc_thresh2", "net/ipv4/neigh/default/gc_thresh3",
    ];

    private readonly PortMappingOptions _options;
    private readonly IsolatorLog _log;
    private readonly PlanExecutor _host;
    private readonly EphemeralPortsAllocator _allocator;
    private readonly ConcurrentDictionary<string, ContainerInfo> _containers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _unmanaged = new(StringComparer.Ordinal);
    private readonly SortedSet<int> _freeFlowIds = [];
    private readonly IReadOnlyDictionary<string, string> _hostSysctls;
    private readonly IReadOnlyDictionary<string, string> _copiedSysctls;
    private readonly RatesCollector? _rates;
    private readonly ulong? _perCpuEgress;
    private readonly ulong? _perCpuIngress;

    /// <summary>The constructor the bridge calls.</summary>
    public PortMappingIsolator(ModuleParameters parameters)
        : this(PortMappingOptions.FromParameters(parameters))
    {
    }

    /// <summary>
    /// Mesos's create (reference §1.2): checks the settings against the host, discovers eth0, lo, the host's
    /// address and gateway, probes the kernel, and applies the host set-up idempotently (so an agent restart finds
    /// it in place and changes nothing).
    /// </summary>
    /// <exception cref="IsolatorException">A setting or a step failed; the message says which.</exception>
    public PortMappingIsolator(PortMappingOptions options, Action<IsolatorLogLevel, string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _log = new IsolatorLog(log);
        if (options.Problem() is { } problem)
        {
            throw new IsolatorException(problem);
        }

        if (!System.Environment.IsPrivilegedProcess)
        {
            throw new IsolatorException("Using network isolator requires root permissions");
        }

        _allocator = new EphemeralPortsAllocator(options.Resources.EphemeralPorts, options.EphemeralPortsPerContainer);
        try
        {
            _host = PlanExecutor.Open(options.HostNetworkNamespace ?? "/proc/self/ns/net");
        }
        catch (IOException e)
        {
            throw new IsolatorException($"opening the host network namespace '{options.HostNetworkNamespace ?? "/proc/self/ns/net"}': {e.Message}", e);
        }

        try
        {
            var localPortRange = _host.Namespace.Run(() => File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range"));
            if (options.HostLocalPortRangeProblem(localPortRange) is { } rangeProblem)
            {
                throw new IsolatorException(rangeProblem);
            }

            Host = DiscoverHost();
            var features = KernelFeatures.Probe();
            Variants = new TcVariants(features.Basic, features.FqCodel, features.Sfq);
            if (!features.U32 || !features.Mirred || !features.Ingress || !features.Htb)
            {
                throw new IsolatorException($"the kernel lacks traffic-control modules this isolator needs: {features}");
            }

            // The link speed through SIOCETHTOOL in the host namespace (what /sys/class/net/<eth0>/speed shows, but
            // sysfs shows the links of the namespace it was mounted in, not necessarily the host namespace's).
            var speed = PortMappingOptions.SpeedFromMbits(_host.Namespace.Visit(() => EthTool.GetSpeed(Host.Eth0)));
            _perCpuEgress = options.ResolvePerCpuRate(options.Egress, speed);
            _perCpuIngress = options.ResolvePerCpuRate(options.Ingress, speed);
            Metrics.PerCpuEgressRateLimit = _perCpuEgress ?? 0;
            Metrics.PerCpuIngressRateLimit = _perCpuIngress ?? 0;
            foreach (var (direction, flags) in new[] { ("egress", options.Egress), ("ingress", options.Ingress) })
            {
                var (error, warning) = PortMappingOptions.LinkSpeedProblem(direction, flags, speed);
                if (error is not null)
                {
                    throw new IsolatorException(error);
                }

                if (warning is not null)
                {
                    Log(IsolatorLogLevel.Warning, warning);
                }
            }

            if (options.EgressUniqueFlowPerContainer && !Variants.FqCodel)
            {
                throw new IsolatorException($"'{PortMappingOptions.EgressUniqueFlowParameter}' needs the fq_codel qdisc (sch_fq_codel), which this kernel lacks");
            }

            if (!_host.Namespace.Run(() => File.Exists($"/proc/sys/net/ipv4/conf/{Host.Lo}/route_localnet")))
            {
                throw new IsolatorException("The kernel does not support 'route_localnet'");
            }

            _host.Apply(options.EgressUniqueFlowPerContainer
                ? PortMappingPlans.HostSetup(Host, Variants, options.EgressFlowClassifierParent, options.EgressFlowQdiscHandle)
                : PortMappingPlans.HostSetup(Host, Variants));
            for (var flow = PortMappingPlans.ContainerMinFlowId; flow < PortMappingPlans.FlowIdEnd; flow++)
            {
                _freeFlowIds.Add(flow);
            }

            _hostSysctls = _host.Namespace.Run(() => ReadSysctls(SnapshotSysctls));
            _copiedSysctls = WhereNewNamespacesDiffer(_hostSysctls);

            Directory.CreateDirectory(options.BindMountRoot);
            BindMountRoot = MountPropagation.RealPath(options.BindMountRoot);
            MountPropagation.EnsureSharedMountPoint(BindMountRoot);
            Directory.CreateDirectory(options.SymlinkRoot);
            SymlinkRoot = MountPropagation.RealPath(options.SymlinkRoot);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
        {
            _host.Dispose();
            throw new IsolatorException($"setting up the host for network/port_mapping: {e.Message}", e);
        }
        catch
        {
            _host.Dispose();
            throw;
        }

        if (options is { RateStatistics: true, RateStatisticsWindow: { } window, RateStatisticsInterval: { } interval })
        {
            _rates = new RatesCollector(
                window,
                interval,
                () => [.. _host.Query(socket => socket.GetLinks()).Select(l => (l.Name, l.Counters))],
                error => Log(IsolatorLogLevel.Warning, $"network/port_mapping: sampling the containers' rates: {error}"));
        }

        Log(IsolatorLogLevel.Info, $"network/port_mapping: eth0 '{Host.Eth0}' {Host.Ip}/{Host.PrefixLength} {Host.Mac} mtu {Host.Mtu} via {Host.Gateway}, lo '{Host.Lo}'; {Variants}");
    }

    public PortMappingOptions Options => _options;

    public HostNetwork Host { get; }

    public TcVariants Variants { get; }

    public PortMappingMetrics Metrics { get; } = new();

    /// <summary>
    /// The host's tuning sysctls snapshotted at start (slash keys → values), which Mesos's script writes into every
    /// container; isolate writes only those a new namespace does not start with (the end state is the same).
    /// </summary>
    public IReadOnlyDictionary<string, string> HostSysctls => _hostSysctls;

    /// <summary>The <c>port_mapping/…</c> counters and gauges, for the agent's <c>/metrics/snapshot</c>.</summary>
    public override IReadOnlyDictionary<string, double> MetricsSnapshot() => Metrics.Snapshot();

    /// <summary>Realpath of the bind-mount root: a container's namespace is pinned at <c>&lt;root&gt;/&lt;pid&gt;</c>.</summary>
    public string BindMountRoot { get; }

    /// <summary>Realpath of the symlink root: <c>&lt;root&gt;/&lt;container id&gt;</c> → its pin.</summary>
    public string SymlinkRoot { get; }

    private TcHandle? FlowQdisc => _options.EgressUniqueFlowPerContainer ? _options.EgressFlowQdiscHandle : null;

    // ----------------------------------------------------------------------------------------------------------
    // prepare

    public override Task<ContainerLaunchInfo?> PrepareAsync(ContainerID containerId, ContainerConfig config) =>
        RunSynchronously<ContainerLaunchInfo?>(() => Prepare(containerId, config));

    private ContainerLaunchInfo Prepare(ContainerID containerId, ContainerConfig config)
    {
        ArgumentNullException.ThrowIfNull(containerId);
        ArgumentNullException.ThrowIfNull(config);
        var key = Key(containerId);
        var step = $"preparing container '{key}'";
        if (_unmanaged.ContainsKey(key))
        {
            throw new IsolatorException($"{step}: Asked to prepare an unmanaged container");
        }

        if (_containers.ContainsKey(key))
        {
            throw new IsolatorException($"{step}: Container has already been prepared");
        }

        AgentResources resources;
        try
        {
            resources = AgentResources.FromResources(config.Resources);
        }
        catch (FormatException e)
        {
            throw new IsolatorException($"{step}: {e.Message}", e);
        }

        if (!_options.Resources.Ports.Contains(resources.Ports))
        {
            throw new IsolatorException($"{step}: Some non-ephemeral ports specified in {resources.Ports} are not managed by the agent");
        }

        if (!resources.EphemeralPorts.IsEmpty)
        {
            Log(IsolatorLogLevel.Warning, $"{step}: ignoring the ephemeral_ports resource {resources.EphemeralPorts}: the isolator allocates them");
        }

        PortRange ephemeral;
        try
        {
            ephemeral = _allocator.Allocate();
        }
        catch (InvalidOperationException e)
        {
            throw new IsolatorException($"{step}: Failed to allocate ephemeral ports: {e.Message}", e);
        }

        var info = new ContainerInfo(containerId, key)
        {
            Ports = resources.Ports,
            Ephemeral = ephemeral,
            Egress = _options.Egress.Compute(_perCpuEgress, resources.Cpus),
            Ingress = _options.Ingress.Compute(_perCpuIngress, resources.Cpus),
        };
        if (!_containers.TryAdd(key, info))
        {
            _allocator.Deallocate(ephemeral.ToSet());
            throw new IsolatorException($"{step}: Container has already been prepared");
        }

        Log(IsolatorLogLevel.Info, $"{step}: ports {resources.Ports}, ephemeral ports {ephemeral}");
        var launch = new ContainerLaunchInfo { CloneNamespaces = { CloneNewNet, CloneNewNs } };
#pragma warning disable CS0612 // pre_exec_commands: deprecated in Mesos's proto, still what the launcher runs first.
        // The container's mount namespace is a copy of the host's: make the bind-mount root a slave there, so that
        // unmounts of other containers' pins on the host reach it and its own mounts do not reach the host (MESOS-1558).
        launch.PreExecCommands.Add(new CommandInfo { Shell = false, Value = "mount", Arguments = { "mount", "--make-rslave", BindMountRoot } });
#pragma warning restore CS0612
        return launch;
    }

    // ----------------------------------------------------------------------------------------------------------
    // isolate

    public override async Task IsolateAsync(ContainerID containerId, int pid)
    {
        ArgumentNullException.ThrowIfNull(containerId);
        var key = Key(containerId);
        var step = $"isolating container '{key}' (pid {pid})";
        if (_unmanaged.ContainsKey(key))
        {
            throw new IsolatorException($"{step}: Asked to isolate an unmanaged container");
        }

        if (!_containers.TryGetValue(key, out var info))
        {
            throw new IsolatorException($"{step}: Unknown container");
        }

        await info.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (info.Pid is not null)
            {
                throw new IsolatorException($"{step}: The container has already been isolated");
            }

            info.Pid = pid;
            if (_options.EgressUniqueFlowPerContainer)
            {
                lock (_freeFlowIds)
                {
                    info.FlowId = _freeFlowIds.Count > 0 ? _freeFlowIds.Min : throw new IsolatorException($"{step}: no free egress flow id left (3-1023)");
                    _freeFlowIds.Remove(info.FlowId.Value);
                }
            }

            info.Ranges.AddRange(PortRange.Decompose(info.WantedPorts));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var pin = PinPath(pid);
            Try(step, $"pinning /proc/{pid}/ns/net at '{pin}'", () => PersistentNetworkNamespace.Pin(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/ns/net"), pin));
            Try(step, $"linking '{SymlinkPath(key)}' to '{pin}'", () =>
            {
                File.Delete(SymlinkPath(key));
                File.CreateSymbolicLink(SymlinkPath(key), pin);
            });
            var pinned = clock.Elapsed.TotalMilliseconds;
            info.Inside = Try(step, $"opening the container's namespace '{pin}'", () => PlanExecutor.Open(pin));
            var opened = clock.Elapsed.TotalMilliseconds;

            var network = info.Network();
            var created = Try(step, $"creating veth '{network.Veth}'", () => _host.Query(socket => socket.CreateVeth(
                new VethPair(network.Veth, Host.Eth0) { Mac = Host.Mac, PeerMac = Host.Mac, Mtu = Host.Mtu, PeerNamespace = info.Inside.Namespace })));
            if (!created)
            {
                throw new IsolatorException($"{step}: Virtual ethernet pair {network.Veth} already exists");
            }

            var vethMade = clock.Elapsed.TotalMilliseconds;
            ApplyHostSide(step, network, PortMappingPlans.ContainerHostSide(Host, Variants, network, FlowQdisc));
            var hostDone = clock.Elapsed.TotalMilliseconds;
            Try(step, "setting up the container's network namespace", () =>
                info.Inside.Apply(PortMappingPlans.ContainerInside(Host, Variants, network, hostHasRouteLocalnet: true, _copiedSysctls)));
            var total = clock.Elapsed.TotalMilliseconds;
            Log(IsolatorLogLevel.Info, string.Create(CultureInfo.InvariantCulture,
                $"{step}: veth {network.Veth}, {info.Ranges.Count} port range(s); {total:0.###} ms: pin {pinned:0.###}, open {opened - pinned:0.###}, veth {vethMade - opened:0.###}, host {hostDone - vethMade:0.###}, container {total - hostDone:0.###}"));
            _rates?.Add(key, network.Veth);
        }
        finally
        {
            info.Lock.Release();
        }
    }

    /// <summary>Applies host-side steps one by one, counting a failed filter under Mesos's metric for it.</summary>
    private void ApplyHostSide(string step, ContainerNetwork network, IEnumerable<PlanStep> steps)
    {
        foreach (var planStep in steps)
        {
            try
            {
                _host.Apply([planStep]);
            }
            catch (IOException e)
            {
                if (planStep is FilterStep filter && PortMappingMetrics.Stem(filter.Filter, Host, network.Veth) is { } stem)
                {
                    Metrics.Increment($"adding_{stem}_filters_errors");
                }

                throw new IsolatorException($"{step}: {e.Message}", e);
            }
        }
    }

    // ----------------------------------------------------------------------------------------------------------
    // update

    public override async Task UpdateAsync(ContainerID containerId, IReadOnlyList<Resource> resourceRequests, IReadOnlyDictionary<string, Value.Types.Scalar> resourceLimits)
    {
        ArgumentNullException.ThrowIfNull(containerId);
        ArgumentNullException.ThrowIfNull(resourceRequests);
        var key = Key(containerId);
        var step = $"updating container '{key}'";
        if (_unmanaged.ContainsKey(key) || !_containers.TryGetValue(key, out var info))
        {
            return;
        }

        await info.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (info.Pid is null || info.Inside is null)
            {
                throw new IsolatorException($"{step}: The container has not been isolated");
            }

            var resources = AgentResources.FromResources(resourceRequests);
            if (!_options.Resources.Ports.Contains(resources.Ports))
            {
                throw new IsolatorException($"{step}: Some non-ephemeral ports specified in {resources.Ports} are not managed by the agent");
            }

            var network = info.Network();
            var ingress = _options.Ingress.Compute(_perCpuIngress, resources.Cpus);
            if (ingress != info.Ingress && (info.Ingress is not null || _options.IngressIsolateExistingContainers))
            {
                Try(step, "Failed to update ingress HTB", () => _host.ApplyShaping(network.Veth, ingress, Variants));
                info.Ingress = ingress;
            }

            var egress = _options.Egress.Compute(_perCpuEgress, resources.Cpus);
            if (egress != info.Egress)
            {
                info.Egress = egress;
                Try(step, "updating egress HTB in the container", () => info.Inside.ApplyShaping(Host.Eth0, egress, Variants));
            }

            if (resources.Ports.Equals(info.Ports))
            {
                return;
            }

            var (toAdd, toRemove) = PortMappingPlans.PortChanges(info.Ranges, info.Ephemeral, resources.Ports);
            foreach (var range in toAdd)
            {
                ApplyHostSide(step, network, PortMappingPlans.RangeSteps(Host, network, range, FlowQdisc));
                Try(step, $"adding container filters for {range}", () => info.Inside.Apply(PortMappingPlans.InsideRangeFilters(Host, range).Select(f => new FilterStep(f))));
                info.Ranges.Add(range);
            }

            foreach (var range in toRemove)
            {
                // Host filters first, so no packet is steered to a veth whose filters are gone.
                RemoveFilters(step, network, PortMappingPlans.HostRangeFilters(Host, network, range, FlowQdisc).Concat(PortMappingPlans.VethRangeFilters(Host, network, range)));
                foreach (var filter in PortMappingPlans.InsideRangeFilters(Host, range))
                {
                    info.Inside.Remove(filter);
                }

                info.Ranges.Remove(range);
            }

            info.Ports = resources.Ports;
            Log(IsolatorLogLevel.Info, $"{step}: ports now {resources.Ports} (+{toAdd.Count}/-{toRemove.Count} range(s))");
        }
        finally
        {
            info.Lock.Release();
        }
    }

    private List<string> RemoveFilters(string step, ContainerNetwork network, IEnumerable<FilterSpec> filters)
    {
        var errors = new List<string>();
        foreach (var filter in filters)
        {
            var stem = PortMappingMetrics.Stem(filter, Host, network.Veth);
            try
            {
                if (!_host.Remove(filter) && stem is not null)
                {
                    Metrics.Increment($"removing_{stem}_filters_do_not_exist");
                }
            }
            catch (IOException e)
            {
                if (stem is not null)
                {
                    Metrics.Increment($"removing_{stem}_filters_errors");
                }

                errors.Add($"{step}: {e.Message}");
            }
        }

        return errors;
    }

    // ----------------------------------------------------------------------------------------------------------
    // usage

    public override Task<ResourceStatistics> UsageAsync(ContainerID containerId) => RunSynchronously(() => Usage(containerId));

    /// <summary>
    /// The container's counters as it sees them: the host end of its veth, receive and transmit swapped; its
    /// limits; its ephemeral range; the host-side ingress shaping statistics. One RTM_GETLINK, no process.
    /// </summary>
    private ResourceStatistics Usage(ContainerID containerId)
    {
        ArgumentNullException.ThrowIfNull(containerId);
        var statistics = StatisticsNow();
        if (!_containers.TryGetValue(Key(containerId), out var info) || info.Pid is not { } pid)
        {
            return statistics;
        }

        var veth = ContainerNetwork.VethName(pid);
        var link = _host.Query(socket => socket.GetLink(veth))
            ?? throw new IsolatorException($"collecting the network usage of container '{info.Key}': Failed to find link: {veth}");
        if (link.Counters is { } counters)
        {
            // The host-side veth: what it transmits, the container received.
            NetworkUsage.Fill(statistics, counters.AsSeenFromPeer());
        }

        if (info.Egress is { } egress)
        {
            statistics.NetTxRateLimit = egress.Rate;
            if (egress.Ceil is { } ceil)
            {
                statistics.NetTxBurstRateLimit = ceil;
                if (egress.Burst is { } burst)
                {
                    statistics.NetTxBurstSize = burst;
                }
            }
        }

        if (info.Ingress is { } ingress)
        {
            statistics.NetRxRateLimit = ingress.Rate;
            if (ingress.Ceil is { } ceil)
            {
                statistics.NetRxBurstRateLimit = ceil;
                if (ingress.Burst is { } burst)
                {
                    statistics.NetRxBurstSize = burst;
                }
            }
        }

        if (info.Ephemeral is { } ephemeral)
        {
            statistics.NetEphemeralPorts = new Value.Types.Range { Begin = (ulong)ephemeral.Begin, End = (ulong)ephemeral.End };
        }

        if (_rates?.Rates(info.Key) is { } rates)
        {
            statistics.NetRateStatistics = new ResourceStatistics.Types.RateStatistics
            {
                RxRate = Rate(rates.RxRate),
                RxPacketRate = Rate(rates.RxPacketRate),
                RxDropRate = Rate(rates.RxDropRate),
                RxErrorRate = Rate(rates.RxErrorRate),
                TxRate = Rate(rates.TxRate),
                TxPacketRate = Rate(rates.TxPacketRate),
                TxDropRate = Rate(rates.TxDropRate),
                TxErrorRate = Rate(rates.TxErrorRate),
                SamplingWindowSecs = _rates.Window.TotalSeconds,
                SamplingIntervalSecs = _rates.Interval.TotalSeconds,
            };
        }

        // Mesos's order: the host side's ingress shaping first, then what the container's namespace holds.
        if (info.Ingress is not null)
        {
            AddTrafficControl(statistics, ContainerNetworkStatistics.ShapingStatistics(_host, veth, "ingress_"));
        }

        var sockets = _options.SocketStatisticsSummary || _options.SocketStatisticsDetails || _options.SnmpStatistics;
        if ((sockets || info.Egress is not null) && info.Inside is { } inside)
        {
            ContainerNetworkStatistics inner;
            try
            {
                inner = ContainerNetworkStatistics.Collect(inside, Host.Eth0, _options.SocketStatisticsSummary, _options.SocketStatisticsDetails, _options.SnmpStatistics);
            }
            catch (IOException e)
            {
                throw new IsolatorException($"collecting the network usage of container '{info.Key}' inside its namespace: {e.Message}", e);
            }

            AddTrafficControl(statistics, inner.TrafficControl);
            if (inner.TcpActiveConnections is { } active)
            {
                statistics.NetTcpActiveConnections = active;
            }

            if (inner.TcpTimeWaitConnections is { } timeWait)
            {
                statistics.NetTcpTimeWaitConnections = timeWait;
            }

            if (inner.Rtt is { } rtt)
            {
                (statistics.NetTcpRttMicrosecsP50, statistics.NetTcpRttMicrosecsP90, statistics.NetTcpRttMicrosecsP95, statistics.NetTcpRttMicrosecsP99) = (rtt.P50, rtt.P90, rtt.P95, rtt.P99);
            }

            if (inner.Snmp is { } snmp)
            {
                statistics.NetSnmpStatistics = Snmp(snmp);
            }
        }

        return statistics;
    }

    private static ResourceStatistics.Types.RatePercentiles Rate(RatePercentiles p) => new()
    {
        Min = p.Min,
        Max = p.Max,
        P50 = p.P50,
        P90 = p.P90,
        P95 = p.P95,
        P99 = p.P99,
        P999 = p.P999,
        P9999 = p.P9999,
        Samples = p.Samples,
    };

    private static void AddTrafficControl(ResourceStatistics statistics, IEnumerable<(string Id, TcStatistics Statistics)> entries)
    {
        foreach (var (id, s) in entries)
        {
            statistics.NetTrafficControlStatistics.Add(new TrafficControlStatistics
            {
                Id = id,
                Backlog = s.Backlog,
                Bytes = s.Bytes,
                Drops = s.Drops,
                Overlimits = s.Overlimits,
                Packets = s.Packets,
                Qlen = s.Qlen,
                Ratebps = s.RateBps,
                Ratepps = s.RatePps,
                Requeues = s.Requeues,
            });
        }
    }

    /// <summary>The snmp sections as Mesos's SNMPStatistics: its fields are named as the /proc keys, so keys map by name; unknown keys are left out.</summary>
    private static SNMPStatistics Snmp(IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> sections)
    {
        var result = new SNMPStatistics();
        foreach (var (name, values) in sections)
        {
            Google.Protobuf.IMessage message = name switch
            {
                "Ip" => result.IpStats = new IpStatistics(),
                "Icmp" => result.IcmpStats = new IcmpStatistics(),
                "Tcp" => result.TcpStats = new TcpStatistics(),
                _ => result.UdpStats = new UdpStatistics(),
            };
            foreach (var (key, value) in values)
            {
                message.Descriptor.FindFieldByName(key)?.Accessor.SetValue(message, value);
            }
        }

        return result;
    }

    // ----------------------------------------------------------------------------------------------------------
    // cleanup

    public override async Task CleanupAsync(ContainerID containerId)
    {
        ArgumentNullException.ThrowIfNull(containerId);
        var key = Key(containerId);
        if (_unmanaged.TryRemove(key, out _) || !_containers.TryRemove(key, out var info))
        {
            return;
        }

        _rates?.Remove(key);
        await info.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            var errors = Cleanup(info, key);
            if (errors.Count > 0)
            {
                throw new IsolatorException($"cleaning up container '{key}': {string.Join(", ", errors)}");
            }
        }
        finally
        {
            info.Lock.Release();
        }
    }

    /// <summary>Mesos's <c>_cleanup</c>: best effort, every step tried, the failures returned.</summary>
    private List<string> Cleanup(ContainerInfo info, string? key)
    {
        var step = $"cleaning up container '{info.Key}'";
        var errors = new List<string>();
        if (info.Ephemeral is { } ephemeral)
        {
            _allocator.Deallocate(ephemeral.ToSet());
        }

        if (info.Pid is not { } pid)
        {
            info.Inside?.Dispose();
            return errors;
        }

        var network = info.Network();
        foreach (var range in info.Ranges)
        {
            errors.AddRange(RemoveFilters(step, network, PortMappingPlans.HostRangeFilters(Host, network, range, FlowQdisc)));
        }

        errors.AddRange(RemoveFilters(step, network, PortMappingPlans.HostMirrorFilters(Host, Variants, network)));
        if (info.FlowId is { } flow)
        {
            lock (_freeFlowIds)
            {
                _freeFlowIds.Add(flow);
            }
        }

        info.Inside?.Dispose();
        try
        {
            _host.DeleteLink(network.Veth);
        }
        catch (IOException e)
        {
            errors.Add(e.Message);
        }

        try
        {
            if (key is not null && File.Exists(SymlinkPath(key)))
            {
                File.Delete(SymlinkPath(key));
            }

            PersistentNetworkNamespace.Remove(PinPath(pid));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add($"{step}: {e.Message}");
        }

        Log(errors.Count == 0 ? IsolatorLogLevel.Info : IsolatorLogLevel.Error, $"{step}: {(errors.Count == 0 ? "done" : string.Join(", ", errors))}");
        return errors;
    }

    // ----------------------------------------------------------------------------------------------------------
    // recover

    /// <summary>
    /// Mesos's recover (reference §3.9), from the kernel and the pins alone: every <c>mesos&lt;pid&gt;</c> link with
    /// a pin is a container; its ranges are the source ports of its veth filters, split into its ephemeral block
    /// (inside the pool) and its ports; the symlinks name it. Known containers and known orphans are kept, unknown
    /// ones cleaned at once; pins without a veth are removed; checkpointed containers without a veth are unmanaged.
    /// </summary>
    public override Task RecoverAsync(IReadOnlyList<ContainerState> states, IReadOnlyList<ContainerID> orphans)
    {
        ArgumentNullException.ThrowIfNull(states);
        ArgumentNullException.ThrowIfNull(orphans);
        var vethPids = _host.Query(socket => socket.GetLinks())
            .Select(l => l.Name)
            .Where(n => n.StartsWith(ContainerNetwork.VethPrefix, StringComparison.Ordinal))
            .Select(n => int.TryParse(n.AsSpan(ContainerNetwork.VethPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : -1)
            .Where(pid => pid > 0)
            .ToHashSet();

        foreach (var entry in Directory.EnumerateFileSystemEntries(BindMountRoot))
        {
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && !vethPids.Contains(pid))
            {
                PersistentNetworkNamespace.Remove(entry);
            }
        }

        var idsByPid = new Dictionary<int, List<string>>();
        foreach (var link in Directory.EnumerateFileSystemEntries(SymlinkRoot))
        {
            var target = new FileInfo(link).LinkTarget;
            if (target is null || !int.TryParse(Path.GetFileName(target), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || !vethPids.Contains(pid))
            {
                File.Delete(link);
                continue;
            }

            idsByPid.TryAdd(pid, []);
            idsByPid[pid].Add(Path.GetFileName(link));
        }

        // A pin named by more than one container id cannot be told apart: Mesos forgets those names (removing
        // their symlinks) and treats the pid as it treats containers from before symlinks existed.
        foreach (var (pid, names) in idsByPid.Where(p => p.Value.Count > 1).ToList())
        {
            Log(IsolatorLogLevel.Warning, $"recovering: pid {pid} is named by {names.Count} container ids ({string.Join(", ", names)}); removing their symlinks");
            foreach (var name in names)
            {
                File.Delete(SymlinkPath(name));
            }

            idsByPid.Remove(pid);
        }

        var orphanKeys = orphans.Select(Key).ToHashSet(StringComparer.Ordinal);
        var stateByKey = states.ToDictionary(s => Key(s.ContainerId), s => s, StringComparer.Ordinal);
        foreach (var (stateKey, state) in stateByKey)
        {
            if (state.Pid > int.MaxValue || !vethPids.Contains((int)state.Pid))
            {
                _unmanaged[stateKey] = 0;
            }
        }

        var flows = RecoverFlows();
        foreach (var pid in vethPids.Order())
        {
            var ids = idsByPid.GetValueOrDefault(pid) ?? [];
            var key = stateByKey.Values.FirstOrDefault(s => s.Pid == (ulong)pid) is { } known ? Key(known.ContainerId) : ids.SingleOrDefault();
            var name = key ?? string.Create(CultureInfo.InvariantCulture, $"pid {pid}");
            if (key is not null && (stateByKey.ContainsKey(key) || orphanKeys.Contains(key)))
            {
                // A container the agent knows: anything wrong with it fails recovery, as in Mesos.
                _containers[key] = RecoverOne(pid, name, flows);
                if (stateByKey.ContainsKey(key))
                {
                    // Known orphans are about to be destroyed: Mesos does not sample them.
                    _rates?.Add(key, ContainerNetwork.VethName(pid));
                }

                Log(IsolatorLogLevel.Info, $"recovered container '{key}' (veth {ContainerNetwork.VethName(pid)}, {_containers[key].Ranges.Count} range(s))");
                continue;
            }

            // An unknown orphan is cleaned at once. Unlike Mesos, a failure here does not stop the agent: the orphan
            // is reported (log and port_mapping/recovering_unknown_orphans_errors) and left as it is, so that the
            // next recovery tries again; the containers the agent knows are recovered regardless.
            List<string> errors;
            try
            {
                errors = Cleanup(RecoverOne(pid, name, flows), key);
            }
            catch (IsolatorException e)
            {
                errors = [e.Message];
            }

            if (errors.Count > 0)
            {
                Metrics.Increment("recovering_unknown_orphans_errors");
                Log(IsolatorLogLevel.Error, $"recovering: unknown orphan '{name}' (veth {ContainerNetwork.VethName(pid)}) could not be cleaned up and is left for the next recovery: {string.Join(", ", errors)}");
            }
            else
            {
                Log(IsolatorLogLevel.Info, $"recovering: cleaned up unknown orphan '{name}' (veth {ContainerNetwork.VethName(pid)})");
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// With per-container egress flows, the flow of each source-port range, from the classifiers on the host's
    /// eth0 egress qdisc (Mesos's <c>_recover</c>: the classid's minor is the flow); null when flows are off.
    /// </summary>
    private Dictionary<PortRange, int>? RecoverFlows()
    {
        if (!_options.EgressUniqueFlowPerContainer)
        {
            return null;
        }

        var flows = new Dictionary<PortRange, int>();
        var filters = _host.Query(socket => socket.GetFilters(Host.Eth0, _options.EgressFlowQdiscHandle, PortMappingPlans.IpLowPriority));
        foreach (var filter in filters.OfType<U32Filter>())
        {
            var step = $"recovering the egress flows on {Host.Eth0}";
            var range = SourcePorts(filter) ?? throw new IsolatorException($"{step}: an IP filter without source ports: {filter.Describe()}");
            var classId = filter.ClassId ?? throw new IsolatorException($"{step}: an IP filter for {range} without a class");
            if (!flows.TryAdd(range, classId.Minor))
            {
                throw new IsolatorException($"{step}: more than one flow for {range}");
            }
        }

        return flows;
    }

    /// <summary>The source-port range a u32 filter matches (key at offset 20, high half), or null.</summary>
    private static PortRange? SourcePorts(U32Filter filter) =>
        filter.Keys.Where(k => k.Offset == 20 && (k.Mask & 0xffff) == 0).Select(k => (PortRange?)PortRange.FromBeginMask((int)(k.Value >> 16), (ushort)(k.Mask >> 16))).FirstOrDefault();

    private ContainerInfo RecoverOne(int pid, string key, Dictionary<PortRange, int>? flows)
    {
        var veth = ContainerNetwork.VethName(pid);
        var step = $"recovering container '{key}' (veth {veth})";
        var info = new ContainerInfo(new ContainerID { Value = key }, key) { Pid = pid };
        var ephemeral = PortSet.Empty;
        var ports = PortSet.Empty;
        var filters = _host.Query(socket => socket.GetFilters(veth, TcHandle.Ingress, PortMappingPlans.IpLowPriority));
        foreach (var filter in filters.OfType<U32Filter>())
        {
            var range = SourcePorts(filter)
                ?? throw new IsolatorException($"{step}: Unexpected IP filter detected on {veth}: no source ports");
            info.Ranges.Add(range);
            if (flows is not null)
            {
                if (flows.TryGetValue(range, out var flow))
                {
                    info.FlowId = info.FlowId is { } other && other != flow
                        ? throw new IsolatorException($"{step}: the ranges of {veth} are associated with multiple flows ({other}, {flow})")
                        : flow;
                }
                else
                {
                    Log(IsolatorLogLevel.Warning, $"{step}: no egress flow classifier for {range}");
                }
            }

            if (_options.Resources.Ports.Contains(range.ToSet()))
            {
                ports = ports.Union(range.ToSet());
            }
            else if (_allocator.IsManaged(range.ToSet()))
            {
                ephemeral = ephemeral.Union(range.ToSet());
            }
            else
            {
                throw new IsolatorException($"{step}: Unexpected IP filter detected on {veth}: {range} is neither managed nor ephemeral");
            }
        }

        info.Ports = ports;
        if (info.FlowId is { } flowId)
        {
            lock (_freeFlowIds)
            {
                _freeFlowIds.Remove(flowId);
            }
        }

        if (!ephemeral.IsEmpty)
        {
            var interval = ephemeral.Intervals.Count == 1 ? ephemeral.Intervals[0] : throw new IsolatorException($"{step}: more than one ephemeral block {ephemeral}");
            info.Ephemeral = PortRange.FromBeginEnd(interval.Begin, interval.End);
            _allocator.Allocate(ephemeral);
        }

        info.Ingress = _host.ReadShaping(veth);

        var pin = PinPath(pid);
        if (PersistentNetworkNamespace.IsPinned(pin))
        {
            info.Inside = PlanExecutor.Open(pin);
            info.Egress = info.Inside.ReadShaping(Host.Eth0);
        }

        return info;
    }

    // ----------------------------------------------------------------------------------------------------------
    // helpers

    public override ValueTask DisposeAsync()
    {
        _rates?.Dispose();
        foreach (var info in _containers.Values)
        {
            info.Inside?.Dispose();
        }

        _host.Dispose();
        return base.DisposeAsync();
    }

    private HostNetwork DiscoverHost() => _host.Query(socket =>
    {
        var route = socket.GetDefaultRoute();
        var eth0 = _options.Eth0Name is { } name
            ? socket.GetLink(name) ?? throw new IsolatorException($"the public interface '{name}' (eth0_name) does not exist")
            : route?.OutputIndex is { } index ? socket.RequireLink(index) : throw new IsolatorException("Network Isolator failed to find a public interface: no default route");
        var lo = _options.LoName is { } loName
            ? socket.GetLink(loName) ?? throw new IsolatorException($"the loopback interface '{loName}' (lo_name) does not exist")
            : socket.FindLoopback() ?? throw new IsolatorException("Network Isolator failed to find a loopback interface");
        var address = socket.GetAddresses(AddressFamily.InterNetwork, eth0.Index).FirstOrDefault()
            ?? throw new IsolatorException($"the public interface '{eth0.Name}' has no IPv4 address");
        var gateway = socket.GetDefaultGateway()?.Gateway
            ?? throw new IsolatorException("no default gateway");
        var mac = eth0.Mac ?? throw new IsolatorException($"the public interface '{eth0.Name}' has no MAC address");
        return new HostNetwork(eth0.Name, lo.Name, mac, address.Address, address.PrefixLength, gateway, eth0.Mtu);
    });

    private static Dictionary<string, string> ReadSysctls(IEnumerable<string> keys) => keys
        .Select(key => (key, value: ReadOrNull("/proc/sys/" + key)?.Trim()))
        .Where(p => p.value is not null)
        .ToDictionary(p => p.key, p => p.value!, StringComparer.Ordinal);

    /// <summary>
    /// The host values a container must be given: those a new network namespace does not start with already. The
    /// kernel gives every new namespace the same defaults, so one throwaway namespace, read once at start, tells
    /// which writes would change nothing; leaving those out saves most of the 17 writes per isolate and ends in
    /// the same state as Mesos's script, which writes them all.
    /// </summary>
    private static Dictionary<string, string> WhereNewNamespacesDiffer(IReadOnlyDictionary<string, string> host)
    {
        var probe = Path.Join(Path.GetTempPath(), $"netiso-pm-sysctl-probe-{Guid.NewGuid():N}");
        try
        {
            PersistentNetworkNamespace.Create(probe);
            using var fresh = NetworkNamespace.Open(probe);
            var defaults = fresh.Visit(() => ReadSysctls(host.Keys));
            return host.Where(p => !defaults.TryGetValue(p.Key, out var value) || NormalizeSpaces(value) != NormalizeSpaces(p.Value))
                .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        }
        finally
        {
            PersistentNetworkNamespace.Remove(probe);
        }
    }

    /// <summary>Multi-value sysctls (tcp_rmem) read back tab-separated whatever was written: compare the numbers.</summary>
    private static string NormalizeSpaces(string value) => string.Join(' ', value.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));

    private string PinPath(int pid) => Path.Join(BindMountRoot, pid.ToString(CultureInfo.InvariantCulture));

    private string SymlinkPath(string key) => Path.Join(SymlinkRoot, key);

    /// <summary>The container's id as a file name (port mapping is never asked about nested containers).</summary>
    private static string Key(ContainerID containerId)
    {
        var key = containerId.Value;
        return string.IsNullOrEmpty(key) || key.Contains('/', StringComparison.Ordinal) || key is "." or ".."
            ? throw new IsolatorException($"container ID '{key}' cannot name a file")
            : key;
    }

    private static T Try<T>(string step, string what, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new IsolatorException($"{step}: {what}: {e.Message}", e);
        }
    }

    private static void Try(string step, string what, Action action) => Try(step, what, () =>
    {
        action();
        return true;
    });

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void Log(IsolatorLogLevel level, string message) => _log.Write(level, message);

    /// <summary>What the isolator knows of one container (Mesos's <c>Info</c>).</summary>
    private sealed class ContainerInfo(ContainerID containerId, string key)
    {
        public ContainerID ContainerId { get; } = containerId;

        public string Key { get; } = key;

        public PortSet Ports { get; set; } = PortSet.Empty;

        public PortRange? Ephemeral { get; set; }

        public HtbConfig? Egress { get; set; }

        public HtbConfig? Ingress { get; set; }

        public int? Pid { get; set; }

        public int? FlowId { get; set; }

        /// <summary>The ranges its filters hold, as installed (update does not re-cut ranges that stay).</summary>
        public List<PortRange> Ranges { get; } = [];

        /// <summary>Its namespace, through its pin.</summary>
        public PlanExecutor? Inside { get; set; }

        public SemaphoreSlim Lock { get; } = new(1, 1);

        public PortSet WantedPorts => Ephemeral is { } e ? Ports.Union(e.ToSet()) : Ports;

        public ContainerNetwork Network() => new(Pid!.Value, Ranges, Ephemeral, Egress, Ingress, FlowId);
    }
}
