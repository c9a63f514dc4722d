using System.Collections;
using System.Net;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Invocation;
using NetIsolator.Cni.Requests;
using NetIsolator.Cni.Results;
using NetIsolator.Cni.Versions;
using NetIsolator.PortMapper.Config;
using NetIsolator.PortMapper.Host;
using NetIsolator.PortMapper.Iptables;
using NetIsolator.PortMapper.Rules;

namespace NetIsolator.PortMapper.Plugin;

/// <summary>
/// One invocation of <c>mesos-cni-port-mapper</c>: reads the request, checks all of it before touching anything, runs
/// the command and prints the result or a CNI error object (exit status 1, as Mesos's plugin and libcni's skel do).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>ADD: delegate ADD, then the rules of every family in one iptables-restore each, then the UDP conntrack
///   flush. Any failure after the delegate's ADD undoes what was done: the rules (read back by tag) and the
///   delegate (DEL). The result printed is the delegate's, at the request's version.</item>
/// <item>DEL: the rules and, from the moment the host lock is held, the delegate's DEL at the same time (an address
///   the delegate releases reaches another container only through an ADD, which passes the lock before returning,
///   so it never receives stale DNAT traffic). Rules, chains or namespace already gone are not errors; a network
///   chain left empty goes.</item>
/// <item>CHECK (0.4.0+): the delegate's CHECK, then every rule the prevResult implies must be in place.</item>
/// <item>GC (1.1.0): removes the rules of attachments not in <c>cni.dev/valid-attachments</c>, then the delegate's GC.</item>
/// <item>STATUS (1.1.0): the delegate's STATUS, and iptables must be usable.</item>
/// <item>VERSION: every spec version; needs only CNI_COMMAND (Mesos answered 104, after demanding CNI_NETNS).</item>
/// </list>
/// </remarks>
public sealed class PortMapperPlugin
{
    /// <summary>How long an instance waits for another to finish with the tables.</summary>
    public static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(60);

    // Quotes and non-ASCII stay readable in messages (the default escapes them for HTML).
    private static readonly System.Text.Json.JsonSerializerOptions Output =
        new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IDictionary _environment;
    private readonly TextWriter _stdout;
    private readonly TextWriter _stderr;
    private readonly IPluginExecutor _executor;
    private readonly string _lockPath;

    public PortMapperPlugin(IDictionary environment, TextWriter stdout, TextWriter stderr, IPluginExecutor? executor = null, string? lockPath = null)
    {
        _environment = environment;
        _stdout = stdout;
        _stderr = stderr;
        _executor = executor ?? new ProcessPluginExecutor();
        _lockPath = lockPath ?? HostLock.DefaultPath;
    }

    private string SearchPath => _environment["PATH"] as string is { Length: > 0 } path ? path : PluginEnvironment.DefaultPath;

    /// <summary>Runs the invocation; returns the exit status.</summary>
    public int Run(Stream stdin)
    {
        string? errorVersion = null;
        try
        {
            var input = ReadInput(stdin);
            var command = CniCall.ReadCommand(_environment);
            if (command == PluginCommand.Version)
            {
                WriteVersion(input);
                return 0;
            }

            var call = CniCall.Read(command, _environment);
            var config = PortMapperConfig.Parse(input, withMappings: command is PluginCommand.Add or PluginCommand.Check);
            errorVersion = config.DeclaredCniVersion;
            var delegatePlugin = new DelegatePlugin(config, call, _executor);
            switch (command)
            {
                case PluginCommand.Add:
                    Add(config, call, delegatePlugin);
                    break;
                case PluginCommand.Del:
                    Del(config, call, delegatePlugin);
                    break;
                case PluginCommand.Check:
                    Check(config, call, delegatePlugin);
                    break;
                case PluginCommand.Gc:
                    Gc(config, delegatePlugin);
                    break;
                default:
                    Status(config, delegatePlugin);
                    break;
            }

            return 0;
        }
        catch (PortMapperException e)
        {
            WriteError(e.Code, e.Message, e.Details, errorVersion);
            return 1;
        }
    }

    private static byte[] ReadInput(Stream stdin)
    {
        try
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[64 * 1024];
            int read;
            while ((read = stdin.Read(chunk)) > 0)
            {
                if (buffer.Length + read > PortMapperConfig.MaxConfigBytes)
                {
                    throw PortMapperException.BadArgs($"config: stdin holds more than {PortMapperConfig.MaxConfigBytes} bytes");
                }

                buffer.Write(chunk, 0, read);
            }

            return buffer.ToArray();
        }
        catch (IOException e)
        {
            throw new PortMapperException(MesosErrorCodes.ReadFailure, $"Failed to read stdin: {e.Message}", inner: e);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // ADD

    private void Add(PortMapperConfig config, CniCall call, DelegatePlugin delegatePlugin)
    {
        var tag = new RuleTag(call.ContainerId, call.IfName);
        var layout = NetworkLayout.From(config);
        // Found before the delegate runs: a host without iptables fails the ADD with nothing to undo.
        var tools = config.Mappings.Count == 0 ? null : Tools(config.Backend);
        var result = delegatePlugin.Add();
        var rulesTouched = false;
        try
        {
            var plans = new List<(IpFamily Family, IReadOnlyList<IptablesRule> Rules, ContainerAddress Address)>();
            if (tools is not null)
            {
                var addresses = ContainerAddresses(result);
                if (addresses.Count == 0)
                {
                    throw new PortMapperException(
                        MesosErrorCodes.DelegateFailure, $"The delegate plugin '{delegatePlugin.Path}' returned no container IP address to map ports to");
                }

                foreach (var mapping in config.Mappings.Where(m => m.HostIp is not null))
                {
                    var family = RulePlanner.FamilyOf(IPAddress.Parse(mapping.HostIp!));
                    if (!addresses.ContainsKey(family))
                    {
                        throw new PortMapperException(
                            MesosErrorCodes.DelegateFailure,
                            $"port mapping {mapping.Protocol}/{mapping.HostPort} on {mapping.HostIp}: the delegate plugin '{delegatePlugin.Path}' returned no {(family == IpFamily.V4 ? "IPv4" : "IPv6")} address for the container");
                    }
                }

                foreach (var (family, address) in addresses)
                {
                    var rules = RulePlanner.ContainerRules(layout, tag, address, RulePlanner.MappingsFor(family, config.Mappings));
                    if (rules.Count > 0)
                    {
                        plans.Add((family, rules, address));
                    }
                }
            }

            if (config.Snat && plans.FirstOrDefault(p => p.Family == IpFamily.V4) is { Address: { } v4 })
            {
                try
                {
                    RouteLocalnet.Enable(v4.Address);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw Portmap($"Failed to enable route_localnet for container '{call.ContainerId}' ({v4.Address}): {e.Message}", e);
                }
            }

            if (plans.Count == 0)
            {
                // Nothing to add, but still through the lock: a DEL that released this container's address may
                // still be removing its DNAT rules (see Del), and the container must not start before they are gone.
                Lock().Dispose();
            }
            else
            {
                using var held = Lock();
                foreach (var (family, rules, _) in plans)
                {
                    rulesTouched = true;
                    try
                    {
                        // Usually one restore that reads nothing; a repeated ADD or the network's first reads all.
                        if (tools!.TryRestore(family, RulePlanner.AddFresh(layout, tag, rules)) is not null)
                        {
                            tools.Restore(family, RulePlanner.Add(layout, family, tag, rules, tools.Save(family)));
                        }
                    }
                    catch (ToolException e)
                    {
                        throw Portmap($"Failed to add DNAT rules with tag '{tag.Comment}' to chain '{config.Chain}' ({Name(family)}): {e.Message}", e);
                    }
                }
            }

            foreach (var (family, rules, _) in plans)
            {
                ConntrackFlush.DeleteUdp(family, RulePlanner.UdpHostPorts(rules), SearchPath, _stderr);
            }

            CniResult output;
            try
            {
                output = result.ConvertTo(config.CniVersion);
            }
            catch (CniResultException e)
            {
                throw new PortMapperException(
                    MesosErrorCodes.DelegateFailure, $"The delegate plugin '{delegatePlugin.Path}' result cannot be given at cniVersion {config.CniVersion}: {e.Message}");
            }

            _stdout.WriteLine(output.ToJson().ToJsonString(Output));
        }
        catch (PortMapperException failure)
        {
            Undo(failure, config, tag, layout, rulesTouched ? tools : null, delegatePlugin, result);
            throw;
        }
    }

    // Rolls back an ADD that failed after its delegate ADD; failures here are appended to the original error.
    private void Undo(
        PortMapperException failure, PortMapperConfig config, RuleTag tag, NetworkLayout layout, IptablesTools? tools,
        DelegatePlugin delegatePlugin, CniResult result)
    {
        var problems = new List<string>();
        if (tools is not null)
        {
            try
            {
                RemoveRules(layout, tools, tag.Owns, config);
            }
            catch (PortMapperException e)
            {
                problems.Add(e.Message);
            }
        }

        try
        {
            delegatePlugin.Del(result);
        }
        catch (PortMapperException e)
        {
            problems.Add(e.Message);
        }

        _stderr.WriteLine(problems.Count == 0
            ? $"mesos-cni-port-mapper: ADD failed; its rules and the delegate's ADD were undone: {failure.Message}"
            : $"mesos-cni-port-mapper: ADD failed and undoing it failed too (DEL will retry): {string.Join("; ", problems)}");
    }

    // ---------------------------------------------------------------------------------------------------------
    // DEL

    private void Del(PortMapperConfig config, CniCall call, DelegatePlugin delegatePlugin)
    {
        var tag = new RuleTag(call.ContainerId, call.IfName);
        IptablesTools? tools = null;
        try
        {
            tools = Tools(config.Backend);
        }
        catch (PortMapperException e)
        {
            // No iptables at all: there can be no rules of ours to remove.
            _stderr.WriteLine($"mesos-cni-port-mapper: DEL for container '{call.ContainerId}': {e.Message}; no rules removed");
        }

        var prevResult = PrevResult(config, required: false);
        if (tools is null)
        {
            delegatePlugin.Del(prevResult);
            return;
        }

        // ADD writes rules only for the families the container has an address of: with the ADD result at hand
        // (prevResult, 0.4.0+), the other family's tables need not be read.
        var families = prevResult is null ? null : ContainerAddresses(prevResult).Keys.ToList();
        // The delegate's DEL, most of the call, runs while the rules go, but starts only once the host lock is held.
        // The address it releases can go to another container only through an ADD, and an ADD takes the lock after
        // its delegate's (for its rules, or just to pass when it has none) before it returns: so no container runs
        // with that address while this attachment's DNAT rules still point at it. If the lock cannot be had, the
        // delegate does not run and the DEL fails, to be retried.
        Task? delegateDel = null;
        PortMapperException? rulesFailure = null;
        try
        {
            RemoveRules(NetworkLayout.From(config), tools, tag.Owns, config, families is { Count: > 0 } ? families : null, tag,
                whileLocked: () => delegateDel = delegatePlugin.DelAsync(prevResult));
        }
        catch (PortMapperException e)
        {
            rulesFailure = e;
        }

        try
        {
            delegateDel?.GetAwaiter().GetResult();
        }
        catch (PortMapperException e) when (rulesFailure is not null)
        {
            throw new PortMapperException(rulesFailure.Code, $"{rulesFailure.Message}; the delegate's DEL failed too: {e.Message}", rulesFailure.Details, rulesFailure);
        }

        if (rulesFailure is not null)
        {
            throw rulesFailure;
        }
    }

    /// <summary>
    /// Removes the selected rules of both families (one batch each), then flushes their UDP ports; <paramref name="whileLocked"/>
    /// runs first thing once the host lock is held. With the
    /// <paramref name="tag"/> of one attachment (DEL), it first tries with the listing of the network chain alone
    /// (<see cref="RulePlanner.RemoveListed"/>), reading everything only when that cannot do.
    /// </summary>
    private void RemoveRules(
        NetworkLayout layout, IptablesTools tools, Func<IptablesRule, bool> owned, PortMapperConfig config,
        IReadOnlyList<IpFamily>? families = null, RuleTag? tag = null, Action? whileLocked = null)
    {
        var flushes = new List<(IpFamily, IReadOnlyList<int>)>();
        using (Lock())
        {
            whileLocked?.Invoke();
            foreach (var family in (families ?? [IpFamily.V4, IpFamily.V6]).Where(tools.Supports))
            {
                try
                {
                    if (tag is not null && tools.ListChain(family, RulePlanner.Nat, layout.Chain) is { } listed
                        && RulePlanner.RemoveListed(layout, family, tag, listed) is { } plan
                        && tools.TryRestore(family, plan.Batch) is null)
                    {
                        flushes.Add((family, RulePlanner.UdpHostPorts(plan.Removed)));
                        continue;
                    }

                    var (batch, removed) = RulePlanner.Remove(layout, owned, tools.Save(family));
                    tools.Restore(family, batch);
                    flushes.Add((family, RulePlanner.UdpHostPorts(removed)));
                }
                catch (ToolException e)
                {
                    throw Portmap($"Unable to remove iptables DNAT rules from chain '{config.Chain}' ({Name(family)}): {e.Message}", e);
                }
            }
        }

        foreach (var (family, ports) in flushes)
        {
            ConntrackFlush.DeleteUdp(family, ports, SearchPath, _stderr);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // CHECK, GC, STATUS

    private void Check(PortMapperConfig config, CniCall call, DelegatePlugin delegatePlugin)
    {
        if (!CniFeatures.SupportsCheck(config.CniVersion))
        {
            throw new PortMapperException(CniErrorCodes.IncompatibleVersion, $"CHECK needs cniVersion 0.4.0 or later, the config has {config.CniVersion}");
        }

        var prevResult = PrevResult(config, required: true)!;
        delegatePlugin.Check(prevResult);
        if (config.Mappings.Count == 0)
        {
            return;
        }

        var tools = Tools(config.Backend);
        var tag = new RuleTag(call.ContainerId, call.IfName);
        var layout = NetworkLayout.From(config);
        var missing = new List<IptablesRule>();
        foreach (var (family, address) in ContainerAddresses(prevResult))
        {
            var rules = RulePlanner.ContainerRules(layout, tag, address, RulePlanner.MappingsFor(family, config.Mappings));
            if (rules.Count == 0)
            {
                continue;
            }

            try
            {
                missing.AddRange(RulePlanner.Missing(layout, family, tag, rules, tools.Save(family)));
            }
            catch (ToolException e)
            {
                throw Portmap($"Unable to read the iptables rules of chain '{config.Chain}' ({Name(family)}): {e.Message}", e);
            }
        }

        if (missing.Count > 0)
        {
            throw new PortMapperException(
                MesosErrorCodes.PortmapFailure,
                $"CHECK for container '{call.ContainerId}' {call.IfName}: {missing.Count} rule(s) of chain '{config.Chain}' missing, first: {missing[0]}",
                string.Join("\n", missing));
        }
    }

    private void Gc(PortMapperConfig config, DelegatePlugin delegatePlugin)
    {
        var valid = new HashSet<(string, string)>();
        var validIds = new HashSet<string>(StringComparer.Ordinal);
        if (config.Raw[PluginRequests.ValidAttachmentsKey] is JsonArray attachments)
        {
            foreach (var item in attachments.OfType<JsonObject>())
            {
                if (item["containerID"]?.GetValue<string>() is { } id && item["ifname"]?.GetValue<string>() is { } ifName)
                {
                    valid.Add((id, ifName));
                    validIds.Add(id);
                }
            }
        }

        // A rule of ours whose attachment is not valid any more; Mesos's tags name no ifname, so their id decides.
        bool Stale(IptablesRule rule) =>
            RuleTag.TryParse(rule.Comment, out var id, out var ifName)
            && (ifName is null ? !validIds.Contains(id) : !valid.Contains((id, ifName)));

        RemoveRules(NetworkLayout.From(config), Tools(config.Backend), Stale, config);
        delegatePlugin.Gc(config.Raw);
    }

    private void Status(PortMapperConfig config, DelegatePlugin delegatePlugin)
    {
        try
        {
            Tools(config.Backend);
        }
        catch (PortMapperException e)
        {
            throw new PortMapperException(CniErrorCodes.PluginNotAvailable, e.Message);
        }

        delegatePlugin.Status();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Pieces

    private void WriteVersion(byte[] input)
    {
        var requested = CniVersion.Latest;
        try
        {
            if (JsonNode.Parse(input) is JsonObject request && request["cniVersion"] is JsonValue value
                && value.TryGetValue(out string? text) && CniVersion.TryParse(text, out var parsed) && parsed.IsSupported)
            {
                requested = parsed;
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // No usable request: answer at the latest version.
        }

        var answer = new JsonObject
        {
            ["cniVersion"] = requested.ToString(),
            ["supportedVersions"] = new JsonArray([.. CniVersion.Supported.Select(v => (JsonNode?)JsonValue.Create(v.ToString()))]),
        };
        _stdout.WriteLine(answer.ToJsonString(Output));
    }

    private void WriteError(uint code, string message, string? details, string? cniVersion)
    {
        var error = new CniError(code, message, details, cniVersion ?? CniVersion.Latest.ToString());
        _stdout.WriteLine(error.ToJson().ToJsonString(Output));
    }

    private IptablesTools Tools(BackendChoice choice)
    {
        try
        {
            return IptablesTools.Detect(choice, SearchPath);
        }
        catch (ToolException e)
        {
            throw Portmap($"Cannot use iptables: {e.Message}", e);
        }
    }

    private HostLock Lock()
    {
        try
        {
            return HostLock.Acquire(_lockPath, LockTimeout);
        }
        catch (TimeoutException e)
        {
            throw new PortMapperException(CniErrorCodes.TryAgainLater, e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PortMapperException(CniErrorCodes.IoFailure, $"Cannot open the lock '{_lockPath}': {e.Message}");
        }
    }

    private static CniResult? PrevResult(PortMapperConfig config, bool required)
    {
        if (config.PrevResult is null)
        {
            return required ? throw PortMapperException.BadArgs("config: missing \"prevResult\"") : null;
        }

        try
        {
            return CniResults.Parse(config.PrevResult, config.CniVersion);
        }
        catch (CniResultException e)
        {
            return required ? throw PortMapperException.BadArgs($"config: \"prevResult\": {e.Message}") : null;
        }
    }

    /// <summary>The first container-side address of each family in a result (host-side interfaces are skipped).</summary>
    internal static Dictionary<IpFamily, ContainerAddress> ContainerAddresses(CniResult result)
    {
        var addresses = new Dictionary<IpFamily, ContainerAddress>();
        foreach (var ip in result.Ips)
        {
            if (ip.Interface is int index && index >= 0 && index < result.Interfaces.Count
                && string.IsNullOrEmpty(result.Interfaces[index].Sandbox))
            {
                continue;
            }

            var address = ip.Address.Address.IsIPv4MappedToIPv6 ? ip.Address.Address.MapToIPv4() : ip.Address.Address;
            var prefix = ip.Address.Address.IsIPv4MappedToIPv6 ? Math.Max(0, ip.Address.PrefixLength - 96) : ip.Address.PrefixLength;
            addresses.TryAdd(RulePlanner.FamilyOf(address), new ContainerAddress(address, prefix));
        }

        return addresses;
    }

    private static string Name(IpFamily family) => family == IpFamily.V4 ? "IPv4" : "IPv6";

    private static PortMapperException Portmap(string message, Exception inner) =>
        new(MesosErrorCodes.PortmapFailure, message, inner: inner);
}
