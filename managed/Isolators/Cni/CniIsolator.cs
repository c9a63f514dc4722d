using System.Collections.Concurrent;
using Mesos;
using Mesos.Slave;
using NetIsolator.Bridge;
using NetIsolator.Cni.Cache;
using NetIsolator.Cni.Config;
using NetIsolator.Cni.Invocation;
using NetIsolator.Cni.Results;
using NetIsolator.Cni.Runtime;
using NetIsolator.Cni.Versions;
using NetIsolator.Linux;

namespace NetIsolator.Isolators.Cni;

/// <summary>
/// The CNI network isolator, Mesos's <c>network/cni</c> (module <c>org_netisolator_NetworkCniIsolator</c>).
/// </summary>
/// <remarks>
/// <para>Decisions (see also <see cref="CniLayout"/> and <see cref="CniDecisions"/>):</para>
/// <list type="bullet">
/// <item><b>Attach order.</b> Networks are ADDed one after another in NetworkInfo order (eth0, eth1, …), not in
/// parallel as Mesos does: the CNI runtime serializes operations of one container anyway, and an ordered attach is
/// deterministic. The first failure stops the attach; the agent then calls cleanup, which DELs every attachment the
/// runtime checkpointed (its cache entry is written before the first plugin runs, so a failed ADD is DELed too).</item>
/// <item><b>Configs.</b> Prepare reads each network's config file again (an edited file applies to the next
/// container, as in Mesos) and checks its plugins; isolate ADDs with that same config, where Mesos reads the file a
/// second time, so a container is never attached with a config that was not checked.</item>
/// <item><b>Cleanup</b> DELs from the runtime's cache alone (the exact config bytes of the ADD), in reverse
/// interface order, so a deleted or changed config file does not matter. CNI_NETNS is the pin while it still holds a
/// namespace, and unset otherwise (MESOS-9518). All DELs are tried; if any fails, the pin and directory stay and the
/// error names every failure, so a later cleanup retries. Otherwise the pin is unmounted and ROOT/&lt;CID&gt; removed.
/// Cleanup of one container runs once: concurrent and repeated calls, and calls for unknown containers, are no-ops.</item>
/// <item><b>Recover.</b> Every directory under ROOT is a container: its plan is loaded and its results read from the
/// cache. Containers the agent knows (states) and known orphans are kept, as Mesos does (the agent destroys orphans
/// afterwards, which calls cleanup). Directories of containers the agent does not know are cleaned at once; a
/// directory whose plan is missing or corrupt is cleaned too (DEL from the cache, unpin, remove) and reported at
/// ERROR, whatever the agent knows of it: the other containers still recover, the agent is not aborted. A cleanup
/// failing during recovery is logged and never fails recovery (MESOS-9039). Plain files under ROOT are ignored.</item>
/// <item><b>Status</b> lists the networks in NetworkInfo order with the container-side addresses of each result;
/// a nested container without networks of its own reports its parent's.</item>
/// <item><b>Usage</b> sums the counters of the container's interfaces, read over netlink in its pinned namespace
/// (see <see cref="UsageAsync"/>).</item>
/// <item><b>Container files.</b> Isolate ends with what Mesos's <c>network-cni-setup</c> helper does, run in-process
/// (see <see cref="NetworkFilesSetup"/>) in Mesos's three cases: a container with networks of its own gets ROOT/&lt;CID&gt;'s
/// hosts, hostname and resolv.conf over its /etc (and its image's), its host name and <c>lo</c> up; a nested container
/// joining its parent gets the parent's files; a host-network container with an image gets the host's files, read-only,
/// in its image.</item>
/// <item>Not copied from Mesos: the <c>__MESOS_TEST__</c> network-name hook.</item>
/// </list>
/// </remarks>
public sealed class CniIsolator : Isolator
{
    private const string NamespacePathFormat = "/proc/{0}/ns/net";
    private const string HostResolvConfPath = "/etc/resolv.conf";

    private readonly CniIsolatorOptions _options;
    private readonly IsolatorLog _log;
    private readonly ProcessPluginExecutor? _executor;
    private readonly ConcurrentDictionary<string, ContainerEntry> _containers = new(StringComparer.Ordinal);
    private readonly object _configLock = new();
    private ConfigDirectoryContents? _configs;

    /// <summary>The constructor the bridge calls.</summary>
    public CniIsolator(ModuleParameters parameters)
        : this(CniIsolatorOptions.FromParameters(parameters))
    {
    }

    /// <summary>
    /// Creates the isolator (Mesos <c>create</c>): in no-op mode nothing is checked or created; otherwise it needs
    /// root, loads the configs (bad files are logged and skipped), creates ROOT and makes it a shared mount point of
    /// its own.
    /// </summary>
    /// <param name="log">Where log lines go; default the agent's log.</param>
    /// <exception cref="IsolatorException">A setting is invalid or a step failed; the message says which.</exception>
    public CniIsolator(CniIsolatorOptions options, Action<IsolatorLogLevel, string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _log = new IsolatorLog(log);
        if (options.Problem() is { } problem)
        {
            throw new IsolatorException(problem);
        }

        if (options.IsNoOp)
        {
            Log(IsolatorLogLevel.Info, "network/cni: no config or plugins directory: no-op mode (host network only)");
            return;
        }

        if (!System.Environment.IsPrivilegedProcess)
        {
            throw new IsolatorException("The 'network/cni' isolator requires root permissions");
        }

        try
        {
            _configs = LoadConfigs();
        }
        catch (CniConfigException e)
        {
            throw new IsolatorException($"Unable to load CNI config: {e.Message}", e);
        }

        try
        {
            Directory.CreateDirectory(options.RootDirectory!);
            Root = MountPropagation.RealPath(options.RootDirectory!);
            MountPropagation.EnsureSharedMountPoint(Root);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            throw new IsolatorException($"creating the CNI root directory '{options.RootDirectory}': {e.Message}", e);
        }

        _executor = new ProcessPluginExecutor(options.HostNetworkNamespace);
    }

    public override bool SupportsNesting => true;

    public CniIsolatorOptions Options => _options;

    /// <summary>ROOT (its realpath), or null in no-op mode.</summary>
    public string? Root { get; }

    // ----------------------------------------------------------------------------------------------------------
    // recover

    public override async Task RecoverAsync(IReadOnlyList<ContainerState> states, IReadOnlyList<ContainerID> orphans)
    {
        if (Root is null)
        {
            return;
        }

        var known = states.Select(s => CniLayout.Key(s.ContainerId)).ToHashSet(StringComparer.Ordinal);
        var orphanKeys = orphans.Select(CniLayout.Key).ToHashSet(StringComparer.Ordinal);
        List<string> directories;
        try
        {
            directories = [.. new DirectoryInfo(Root).EnumerateDirectories().Select(d => d.Name).Order(StringComparer.Ordinal)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolatorException($"recovering: cannot list the CNI root directory '{Root}': {e.Message}", e);
        }

        foreach (var key in directories)
        {
            if (CniLayout.ContainerKeyProblem(key) is { } problem)
            {
                Log(IsolatorLogLevel.Warning, $"recovering: ignoring '{Path.Join(Root, key)}': {problem}");
                continue;
            }

            ContainerPlan plan;
            try
            {
                plan = ContainerPlan.Load(CniLayout.PlanPath(Root, key));
                if (plan.ContainerKey != key)
                {
                    throw new FormatException($"it is the plan of container '{plan.ContainerKey}'");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                var missing = e is FileNotFoundException;
                Log(missing ? IsolatorLogLevel.Warning : IsolatorLogLevel.Error,
                    $"recovering container '{key}': {(missing ? "no" : "unusable")} checkpoint '{CniLayout.PlanPath(Root, key)}'"
                    + $"{(missing ? "" : $": {e.Message}")}; cleaning the container up");
                await TryCleanupDuringRecoveryAsync(key, plan: null).ConfigureAwait(false);
                continue;
            }

            if (!known.Contains(key) && !orphanKeys.Contains(key))
            {
                Log(IsolatorLogLevel.Info, $"recovering: container '{key}' is unknown to the agent; cleaning it up");
                await TryCleanupDuringRecoveryAsync(key, plan).ConfigureAwait(false);
                continue;
            }

            var entry = new ContainerEntry(CniLayout.ParseKey(key), key, plan) { Recovered = true };
            var runtime = RuntimeFor(key);
            foreach (var attachment in runtime.CachedAttachments(key))
            {
                if (plan.Networks.FirstOrDefault(n => n.Name == attachment.NetworkName && n.IfName == attachment.IfName) is not { } network)
                {
                    Log(IsolatorLogLevel.Warning, $"recovering container '{key}': cached attachment to '{attachment.NetworkName}' {attachment.IfName} is not in its plan; cleanup will DEL it");
                    continue;
                }

                entry.Results[network.Name] = await CachedResultAsync(runtime, attachment).ConfigureAwait(false);
            }

            _containers[key] = entry;
            Log(IsolatorLogLevel.Info, $"recovered container '{key}'{(orphanKeys.Contains(key) ? " (orphan)" : "")} with {plan.Networks.Count} network(s)");
        }

        await GcNetworksAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// CNI GC after recovery (spec 1.1.0): each network whose list speaks 1.1.0 or later is told which attachments are
    /// still valid, those of the recovered containers, so its plugins can release whatever else they hold (IPAM leases
    /// of containers whose state was lost with a wiped ROOT, say). The stale attachments this isolator knows of were
    /// DELed above from their own cache entries; older lists get nothing, as there is no GC before 1.1.0. Failures
    /// are logged and never fail recovery.
    /// </summary>
    private async Task GcNetworksAsync()
    {
        ConfigDirectoryContents? configs;
        lock (_configLock)
        {
            configs = _configs;
        }

        foreach (var list in configs?.Networks ?? [])
        {
            if (list.DisableGc || !CniFeatures.SupportsGc(list.CniVersion))
            {
                continue;
            }

            var valid = _containers.Values
                .Where(e => !e.JoinsParent && !e.HostNetworkImage)
                .SelectMany(e => e.Plan.Networks.Where(n => n.Name == list.Name).Select(n => (e.Key, n.IfName)))
                .ToList();
            var runtime = new CniRuntime(_options.PluginsDirectory!, new ResultCache(Root!), _executor!, _options.PluginTimeout,
                line => Log(IsolatorLogLevel.Info, line));
            foreach (var error in await runtime.SendGcAsync(list, valid).ConfigureAwait(false))
            {
                Log(IsolatorLogLevel.Warning, $"recovering: GC of CNI network '{list.Name}' failed: {error.Message}");
            }

            Log(IsolatorLogLevel.Info, $"recovering: GC of CNI network '{list.Name}' with {valid.Count} valid attachment(s)");
        }
    }

    private async Task TryCleanupDuringRecoveryAsync(string key, ContainerPlan? plan)
    {
        try
        {
            await CleanupDirectoryAsync(key, plan).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log(IsolatorLogLevel.Error, $"recovering: cleaning up container '{key}' failed (left for a later cleanup): {e.Message}");
        }
    }

    // ----------------------------------------------------------------------------------------------------------
    // prepare

    public override Task<ContainerLaunchInfo?> PrepareAsync(ContainerID containerId, ContainerConfig config) =>
        RunSynchronously<ContainerLaunchInfo?>(() => Prepare(containerId, config));

    private ContainerLaunchInfo? Prepare(ContainerID containerId, ContainerConfig config)
    {
        ArgumentNullException.ThrowIfNull(containerId);
        ArgumentNullException.ThrowIfNull(config);
        var key = CniLayout.Key(containerId);
        // The id names a directory under ROOT: refuse it before anything is registered or created.
        if (CniLayout.ContainerKeyProblem(key) is { } idProblem)
        {
            throw new IsolatorException($"preparing a container: {idProblem}");
        }
        if (_containers.ContainsKey(key))
        {
            throw new IsolatorException($"preparing container '{key}': Container has already been prepared");
        }

        var isDebug = config.HasContainerClass && config.ContainerClass == ContainerClass.Debug;
        var hasOwn = CniDecisions.HasOwnNetworks(config);
        var rootKey = CniLayout.Key(CniLayout.Root(containerId));
        var rootHasNetworks = _containers.TryGetValue(rootKey, out var rootEntry) && rootEntry.Plan.Networks.Count > 0;
        var mode = CniDecisions.ChooseNamespaces(containerId.Parent is not null, isDebug, hasOwn, rootHasNetworks);
        var rootfs = config.HasRootfs && config.Rootfs.Length > 0 ? config.Rootfs : null;
        switch (mode)
        {
            case NamespaceMode.HostNetwork:
                if (rootfs is not null)
                {
                    // Its image still needs the host's hosts, hostname and resolv.conf (Mesos §2.3 case H).
                    _containers[key] = new ContainerEntry(containerId, key, new ContainerPlan(key, null, []))
                    {
                        HostNetworkImage = true,
                        Rootfs = rootfs,
                    };
                }

                return null;
            case NamespaceMode.JoinParent:
                _containers[key] = new ContainerEntry(containerId, key, rootEntry!.Plan) { JoinsParent = true, Rootfs = rootfs };
                return CniDecisions.LaunchInfo(mode);
            case NamespaceMode.Debug:
                return CniDecisions.LaunchInfo(mode);
        }

        var info = config.ContainerInfo;
        if (info.Type != ContainerInfo.Types.Type.Mesos)
        {
            throw new IsolatorException($"preparing container '{key}': Can only prepare CNI networks for a MESOS container");
        }

        IReadOnlyList<PlannedNetwork> networks;
        try
        {
            networks = CniDecisions.PlanNetworks(info.NetworkInfos);
        }
        catch (ArgumentException e)
        {
            throw new IsolatorException($"preparing container '{key}': {e.Message}");
        }

        var configs = new Dictionary<string, NetworkConfigList>(StringComparer.Ordinal);
        foreach (var network in networks)
        {
            var list = LookupNetwork(network.Name, $"preparing container '{key}'");
            CheckPlugins(list, $"preparing container '{key}'");
            configs[network.Name] = list;
        }

        if (Root is null)
        {
            // Unreachable: LookupNetwork fails in no-op mode.
            throw new IsolatorException($"preparing container '{key}': no CNI root directory");
        }

        // Nothing is written here, as in Mesos: the container's directory and checkpoint are made by isolate, before
        // anything exists in the kernel for it. An agent that dies before isolate leaves nothing to clean up.
        var plan = new ContainerPlan(key, info.HasHostname && info.Hostname.Length > 0 ? info.Hostname : null, networks);
        if (!_containers.TryAdd(key, new ContainerEntry(containerId, key, plan) { Rootfs = rootfs, Configs = configs }))
        {
            throw new IsolatorException($"preparing container '{key}': Container has already been prepared");
        }

        Log(IsolatorLogLevel.Info, $"prepared container '{key}' for CNI network(s) {string.Join(", ", networks.Select(n => $"'{n.Name}' ({n.IfName})"))}");
        return CniDecisions.LaunchInfo(NamespaceMode.Own);
    }

    // ----------------------------------------------------------------------------------------------------------
    // isolate

    public override async Task IsolateAsync(ContainerID containerId, int pid)
    {
        ArgumentNullException.ThrowIfNull(containerId);
        var key = CniLayout.Key(containerId);
        if (!_containers.TryGetValue(key, out var entry))
        {
            // Host network without an image, or DEBUG: nothing to do.
            return;
        }

        var step = $"isolating container '{key}'";
        if (entry.HostNetworkImage)
        {
            SetUpNetworkFiles(SetupRequest.HostNetworkImage(pid, entry.Rootfs!, File.Exists), step);
            return;
        }

        if (entry.JoinsParent)
        {
            var rootDirectory = CniLayout.ContainerDirectory(Root!, CniLayout.Key(CniLayout.Root(containerId)));
            SetUpNetworkFiles(SetupRequest.JoinsParent(pid, entry.Rootfs, rootDirectory), step);
            return;
        }

        await entry.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (entry.CleanedUp)
            {
                throw new IsolatorException($"{step}: the container has been cleaned up");
            }

            if (entry.Isolated)
            {
                throw new IsolatorException($"{step}: already isolated");
            }

            entry.Isolated = true;
            var pin = CniLayout.NamespacePin(Root!, key);
            var hostname = ContainerFiles.ChooseHostname(entry.Plan.Hostname, entry.ContainerId.Value);

            // Everything of the container's own (checkpoint, namespace pin, files with just localhost, their mounts
            // and the host name) is done while the first plugin starts, before it is given its config (see
            // CniRuntime.AddNetworkListAsync): a Go plugin takes ~10 ms here to reach its stdin, and the work then
            // never competes with the plugin's own for the CPUs. Whichever needs it first runs it, once: the plugin
            // start, or this method if the plugin could not be started.
            var ownSetup = new Lazy<Task>(() => SetUpOwnNamespaces(entry, pid, pin, hostname, step));
            var attach = AttachAllAsync(entry, pin, step, () => ownSetup.Value);
            try
            {
                await ownSetup.Value.ConfigureAwait(false);
            }
            catch
            {
                // Never leave the ADDs running behind a failed isolate; the setup error is the one to report.
                await attach.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                throw;
            }

            await attach.ConfigureAwait(false);

            // The final contents, which need the ADD results, go into the same inodes, already mounted in the
            // container, which is still held before exec.
            WriteContainerFiles(entry, hostname, step, attached: true);
        }
        finally
        {
            entry.Lock.Release();
        }
    }

    /// <summary>
    /// The container's own state, in order: ROOT/&lt;CID&gt; with the plan checkpointed in it (before anything in the
    /// kernel, so recovery always finds the plan of a container that has some); the pin of the network namespace of
    /// <paramref name="pid"/>; hosts, hostname and resolv.conf with just localhost, mounted into the container, and its
    /// host name set (<see cref="NetworkFilesSetup"/>). Returns a faulted task rather than throwing.
    /// </summary>
    private Task SetUpOwnNamespaces(ContainerEntry entry, int pid, string pin, string hostname, string step)
    {
        var directory = CniLayout.ContainerDirectory(Root!, entry.Key);
        try
        {
            try
            {
                Directory.CreateDirectory(directory);
                entry.Plan.Save(CniLayout.PlanPath(Root!, entry.Key), _options.StateDurability);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IsolatorException($"{step}: checkpointing the plan in '{directory}': {e.Message}", e);
            }

            var source = string.Format(System.Globalization.CultureInfo.InvariantCulture, NamespacePathFormat, pid);
            try
            {
                var id = PersistentNetworkNamespace.Pin(source, pin);
                Log(IsolatorLogLevel.Info, $"{step}: pinned {id} of pid {pid} at '{pin}'");
            }
            catch (Exception e) when (e is IOException)
            {
                throw new IsolatorException($"{step}: pinning the network namespace of pid {pid} at '{pin}': {e.Message}", e);
            }

            WriteContainerFiles(entry, hostname, step, attached: false);
            SetUpNetworkFiles(SetupRequest.OwnNetworks(pid, hostname, entry.Rootfs, directory), step);
            return Task.CompletedTask;
        }
        catch (IsolatorException e)
        {
            return Task.FromException(e);
        }
    }

    /// <summary>
    /// ADDs the container to each of its networks, in plan order (eth0, eth1, …); stops at the first failure.
    /// <paramref name="prerequisite"/> is done before any plugin acts (while the first one starts).
    /// </summary>
    private async Task AttachAllAsync(ContainerEntry entry, string pin, string step, Func<Task> prerequisite)
    {
        var key = entry.Key;
        var runtime = RuntimeFor(key);
        foreach (var network in entry.Plan.Networks)
        {
            var list = entry.Configs?.GetValueOrDefault(network.Name)
                ?? LookupNetwork(network.Name, $"{step}: Could not get valid CNI configuration for network '{network.Name}'");
            var conf = new RuntimeConf
            {
                ContainerId = key,
                NetNsPath = pin,
                IfName = network.IfName,
                Inputs = CniDecisions.Inputs(network.NetworkInfo),
            };
            try
            {
                var result = await runtime.AddNetworkListAsync(list, conf, prerequisite: prerequisite).ConfigureAwait(false);
                entry.Results[network.Name] = result;
                Log(IsolatorLogLevel.Info, $"{step}: attached to CNI network '{network.Name}' as {network.IfName}: "
                    + string.Join(", ", result.Ips.Select(ip => ip.Address.ToString())));
            }
            catch (Exception e) when (e is CniRuntimeException or InvalidRuntimeConfException or IOException)
            {
                throw new IsolatorException($"{step}: attaching to CNI network '{network.Name}' ({network.IfName}): {e.Message}", e);
            }
        }
    }

    /// <summary>
    /// Writes hosts, hostname and resolv.conf under ROOT/&lt;CID&gt;: before the ADDs have finished
    /// (<paramref name="attached"/> false) with none of their results, i.e. just localhost, as new files; afterwards
    /// from the results, into the same inodes, which are bind-mounted into the container by then. resolv.conf is
    /// always the container's own file: the host's contents when no DNS is known for its networks (Mesos bind-mounts
    /// the host's own file there, read-write, so a container could edit the host's resolver configuration).
    /// </summary>
    private void WriteContainerFiles(ContainerEntry entry, string hostname, string step, bool attached)
    {
        var joined = entry.Plan.Networks
            .Select(n => new JoinedNetwork(n.Name, attached ? entry.Results.GetValueOrDefault(n.Name) : null))
            .ToList();
        try
        {
            var files = ContainerFiles.Build(hostname, joined, _options.DefaultContainerDns);
            files = files with { ResolvConf = files.ResolvConf ?? HostResolvConf() };
            ContainerFileWriter.Write(CniLayout.ContainerDirectory(Root!, entry.Key), files, _options.StateDurability, inPlace: attached);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException or UnauthorizedAccessException)
        {
            throw new IsolatorException($"{step}: writing the hosts, hostname and resolv.conf files: {e.Message}", e);
        }
    }

    private static string HostResolvConf() => File.Exists(HostResolvConfPath) ? File.ReadAllText(HostResolvConfPath) : "";

    /// <summary>
    /// Mounts the files and sets the host name (<see cref="NetworkFilesSetup"/>) on a thread of this process that joins
    /// the container's namespaces, where Mesos starts a helper process: the container is held before exec, so its
    /// mount namespace is still a fresh copy of ours, and a process start would cost more than all the mounts.
    /// </summary>
    private static void SetUpNetworkFiles(SetupRequest request, string step)
    {
        try
        {
            NetworkFilesSetup.Run(request);
        }
        catch (NetworkSetupException e)
        {
            throw new IsolatorException($"{step}: Failed to setup hostname and network files: {e.Message}", e);
        }
    }

    // ----------------------------------------------------------------------------------------------------------
    // status, usage

    public override Task<ContainerStatus> StatusAsync(ContainerID containerId)
    {
        ArgumentNullException.ThrowIfNull(containerId);
        var key = CniLayout.Key(containerId);
        if (!_containers.TryGetValue(key, out var entry) || entry.JoinsParent)
        {
            return containerId.Parent is { } parent ? StatusAsync(parent) : Task.FromResult(new ContainerStatus());
        }

        var status = new ContainerStatus();
        foreach (var network in entry.Plan.Networks)
        {
            if (entry.Results.TryGetValue(network.Name, out var result) && result is not null)
            {
                status.NetworkInfos.Add(CniDecisions.StatusNetworkInfo(network, result));
            }
        }

        return Task.FromResult(status);
    }

    /// <summary>
    /// The summed counters of the container's interfaces (eth0, eth1, …; never lo), read with one RTM_GETLINK dump
    /// over a netlink socket opened inside the pinned namespace (Mesos §2.7, which uses getifaddrs there).
    /// </summary>
    /// <remarks>
    /// Only the timestamp when metrics are off, for an unknown or host-network container, for a nested container
    /// sharing its parent's namespace (Mesos fails there, as the nested container has no pin of its own, and the
    /// containerizer drops the result; nothing else would be reported either), and before isolate. The net_*
    /// fields are set only if at least one interface was found. Counters are 64-bit (IFLA_STATS64) where Mesos
    /// reads 32-bit ones. No socket is cached: each call opens the pin and a socket and closes both, so nothing
    /// outlives the call or has to be closed at cleanup. A pin that cannot be opened or dumped fails the call with
    /// an <see cref="IsolatorException"/> naming the container and step, as Mesos's failed setns does.
    /// </remarks>
    public override Task<ResourceStatistics> UsageAsync(ContainerID containerId) => RunSynchronously(() => Usage(containerId));

    private ResourceStatistics Usage(ContainerID containerId)
    {
        ArgumentNullException.ThrowIfNull(containerId);
        var statistics = StatisticsNow();
        var key = CniLayout.Key(containerId);
        if (!_options.Metrics
            || !_containers.TryGetValue(key, out var entry)
            || entry.JoinsParent
            || entry.CleanedUp
            || entry.Plan.Networks.Count == 0)
        {
            return statistics;
        }

        // A recovered container may never have been isolated (the agent crashed in between): no pin, no counters.
        var pin = CniLayout.NamespacePin(Root!, key);
        if (!entry.Isolated && !(entry.Recovered && File.Exists(pin)))
        {
            return statistics;
        }

        var interfaces = entry.Plan.Networks.Select(n => n.IfName).ToHashSet(StringComparer.Ordinal);
        if (CniUsage.Read(pin, interfaces, $"collecting the network usage of container '{key}'") is { } counters)
        {
            NetworkUsage.Fill(statistics, counters);
        }

        return statistics;
    }

    // ----------------------------------------------------------------------------------------------------------
    // cleanup

    public override async Task CleanupAsync(ContainerID containerId)
    {
        ArgumentNullException.ThrowIfNull(containerId);
        var key = CniLayout.Key(containerId);
        if (!_containers.TryGetValue(key, out var entry))
        {
            // Unknown: nothing to do, unless a directory was left (e.g. a cleanup that failed during recovery).
            if (Root is not null && CniLayout.ContainerKeyProblem(key) is null && Directory.Exists(CniLayout.ContainerDirectory(Root, key)))
            {
                await CleanupDirectoryAsync(key, plan: null).ConfigureAwait(false);
            }

            return;
        }

        if (entry.JoinsParent || entry.HostNetworkImage)
        {
            // Nothing of its own on disk or in the kernel: its mounts go with its mount namespace.
            _containers.TryRemove(new KeyValuePair<string, ContainerEntry>(key, entry));
            return;
        }

        await entry.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (entry.CleanedUp)
            {
                return;
            }

            await CleanupDirectoryAsync(key, entry.Plan).ConfigureAwait(false);
            entry.CleanedUp = true;
            _containers.TryRemove(new KeyValuePair<string, ContainerEntry>(key, entry));
        }
        finally
        {
            entry.Lock.Release();
        }
    }

    /// <summary>
    /// DELs every attachment cached under ROOT/&lt;CID&gt; (reverse plan order, then any others), then unpins and
    /// removes the directory. Throws (leaving pin and directory) if a DEL failed.
    /// </summary>
    private async Task CleanupDirectoryAsync(string key, ContainerPlan? plan)
    {
        var step = $"cleaning up container '{key}'";
        var directory = CniLayout.ContainerDirectory(Root!, key);
        var pin = CniLayout.NamespacePin(Root!, key);
        var runtime = RuntimeFor(key);
        var netns = PersistentNetworkNamespace.IsPinned(pin) ? pin : null;
        var attachments = runtime.CachedAttachments(key);
        var order = plan?.Networks.Select(n => n.IfName).ToList() ?? [];
        var ordered = attachments
            .OrderByDescending(a => order.IndexOf(a.IfName))
            .ThenByDescending(a => a.IfName, StringComparer.Ordinal)
            .ToList();
        var errors = new List<string>();
        foreach (var attachment in ordered)
        {
            try
            {
                await runtime.DelNetworkListAsync(null, new RuntimeConf { ContainerId = key, IfName = attachment.IfName, NetNsPath = netns })
                    .ConfigureAwait(false);
                Log(IsolatorLogLevel.Info, $"{step}: detached from CNI network '{attachment.NetworkName}' ({attachment.IfName})");
            }
            catch (Exception e) when (e is CniRuntimeException or InvalidRuntimeConfException or IOException)
            {
                errors.Add($"detaching from CNI network '{attachment.NetworkName}' ({attachment.IfName}): {e.Message}");
            }
        }

        if (errors.Count > 0)
        {
            throw new IsolatorException($"{step}: {string.Join("\n", errors)}");
        }

        try
        {
            PersistentNetworkNamespace.Remove(pin);
        }
        catch (IOException e)
        {
            throw new IsolatorException($"{step}: removing the network namespace pin '{pin}': {e.Message}", e);
        }

        // No directory (prepared, never isolated): nothing was made for the container.
        if (!Directory.Exists(directory))
        {
            Log(IsolatorLogLevel.Info, $"{step}: done (nothing was set up)");
            return;
        }

        if (PersistentNetworkNamespace.FindPins(directory).Count > 0)
        {
            throw new IsolatorException($"{step}: '{directory}' still holds a namespace mount; not removing it");
        }

        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolatorException($"{step}: removing '{directory}': {e.Message}", e);
        }

        Log(IsolatorLogLevel.Info, $"{step}: done");
    }

    // ----------------------------------------------------------------------------------------------------------
    // helpers

    /// <summary>
    /// The network's config (Mesos §1.2.2): the cached list re-read from its file and checked; on a miss or a
    /// stale entry the whole directory is reloaded once; otherwise <c>Unknown CNI network '&lt;name&gt;'</c>.
    /// </summary>
    private NetworkConfigList LookupNetwork(string name, string step)
    {
        lock (_configLock)
        {
            if (_configs is null)
            {
                throw new IsolatorException($"{step}: Unknown CNI network '{name}'");
            }

            if (_configs.TryGet(name, out var cached))
            {
                try
                {
                    var list = NetworkConfigList.LoadFile(cached.Source);
                    if (list.Name == name)
                    {
                        return list;
                    }

                    Log(IsolatorLogLevel.Warning, $"the CNI config '{cached.Source}' now defines network '{list.Name}', not '{name}'; reloading");
                }
                catch (CniConfigException e)
                {
                    Log(IsolatorLogLevel.Warning, $"the CNI config of network '{name}' is no longer usable ({e.Message}); reloading");
                }
            }

            try
            {
                _configs = LoadConfigs();
            }
            catch (CniConfigException e)
            {
                throw new IsolatorException($"{step}: Unable to load CNI config: {e.Message}", e);
            }

            return _configs.TryGet(name, out var reloaded)
                ? reloaded
                : throw new IsolatorException($"{step}: Unknown CNI network '{name}'");
        }
    }

    private ConfigDirectoryContents LoadConfigs()
    {
        var contents = ConfigDirectory.Load(_options.ConfigDirectory!);
        foreach (var problem in contents.Problems)
        {
            Log(IsolatorLogLevel.Error, $"skipping CNI config: {problem.Message}");
        }

        return contents;
    }

    private void CheckPlugins(NetworkConfigList list, string step)
    {
        foreach (var plugin in list.Plugins)
        {
            foreach (var type in new[] { plugin.Type, plugin.IpamType })
            {
                if (type is not null && PluginPath.TryFind(type, _options.PluginsDirectory) is null)
                {
                    throw new IsolatorException(
                        $"{step}: Unable to find the plugin '{type}' required by CNI network '{list.Name}' in '{_options.PluginsDirectory}'");
                }
            }
        }
    }

    private CniRuntime RuntimeFor(string key) =>
        new(
            _options.PluginsDirectory!,
            new ResultCache(CniLayout.CacheDirectory(Root!, key), problem => Log(IsolatorLogLevel.Warning, problem.ToString()), _options.StateDurability),
            _executor!,
            _options.PluginTimeout,
            line => Log(IsolatorLogLevel.Info, line));

    private async Task<CniResult?> CachedResultAsync(CniRuntime runtime, CachedAttachment attachment)
    {
        if (attachment.Result is null)
        {
            return null;
        }

        try
        {
            var list = NetworkConfigList.FromBytes(attachment.Config.Span, $"cache entry of '{attachment.ContainerId}' {attachment.IfName}");
            return await runtime.GetCachedResultAsync(list, new RuntimeConf { ContainerId = attachment.ContainerId, IfName = attachment.IfName })
                .ConfigureAwait(false);
        }
        catch (CniConfigException e)
        {
            Log(IsolatorLogLevel.Warning, $"ignoring the cached result of '{attachment.ContainerId}' {attachment.IfName}: {e.Message}");
            return null;
        }
    }

    private void Log(IsolatorLogLevel level, string message) => _log.Write(level, message);

    /// <summary>What the isolator knows of one container.</summary>
    private sealed class ContainerEntry(ContainerID containerId, string key, ContainerPlan plan)
    {
        public ContainerID ContainerId { get; } = containerId;

        public string Key { get; } = key;

        public ContainerPlan Plan { get; } = plan;

        /// <summary>A nested container sharing its top-level container's namespaces (nothing on disk).</summary>
        public bool JoinsParent { get; init; }

        /// <summary>A host-network container with an image, which only gets the host's /etc files (nothing on disk).</summary>
        public bool HostNetworkImage { get; init; }

        /// <summary>The container's image root filesystem on the host, if it has one.</summary>
        public string? Rootfs { get; init; }

        public bool Recovered { get; init; }

        /// <summary>
        /// The config of each network as prepare found and checked it: isolate ADDs with exactly that, not with
        /// whatever the file holds by then (Mesos reads it again).
        /// </summary>
        public IReadOnlyDictionary<string, NetworkConfigList>? Configs { get; init; }

        public bool Isolated { get; set; }

        public bool CleanedUp { get; set; }

        public ConcurrentDictionary<string, CniResult?> Results { get; } = new(StringComparer.Ordinal);

        public SemaphoreSlim Lock { get; } = new(1, 1);
    }
}
