using System.Text;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Invocation;
using NetIsolator.Cni.Requests;
using NetIsolator.Cni.Results;
using NetIsolator.Cni.Versions;
using NetIsolator.PortMapper.Config;

namespace NetIsolator.PortMapper.Plugin;

/// <summary>
/// The wrapped plugin (Mesos's "delegate"): its request built from ours, run through the CNI runtime's executor
/// (argv, explicit environment, stdin from memory, time limit), failures reported with Mesos's code 102.
/// </summary>
/// <remarks>
/// The request is the <c>delegate</c> object with <c>name</c> set to ours and our <c>args</c> (Mesos's NetworkInfo),
/// as Mesos builds it. Unlike Mesos, a delegate that declares no <c>cniVersion</c> gets ours when we have one, so
/// it answers at a version we convert from exactly; one that declares its own keeps it. It also gets our
/// <c>runtimeConfig</c> without <c>portMappings</c> (ips, mac, bandwidth... are its business), and for DEL and
/// CHECK our <c>prevResult</c> converted to its version, as a runtime would send it.
/// </remarks>
public sealed class DelegatePlugin
{
    private readonly PortMapperConfig _config;
    private readonly CniCall _call;
    private readonly IPluginExecutor _executor;

    /// <exception cref="PortMapperException">The delegate is not in CNI_PATH (101).</exception>
    public DelegatePlugin(PortMapperConfig config, CniCall call, IPluginExecutor executor)
    {
        _config = config;
        _call = call;
        _executor = executor;
        try
        {
            Path = executor.FindPlugin(config.DelegateType, call.CniPath);
        }
        catch (CniPluginException e)
        {
            throw PortMapperException.BadArgs($"delegate: {e.Message}");
        }
    }

    /// <summary>The delegate binary found in CNI_PATH.</summary>
    public string Path { get; }

    public CniVersion Version => _config.DelegateVersion;

    /// <summary>ADD; its result as the delegate printed it (at its version).</summary>
    public CniResult Add()
    {
        var output = Execute(PluginCommand.Add, Request(prevResult: null));
        try
        {
            return CniResults.Parse(output.Stdout, Version);
        }
        catch (CniResultException e)
        {
            throw Failure(PluginCommand.Add, $"its result cannot be read: {e.Message}");
        }
    }

    public void Del(CniResult? prevResult) => DelAsync(prevResult).GetAwaiter().GetResult();

    /// <summary>DEL, with the delegate's process started before this returns; awaiting the task finishes it.</summary>
    public Task DelAsync(CniResult? prevResult) =>
        ExecuteAsync(PluginCommand.Del, Request(CniFeatures.DelReceivesPrevResult(Version) ? prevResult : null));

    public void Check(CniResult prevResult) => Execute(PluginCommand.Check, Request(prevResult));

    /// <summary>
    /// GC gets the delegate's config plus the runtime's attachment lists, nothing else; a delegate at a version
    /// before 1.1.0 has no GC and is not asked (as a runtime would not ask it).
    /// </summary>
    public void Gc(JsonObject request)
    {
        if (!CniFeatures.SupportsGc(Version))
        {
            return;
        }

        var gc = Request(prevResult: null, withRuntimeConfig: false);
        foreach (var key in new[] { PluginRequests.ValidAttachmentsKey, PluginRequests.AttachmentsAliasKey })
        {
            if (request[key] is { } value)
            {
                gc[key] = value.DeepClone();
            }
        }

        Execute(PluginCommand.Gc, gc);
    }

    /// <summary>STATUS, for a delegate at 1.1.0 or later (an older one has no STATUS and counts as ready).</summary>
    public void Status()
    {
        if (CniFeatures.SupportsStatus(Version))
        {
            Execute(PluginCommand.Status, Request(prevResult: null, withRuntimeConfig: false));
        }
    }

    /// <summary>The delegate's stdin for a command (exposed for tests).</summary>
    internal JsonObject Request(CniResult? prevResult, bool withRuntimeConfig = true)
    {
        var request = (JsonObject)_config.Delegate.DeepClone();
        request["name"] = _config.Name;
        if (!request.ContainsKey("cniVersion") && _config.DeclaredCniVersion is { } version)
        {
            request["cniVersion"] = version;
        }

        if (_config.Args is not null)
        {
            request["args"] = _config.Args.DeepClone();
        }

        if (withRuntimeConfig && _config.RuntimeConfig is { } runtimeConfig)
        {
            var merged = request["runtimeConfig"] as JsonObject ?? new JsonObject();
            request.Remove("runtimeConfig");
            foreach (var (key, value) in runtimeConfig)
            {
                if (key != CapabilityNames.PortMappings)
                {
                    merged[key] = value?.DeepClone();
                }
            }

            if (merged.Count > 0)
            {
                request["runtimeConfig"] = merged;
            }
        }

        request.Remove("prevResult");
        if (prevResult is not null)
        {
            try
            {
                request["prevResult"] = prevResult.ConvertTo(Version).ToJson();
            }
            catch (CniResultException)
            {
                // A result the delegate's version cannot carry: it gets none, as after a lost cache.
            }
        }

        return request;
    }

    private PluginOutput Execute(PluginCommand command, JsonObject request) => ExecuteAsync(command, request).GetAwaiter().GetResult();

    // The executor starts the process synchronously, before its first await: so does this.
    private async Task<PluginOutput> ExecuteAsync(PluginCommand command, JsonObject request)
    {
        var attachment = command is PluginCommand.Add or PluginCommand.Del or PluginCommand.Check;
        var invocation = new PluginInvocation
        {
            PluginPath = Path,
            Command = command,
            ContainerId = attachment ? _call.ContainerId : null,
            NetNsPath = attachment ? _call.NetNs : null,
            IfName = attachment ? _call.IfName : null,
            CniPath = _call.CniPath,
            CniArgs = attachment ? _call.Args : [],
            Stdin = Encoding.UTF8.GetBytes(request.ToJsonString()),
        };
        try
        {
            return await _executor.ExecuteAsync(invocation).ConfigureAwait(false);
        }
        catch (CniPluginException e)
        {
            throw new PortMapperException(
                MesosErrorCodes.DelegateFailure,
                $"Could not execute the delegate plugin '{Path}' for {command.ToWire()} command: {e.Message}",
                e.Error is { } error ? $"delegate error code {error.Code}: {error.Msg}" : null,
                e);
        }
    }

    private PortMapperException Failure(PluginCommand command, string detail) =>
        new(MesosErrorCodes.DelegateFailure, $"The delegate plugin '{Path}' for {command.ToWire()} command: {detail}");
}
