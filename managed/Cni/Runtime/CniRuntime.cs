using System.Diagnostics;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Cache;
using NetIsolator.Cni.Config;
using NetIsolator.Cni.Invocation;
using NetIsolator.Cni.Requests;
using NetIsolator.Cni.Results;
using NetIsolator.Cni.Versions;

namespace NetIsolator.Cni.Runtime;

/// <summary>
/// The CNI runtime operations (what libcni's <c>api.go</c> is for Go runtimes): ADD, DEL, CHECK, GC and STATUS of a
/// network list for one attachment, VERSION of a plugin, and validation of a list against CNI_PATH.
/// </summary>
/// <remarks>
/// <para><b>Ordering.</b> ADD runs the plugins in order, feeding each one the previous plugin's result as
/// <c>prevResult</c> (converted to the list's version) and stopping at the first error. DEL runs them in reverse,
/// with <c>prevResult</c> = the cached final ADD result for lists at 0.4.0 or later, and stops at the first error
/// (as libcni does; the cache entry is kept, so the DEL can be retried). CHECK runs them in order with the cached
/// result.</para>
/// <para><b>The cache, and the checkpoint-before-ADD rule.</b> libcni writes its cache only after a successful ADD,
/// so after a failed or interrupted ADD a runtime that lost its own state cannot find the config to DEL with. This
/// runtime follows the Mesos checkpoint-first principle instead: before the first plugin runs, ADD saves the cache
/// entry (the exact list bytes, netns, CNI_ARGS and capability args) <i>without</i> a result; after the last plugin
/// succeeds it rewrites the entry with the final result. So at every instant after ADD starts, the cache alone is
/// enough for <see cref="DelNetworkListAsync"/> (with a null list) to tear the attachment down, and an entry without a
/// result means "ADD failed or never finished: DEL pending". A failed ADD does <b>not</b> run DEL itself: the spec
/// says the runtime will, and the caller (the isolator) must call <see cref="DelNetworkListAsync"/> after a failed
/// or cancelled ADD. The entry is removed only by a successful DEL. The file format is libcni's cniCacheV1, so
/// libcni-based tools read it.</para>
/// <para>ADD refuses to start when the attachment already has a cache entry with a result (ADD twice without DEL), or
/// a result-less entry recorded with different config bytes (a pending DEL needs those bytes); a result-less
/// entry with the same bytes (a retried ADD) is overwritten.</para>
/// <para><b>Serialization.</b> Operations on the same container ID never overlap (a keyed async lock, FIFO);
/// different containers run in parallel. GC is exclusive with every ADD, DEL and CHECK.</para>
/// <para><b>Validation.</b> Container IDs and interface names are checked before anything is written or run.</para>
/// </remarks>
public sealed class CniRuntime
{
    private readonly ResultCache _cache;
    private readonly IPluginExecutor _executor;
    private readonly Action<string>? _log;
    private readonly KeyedAsyncLock _containerLocks = new();
    private readonly OperationGate _gate = new();

    /// <param name="cniPath">The ':'-separated plugin search path, exported to plugins as CNI_PATH.</param>
    /// <param name="cache">Where attachments are checkpointed.</param>
    /// <param name="executor">Runs plugins (<see cref="ProcessPluginExecutor"/> in production).</param>
    /// <param name="pluginTimeLimit">How long one plugin run may take (default <see cref="PluginInvocation.DefaultTimeLimit"/>).</param>
    /// <param name="logger">Told one line per plugin run, and about every cache entry that is dropped or ignored.</param>
    public CniRuntime(
        string cniPath,
        ResultCache cache,
        IPluginExecutor executor,
        TimeSpan? pluginTimeLimit = null,
        Action<string>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(cniPath);
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(executor);
        if (pluginTimeLimit is { } limit && limit <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(pluginTimeLimit), limit, "must be positive");
        }

        CniPath = cniPath;
        _cache = cache;
        _executor = executor;
        PluginTimeLimit = pluginTimeLimit ?? PluginInvocation.DefaultTimeLimit;
        _log = logger;
    }

    public string CniPath { get; }

    public TimeSpan PluginTimeLimit { get; }

    public ResultCache Cache => _cache;

    // ------------------------------------------------------------------------------------------------------------
    // ADD

    /// <summary>
    /// Attaches the container to the network: checkpoints the attachment (no result yet), runs every plugin's ADD in
    /// order with prevResult chaining, then checkpoints the final result and returns it (at the list's version).
    /// </summary>
    /// <remarks>
    /// The checkpoint is written while the first plugin starts, and that plugin gets its config only once the
    /// checkpoint is on disk (<see cref="PluginInvocation.BeforeStdin"/>): nothing a plugin does can precede it, and
    /// the process start-up hides its cost. <paramref name="prerequisite"/>, when given, runs first in the same window:
    /// the caller's own state that must exist before any plugin acts (the container's checkpoint and namespace pin).
    /// If the first plugin cannot be started, neither runs.
    /// </remarks>
    /// <param name="prerequisite">Work done before the checkpoint, while the first plugin starts; its exception
    /// propagates unchanged (the plugin is killed before it has read its config).</param>
    /// <exception cref="InvalidRuntimeConfException">The container ID, ifname, netns or CNI_ARGS are refused; nothing ran.</exception>
    /// <exception cref="CniRuntimeException">A step failed; the message names the network, plugin, container and step.
    /// The caller must call <see cref="DelNetworkListAsync"/> for the attachment afterwards (the cache holds the config).</exception>
    public async Task<CniResult> AddNetworkListAsync(
        NetworkConfigList list,
        RuntimeConf conf,
        CancellationToken cancellationToken = default,
        Func<Task>? prerequisite = null)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(conf);
        conf.Validate(requireNetNs: true);
        CheckCacheKey(list.Name, conf);

        using var shared = await _gate.EnterSharedAsync(cancellationToken).ConfigureAwait(false);
        using var held = await _containerLocks.AcquireAsync(conf.ContainerId, cancellationToken).ConfigureAwait(false);
        var op = new Op(PluginCommand.Add, list.Name, conf);

        async Task CheckpointAsync()
        {
            if (prerequisite is not null)
            {
                await prerequisite().ConfigureAwait(false);
            }

            SavePendingEntry(op, list, conf);
        }

        CniResult? previous = null;
        for (var i = 0; i < list.Plugins.Count; i++)
        {
            var plugin = list.Plugins[i];
            var output = await RunPluginAsync(
                    op, list, plugin, previous, conf.Inputs, conf.NetNsPath, conf.CniArgs, cancellationToken, beforeStdin: i == 0 ? CheckpointAsync : null)
                .ConfigureAwait(false);
            try
            {
                if (output.Stdout.AsSpan().Trim(" \t\r\n"u8).IsEmpty)
                {
                    throw new CniResultException("the plugin printed no result");
                }

                previous = CniResults.ParseAs(output.Stdout, list.CniVersion);
            }
            catch (CniResultException e)
            {
                throw op.Fail("parsing the plugin's result", e.Message, e, plugin);
            }
        }

        var final = previous!;
        try
        {
            _cache.Save(NewEntry(list, conf, final));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw op.Fail("saving the ADD result in the cache", e.Message, e);
        }

        return final;
    }

    /// <summary>
    /// The checkpoint before ADD's first plugin acts: refuses an attachment that is already added, or pending DEL with
    /// another config, and saves the entry without a result, so DEL can always find the exact config.
    /// </summary>
    private void SavePendingEntry(Op op, NetworkConfigList list, RuntimeConf conf)
    {
        if (!TryLoadEntry(list.Name, conf, out var existing, out var corrupt))
        {
            if (corrupt)
            {
                Log($"network \"{list.Name}\": ADD for container '{conf.ContainerId}' {conf.IfName}: replacing the unreadable cache entry {_cache.PathFor(list.Name, conf.ContainerId, conf.IfName)}");
            }
        }
        else
        {
            if (existing.Result is not null)
            {
                throw op.Fail(
                    "checking the cache",
                    $"the attachment is already added (cache entry {_cache.PathFor(list.Name, conf.ContainerId, conf.IfName)} holds a result); DEL it first");
            }

            if (!existing.Config.Span.SequenceEqual(list.Bytes.Span))
            {
                throw op.Fail(
                    "checking the cache",
                    $"a failed or interrupted ADD with a different config is pending DEL (cache entry {_cache.PathFor(list.Name, conf.ContainerId, conf.IfName)}); DEL it first");
            }
        }

        try
        {
            _cache.Save(NewEntry(list, conf, result: null));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw op.Fail("saving the cache entry before ADD", e.Message, e);
        }

        op.Checkpointed = true;
    }

    // ------------------------------------------------------------------------------------------------------------
    // DEL

    /// <summary>
    /// Detaches the container: runs every plugin's DEL in reverse order (prevResult = the cached ADD result for
    /// 0.4.0+), then removes the cache entry. With a null <paramref name="list"/> the network and its exact config
    /// come from the cache entry of <c>(ContainerId, IfName)</c> alone (after a crash, or when the config file is
    /// gone); with neither there is nothing to do. When a list is given, DEL runs with it even without a cache entry
    /// (as libcni does), so plugins can release state from an ADD whose checkpoint was lost.
    /// A missing cache entry, a missing or unset netns, and repeated DELs are fine. A corrupt cache entry is
    /// dropped (with a log line) and DEL goes on without prevResult, as libcni does. When the conf carries no
    /// CNI_ARGS or capability args, those recorded in the cache entry are used.
    /// </summary>
    public async Task DelNetworkListAsync(NetworkConfigList? list, RuntimeConf conf, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(conf);
        conf.Validate(requireNetNs: false);
        using var shared = await _gate.EnterSharedAsync(cancellationToken).ConfigureAwait(false);
        using var held = await _containerLocks.AcquireAsync(conf.ContainerId, cancellationToken).ConfigureAwait(false);
        if (list is not null)
        {
            await DelCoreAsync(list, null, conf, cancellationToken).ConfigureAwait(false);
            return;
        }

        // No config given: the attachment's cache entry names the network (an ifname is unique within a container,
        // so (container ID, ifname) identifies at most one attachment).
        var entries = _cache.List(conf.ContainerId).Where(a => a.IfName == conf.IfName).ToList();
        if (entries.Count == 0)
        {
            Log($"DEL for container '{conf.ContainerId}' {conf.IfName}: no config given and no usable cache entry; nothing to do");
            return;
        }

        foreach (var entry in entries)
        {
            await DelCoreAsync(null, entry.NetworkName, conf, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>DEL for one attachment; the caller holds the gate (and the container lock, or the exclusive gate).</summary>
    /// <param name="networkName">The network when <paramref name="list"/> is null (DEL from the cache).</param>
    private async Task DelCoreAsync(NetworkConfigList? list, string? networkName, RuntimeConf conf, CancellationToken cancellationToken)
    {
        var name = list?.Name ?? networkName
            ?? throw new InvalidOperationException("DEL needs a network list or a network name");
        CheckCacheKey(name, conf);
        var op = new Op(PluginCommand.Del, name, conf);

        var found = TryLoadEntry(name, conf, out var entry, out var corrupt);
        if (corrupt)
        {
            DropCorrupt(name, conf, "it cannot be read");
        }

        if (list is null)
        {
            if (!found)
            {
                Log($"network \"{name}\": DEL for container '{conf.ContainerId}' {conf.IfName}: no config given and no cache entry; nothing to do");
                return;
            }

            try
            {
                list = NetworkConfigList.FromBytes(entry!.Config.Span, _cache.PathFor(name, conf.ContainerId, conf.IfName));
            }
            catch (CniConfigException e)
            {
                throw op.Fail("reading the config from the cache entry", e.Message, e);
            }

            if (list.Name != name)
            {
                throw op.Fail("reading the config from the cache entry", $"the cached config is for network \"{list.Name}\"");
            }
        }
        else if (found && !entry!.Config.Span.SequenceEqual(list.Bytes.Span))
        {
            Log($"network \"{name}\": DEL for container '{conf.ContainerId}' {conf.IfName}: the given config differs from the one cached at ADD; using the given one");
        }

        CniResult? prevResult = null;
        if (found && entry!.Result is not null && CniFeatures.DelReceivesPrevResult(list.CniVersion))
        {
            try
            {
                prevResult = CniResults.Parse(entry.Result, list.CniVersion).ConvertTo(list.CniVersion);
            }
            catch (CniResultException e)
            {
                DropCorrupt(name, conf, $"its result is unusable ({e.Message})");
                found = false;
            }
        }

        var inputs = conf.Inputs;
        var cniArgs = conf.CniArgs;
        if (found)
        {
            if (inputs.Capabilities.Count == 0 && entry!.CapabilityArgs is { Count: > 0 } cachedCaps)
            {
                var capabilities = CapabilityArgs.Empty;
                foreach (var (key, value) in cachedCaps)
                {
                    capabilities = capabilities.With(key, value);
                }

                inputs = new RuntimeInputs { Capabilities = capabilities, Args = inputs.Args, ReservedArgsKeys = inputs.ReservedArgsKeys };
            }

            if (cniArgs.Count == 0 && entry!.CniArgs.Count > 0)
            {
                cniArgs = entry.CniArgs;
            }
        }

        for (var i = list.Plugins.Count - 1; i >= 0; i--)
        {
            await RunPluginAsync(op, list, list.Plugins[i], prevResult, inputs, conf.NetNsPath, cniArgs, cancellationToken)
                .ConfigureAwait(false);
        }

        try
        {
            _cache.Delete(name, conf.ContainerId, conf.IfName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw op.Fail("removing the cache entry", e.Message, e);
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // CHECK

    /// <summary>
    /// Runs every plugin's CHECK in order with the cached ADD result. Lists below 0.4.0 are refused (they have no
    /// CHECK); a list with <c>disableCheck</c> returns at once without running anything. A missing cache entry or one
    /// without a result (CHECK before ADD, after DEL, or after a failed ADD) is an error.
    /// </summary>
    public async Task CheckNetworkListAsync(NetworkConfigList list, RuntimeConf conf, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(conf);
        conf.Validate(requireNetNs: true);
        CheckCacheKey(list.Name, conf);
        var op = new Op(PluginCommand.Check, list.Name, conf);
        if (!CniFeatures.SupportsCheck(list.CniVersion))
        {
            throw op.Fail("checking the version", $"configuration version {list.CniVersion} does not support the CHECK command (needs 0.4.0 or later)");
        }

        if (list.DisableCheck)
        {
            Log($"network \"{list.Name}\": CHECK for container '{conf.ContainerId}' {conf.IfName} skipped: the list sets disableCheck");
            return;
        }

        using var shared = await _gate.EnterSharedAsync(cancellationToken).ConfigureAwait(false);
        using var held = await _containerLocks.AcquireAsync(conf.ContainerId, cancellationToken).ConfigureAwait(false);
        CniResult cached;
        try
        {
            cached = LoadCachedResult(list, conf)
                ?? throw new CniResultException("no cached ADD result (CHECK before a successful ADD, or after DEL)");
        }
        catch (CniResultException e)
        {
            throw op.Fail("reading the cached result", e.Message, e);
        }

        foreach (var plugin in list.Plugins)
        {
            await RunPluginAsync(op, list, plugin, cached, conf.Inputs, conf.NetNsPath, conf.CniArgs, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Cache queries

    /// <summary>
    /// The cached final ADD result of the attachment, at the list's version; null when there is no entry, the entry
    /// has no result (ADD failed or is running), or it cannot be used (reported through the logger).
    /// </summary>
    public Task<CniResult?> GetCachedResultAsync(NetworkConfigList list, RuntimeConf conf, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(conf);
        cancellationToken.ThrowIfCancellationRequested();
        conf.Validate(requireNetNs: false);
        CheckCacheKey(list.Name, conf);
        try
        {
            return Task.FromResult(LoadCachedResult(list, conf));
        }
        catch (CniResultException e)
        {
            Log($"ignoring the cached result of network \"{list.Name}\" for container '{conf.ContainerId}' {conf.IfName}: {e.Message}");
            return Task.FromResult<CniResult?>(null);
        }
    }

    /// <summary>The cached attachments (libcni GetCachedAttachments), optionally of one container only.</summary>
    public IReadOnlyList<CachedAttachment> CachedAttachments(string? containerId = null)
    {
        if (!string.IsNullOrEmpty(containerId) && RuntimeConf.ContainerIdProblem(containerId) is { } problem)
        {
            throw new InvalidRuntimeConfException(problem);
        }

        return _cache.List(containerId);
    }

    // ------------------------------------------------------------------------------------------------------------
    // GC

    /// <summary>
    /// Garbage-collects the network (libcni GCNetworkList), exclusive with every other operation of this runtime:
    /// first DEL for each cached attachment of this network that is not in <paramref name="valid"/> (using the config
    /// bytes cached with it, or <paramref name="list"/> when those are unusable, and the cached netns, CNI_ARGS and
    /// capability args), then, for lists at 1.1.0 or later, a GC request with the valid attachments to every plugin.
    /// Failures do not stop it: every error is returned. A list with <c>disableGC</c> is left alone entirely
    /// (no stale DEL either), as libcni does: the flag means another runtime may share this state.
    /// </summary>
    public async Task<IReadOnlyList<Exception>> GcNetworkListAsync(
        NetworkConfigList list,
        IEnumerable<(string containerId, string ifname)> valid,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(valid);
        var validSet = valid.Select(v => new CniAttachment(v.containerId, v.ifname)).ToList();
        var errors = new List<Exception>();
        if (list.DisableGc)
        {
            Log($"network \"{list.Name}\": GC skipped: the list sets disableGC");
            return errors;
        }

        using var exclusive = await _gate.EnterExclusiveAsync(cancellationToken).ConfigureAwait(false);
        var keep = validSet.ToHashSet();
        foreach (var attachment in _cache.List())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (attachment.NetworkName != list.Name || keep.Contains(new CniAttachment(attachment.ContainerId, attachment.IfName)))
            {
                continue;
            }

            var netns = attachment.NetNs;
            if (netns is not null && (netns.StartsWith("/proc/", StringComparison.Ordinal) || !Path.IsPathRooted(netns)))
            {
                // A /proc/<pid> path may now name an unrelated process (cri-o#2849): never hand it to a plugin.
                Log($"network \"{list.Name}\": GC: not passing the cached netns \"{netns}\" of container '{attachment.ContainerId}' {attachment.IfName}");
                netns = null;
            }

            var conf = new RuntimeConf
            {
                ContainerId = attachment.ContainerId,
                IfName = attachment.IfName,
                NetNsPath = netns,
                CniArgs = attachment.CniArgs,
            };
            try
            {
                conf.Validate(requireNetNs: false);
                NetworkConfigList? cachedList = null;
                try
                {
                    cachedList = NetworkConfigList.FromBytes(attachment.Config.Span, $"cache entry of container '{attachment.ContainerId}' {attachment.IfName}");
                    if (cachedList.Name != list.Name)
                    {
                        cachedList = null;
                    }
                }
                catch (CniConfigException e)
                {
                    Log($"network \"{list.Name}\": GC: the cached config of container '{attachment.ContainerId}' {attachment.IfName} is unusable ({e.Message}); using the given list");
                }

                Log($"network \"{list.Name}\": GC: deleting stale attachment of container '{attachment.ContainerId}' {attachment.IfName}");
                await DelCoreAsync(cachedList ?? list, null, conf, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                errors.Add(new CniRuntimeException(
                    $"network \"{list.Name}\": GC: failed to delete stale attachment of container '{attachment.ContainerId}' {attachment.IfName}: {e.Message}",
                    PluginCommand.Gc, list.Name, attachment.ContainerId, attachment.IfName,
                    (e as CniRuntimeException)?.PluginIndex, (e as CniRuntimeException)?.PluginType, "deleting a stale attachment", e));
            }
        }

        errors.AddRange(await SendGcCoreAsync(list, validSet, cancellationToken).ConfigureAwait(false));
        return errors;
    }

    /// <summary>
    /// The second half of <see cref="GcNetworkListAsync"/> alone: the GC request (spec 1.1.0 and later; nothing for
    /// older lists or with <c>disableGC</c>) to every plugin of the list, naming the attachments that are still valid,
    /// so plugins can release what belongs to no valid attachment (e.g. IPAM leases). For a runtime whose cache is not
    /// shared by every container, whose stale attachments are DELed by other means.
    /// </summary>
    public async Task<IReadOnlyList<Exception>> SendGcAsync(
        NetworkConfigList list,
        IEnumerable<(string containerId, string ifname)> valid,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(valid);
        if (list.DisableGc)
        {
            return [];
        }

        using var exclusive = await _gate.EnterExclusiveAsync(cancellationToken).ConfigureAwait(false);
        return await SendGcCoreAsync(list, [.. valid.Select(v => new CniAttachment(v.containerId, v.ifname))], cancellationToken)
            .ConfigureAwait(false);
    }

    private async Task<List<Exception>> SendGcCoreAsync(NetworkConfigList list, List<CniAttachment> validSet, CancellationToken cancellationToken)
    {
        var errors = new List<Exception>();
        if (!CniFeatures.SupportsGc(list.CniVersion))
        {
            return errors;
        }

        foreach (var plugin in list.Plugins)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var stdin = PluginRequests.BuildGc(list, plugin.Index, validSet);
                await RunAsync(PluginCommand.Gc, list.Name, null, plugin, stdin, null, [], cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                errors.Add(Wrap(PluginCommand.Gc, list.Name, null, plugin, e));
            }
        }

        return errors;
    }

    // ------------------------------------------------------------------------------------------------------------
    // STATUS, VERSION, validation

    /// <summary>
    /// STATUS (1.1.0): asks every plugin in order whether it is ready, stopping at the first error (code 50/51 mean
    /// "not available"). Lists below 1.1.0 have no STATUS and always count as ready.
    /// </summary>
    public async Task GetStatusNetworkListAsync(NetworkConfigList list, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(list);
        if (!CniFeatures.SupportsStatus(list.CniVersion))
        {
            return;
        }

        foreach (var plugin in list.Plugins)
        {
            try
            {
                await RunAsync(PluginCommand.Status, list.Name, null, plugin, PluginRequests.BuildStatus(list, plugin.Index), null, [], cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw Wrap(PluginCommand.Status, list.Name, null, plugin, e);
            }
        }
    }

    /// <summary>
    /// Asks a plugin which spec versions it speaks (VERSION). A plugin too old to know VERSION ("unknown
    /// CNI_COMMAND: VERSION") counts as 0.1.0 only.
    /// </summary>
    public async Task<PluginVersionInfo> GetVersionInfoAsync(string pluginType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pluginType);
        var step = "finding the plugin";
        try
        {
            var path = _executor.FindPlugin(pluginType, CniPath);
            step = "running VERSION";
            PluginOutput output;
            try
            {
                output = await _executor.ExecuteAsync(
                    PluginInvocation.ForVersion(path, CniVersion.Latest.ToString(), CniPath, PluginTimeLimit), cancellationToken).ConfigureAwait(false);
            }
            catch (CniPluginException e) when (e.Kind == PluginFailureKind.ExitedNonZero
                && (PluginVersionInfo.IsUnknownVersionCommand(e.Error?.Msg) || PluginVersionInfo.IsUnknownVersionCommand(e.Stderr)))
            {
                return PluginVersionInfo.Legacy;
            }

            step = "parsing the VERSION answer";
            return PluginVersionInfo.Parse(output.Stdout);
        }
        catch (Exception e) when (e is CniPluginException or CniVersionException)
        {
            throw new CniRuntimeException(
                $"plugin \"{pluginType}\": VERSION failed while {step}: {e.Message}",
                PluginCommand.Version, pluginType: pluginType, step: step, innerException: e);
        }
    }

    /// <summary>
    /// Checks that every plugin of the list (and every IPAM plugin it names) is in CNI_PATH and speaks the list's
    /// version (libcni ValidateNetworkList). Returns the capabilities the plugins declare. Throws one
    /// <see cref="CniRuntimeException"/> listing every problem, each naming its plugin.
    /// </summary>
    public async Task<IReadOnlyCollection<string>> ValidateNetworkListAsync(NetworkConfigList list, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(list);
        var problems = new List<string>();
        var errors = new List<Exception>();
        var capabilities = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var plugin in list.Plugins)
        {
            foreach (var (name, on) in plugin.Capabilities)
            {
                if (on)
                {
                    capabilities.Add(name);
                }
            }

            var types = plugin.IpamType is null ? new[] { (plugin.Type, "") } : [(plugin.Type, ""), (plugin.IpamType, " ipam")];
            foreach (var (type, role) in types)
            {
                try
                {
                    var info = await GetVersionInfoAsync(type, cancellationToken).ConfigureAwait(false);
                    if (!info.Supports(list.CniVersion))
                    {
                        problems.Add($"{plugin}{role} \"{type}\" does not support cniVersion {list.CniVersion} (it supports {string.Join(", ", info.SupportedVersions)})");
                    }
                }
                catch (CniRuntimeException e)
                {
                    problems.Add($"{plugin}{role} \"{type}\": {(e.InnerException ?? e).Message}");
                    errors.Add(e);
                }
            }
        }

        if (problems.Count > 0)
        {
            throw new CniRuntimeException(
                $"network \"{list.Name}\" is not usable with CNI_PATH \"{CniPath}\": {string.Join("; ", problems)}",
                networkName: list.Name, step: "validating the list",
                innerException: errors.Count switch { 0 => null, 1 => errors[0], _ => new AggregateException(errors) });
        }

        return capabilities;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Plumbing

    private async Task<PluginOutput> RunPluginAsync(
        Op op,
        NetworkConfigList list,
        PluginConfig plugin,
        CniResult? prevResult,
        RuntimeInputs inputs,
        string? netns,
        IReadOnlyList<KeyValuePair<string, string>> cniArgs,
        CancellationToken cancellationToken,
        Func<Task>? beforeStdin = null)
    {
        byte[] stdin;
        try
        {
            stdin = PluginRequests.Build(op.Command, list, plugin.Index, inputs, prevResult);
        }
        catch (CniRequestException e)
        {
            throw op.Fail("building the request", e.Message, e, plugin);
        }

        try
        {
            return await RunAsync(op.Command, list.Name, op.Conf, plugin, stdin, netns, cniArgs, cancellationToken, beforeStdin).ConfigureAwait(false);
        }
        catch (CniPluginException e)
        {
            throw op.Fail(e.Kind is PluginFailureKind.NotFound or PluginFailureKind.InvalidType ? "finding the plugin" : "running the plugin", e.Message, e, plugin);
        }
    }

    private async Task<PluginOutput> RunAsync(
        PluginCommand command,
        string network,
        RuntimeConf? conf,
        PluginConfig plugin,
        byte[] stdin,
        string? netns,
        IReadOnlyList<KeyValuePair<string, string>> cniArgs,
        CancellationToken cancellationToken,
        Func<Task>? beforeStdin = null)
    {
        var path = _executor.FindPlugin(plugin.Type, CniPath);
        var invocation = new PluginInvocation
        {
            PluginPath = path,
            Command = command,
            ContainerId = conf?.ContainerId,
            NetNsPath = netns,
            IfName = conf?.IfName,
            CniPath = CniPath,
            CniArgs = cniArgs,
            Stdin = stdin,
            BeforeStdin = beforeStdin,
            TimeLimit = PluginTimeLimit,
        };
        var stopwatch = Stopwatch.StartNew();
        var subject = conf is null ? "" : $" for container '{conf.ContainerId}' {conf.IfName}";
        try
        {
            var output = await _executor.ExecuteAsync(invocation, cancellationToken).ConfigureAwait(false);
            Log($"network \"{network}\" {plugin} {command.ToWire()}{subject}: ok in {stopwatch.ElapsedMilliseconds} ms"
                + (output.Stderr.Length > 0 ? $"; stderr: {output.Stderr}" : ""));
            return output;
        }
        catch (Exception e)
        {
            Log($"network \"{network}\" {plugin} {command.ToWire()}{subject}: failed after {stopwatch.ElapsedMilliseconds} ms: {e.Message}");
            throw;
        }
    }

    private static CniRuntimeException Wrap(PluginCommand command, string network, RuntimeConf? conf, PluginConfig plugin, Exception e)
    {
        var step = e switch
        {
            CniRequestException => "building the request",
            CniPluginException { Kind: PluginFailureKind.NotFound or PluginFailureKind.InvalidType } => "finding the plugin",
            _ => "running the plugin",
        };
        return new Op(command, network, conf).Fail(step, e.Message, e, plugin);
    }

    private CniResult? LoadCachedResult(NetworkConfigList list, RuntimeConf conf)
    {
        if (!TryLoadEntry(list.Name, conf, out var entry, out _) || entry.Result is null)
        {
            return null;
        }

        return CniResults.Parse(entry.Result, list.CniVersion).ConvertTo(list.CniVersion);
    }

    /// <summary>Loads the attachment's entry; <paramref name="corrupt"/> is true when a file exists but is unusable.</summary>
    private bool TryLoadEntry(string network, RuntimeConf conf, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CachedAttachment? entry, out bool corrupt)
    {
        corrupt = false;
        if (_cache.TryLoad(network, conf.ContainerId, conf.IfName, out entry))
        {
            return true;
        }

        corrupt = File.Exists(_cache.PathFor(network, conf.ContainerId, conf.IfName));
        return false;
    }

    private void DropCorrupt(string network, RuntimeConf conf, string why)
    {
        var path = _cache.PathFor(network, conf.ContainerId, conf.IfName);
        Log($"dropping the CNI cache entry {path} of network \"{network}\" for container '{conf.ContainerId}' {conf.IfName}: {why}");
        try
        {
            _cache.Delete(network, conf.ContainerId, conf.IfName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log($"could not remove {path}: {e.Message}");
        }
    }

    private void CheckCacheKey(string network, RuntimeConf conf)
    {
        try
        {
            ResultCache.FileNameFor(network, conf.ContainerId, conf.IfName);
        }
        catch (ArgumentException e)
        {
            throw new InvalidRuntimeConfException($"network \"{network}\", container \"{CniNames.Printable(conf.ContainerId)}\", interface \"{CniNames.Printable(conf.IfName)}\": {e.Message}");
        }
    }

    private static CachedAttachment NewEntry(NetworkConfigList list, RuntimeConf conf, CniResult? result)
    {
        JsonObject? capabilities = null;
        if (conf.Inputs.Capabilities.Count > 0)
        {
            capabilities = [];
            foreach (var name in conf.Inputs.Capabilities.Names)
            {
                conf.Inputs.Capabilities.TryGet(name, out var value);
                capabilities[name] = value;
            }
        }

        return new CachedAttachment
        {
            NetworkName = list.Name,
            ContainerId = conf.ContainerId,
            IfName = conf.IfName,
            Config = list.Bytes.ToArray(),
            NetNs = conf.NetNsPath,
            CniArgs = conf.CniArgs,
            CapabilityArgs = capabilities,
            Result = result?.ToJson(),
        };
    }

    private void Log(string line)
    {
        try
        {
            _log?.Invoke(line);
        }
        catch (Exception)
        {
            // A broken logger must not break network setup.
        }
    }

    /// <summary>Formats errors for one operation on one attachment.</summary>
    private sealed record Op(PluginCommand Command, string Network, RuntimeConf? Conf)
    {
        /// <summary>Set once ADD has written its checkpoint: from then on a failure needs a DEL.</summary>
        public bool Checkpointed { get; set; }

        public CniRuntimeException Fail(string step, string detail, Exception? inner = null, PluginConfig? plugin = null)
        {
            var subject = Conf is null ? "" : $" for container '{Conf.ContainerId}' {Conf.IfName}";
            var where = plugin is null ? "" : $" at {plugin}";
            var hint = Checkpointed ? "; the attachment is checkpointed: DEL must be called to release it" : "";
            return new CniRuntimeException(
                $"network \"{Network}\": {Command.ToWire()}{subject} failed{where} while {step}: {detail}{hint}",
                Command, Network, Conf?.ContainerId, Conf?.IfName, plugin?.Index, plugin?.Type, step, inner);
        }
    }
}
