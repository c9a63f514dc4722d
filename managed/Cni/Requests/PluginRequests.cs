using System.Text;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Config;
using NetIsolator.Cni.Invocation;
using NetIsolator.Cni.Results;
using NetIsolator.Cni.Versions;

namespace NetIsolator.Cni.Requests;

/// <summary>What the runtime supplies for one attachment besides the config.</summary>
public sealed class RuntimeInputs
{
    public static RuntimeInputs None { get; } = new();

    /// <summary>Capability arguments; a plugin gets those it declares true, under <c>runtimeConfig</c>.</summary>
    public CapabilityArgs Capabilities { get; init; } = CapabilityArgs.Empty;

    /// <summary>
    /// Merged into every plugin's <c>args</c>. Per top-level key: when both the config and these args hold an object,
    /// the two objects are merged with these values winning; otherwise these args replace the config's value.
    /// </summary>
    public JsonObject? Args { get; init; }

    /// <summary>
    /// Top-level <c>args</c> keys the runtime owns: a config that already sets one is refused (Mesos refuses
    /// <c>org.apache.mesos</c> in operator configs).
    /// </summary>
    public IReadOnlyCollection<string> ReservedArgsKeys { get; init; } = [RequestArgs.MesosKey];
}

/// <summary>A <c>(containerID, ifname)</c> pair, as GC's <c>cni.dev/valid-attachments</c> lists them.</summary>
public sealed record CniAttachment(string ContainerId, string IfName);

/// <summary>A request that cannot be built: the message names the network, the plugin and the step.</summary>
public sealed class CniRequestException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Builds each plugin's stdin (libcni buildOneConfig + injectRuntimeConfig), starting from the plugin's JSON as
/// written so unknown fields reach the plugin:
/// <list type="number">
/// <item><c>cniVersion</c> and <c>name</c> from the list (first in the object);</item>
/// <item>the plugin's own fields, without <c>capabilities</c> (never sent) and without a stale <c>prevResult</c>;</item>
/// <item><c>runtimeConfig</c>: the config's own object, plus {capability: value} for each capability the plugin
///   declares true and the runtime supplies;</item>
/// <item><c>args</c>: the config's, merged with the runtime's;</item>
/// <item><c>prevResult</c>, converted to the list's version: ADD from the second plugin on, DEL from 0.4.0 on,
///   CHECK always (it needs 0.4.0).</item>
/// </list>
/// </summary>
public static class PluginRequests
{
    /// <summary>GC's list of live attachments (1.1.0), and the alias libcni also sends (cni#1101).</summary>
    public const string ValidAttachmentsKey = "cni.dev/valid-attachments";

    public const string AttachmentsAliasKey = "cni.dev/attachments";

    /// <summary>
    /// The stdin of plugin <paramref name="pluginIndex"/> for ADD, DEL or CHECK. For ADD pass the previous plugin's
    /// result as <paramref name="prevResult"/> (none for the first); for DEL and CHECK the cached final ADD result.
    /// </summary>
    public static JsonObject BuildJson(
        PluginCommand command, NetworkConfigList list, int pluginIndex, RuntimeInputs? inputs = null, CniResult? prevResult = null)
    {
        var plugin = PluginAt(list, pluginIndex);
        var step = $"network \"{list.Name}\" {plugin}: building the {command.ToWire()} request";
        CniResult? inject;
        switch (command)
        {
            case PluginCommand.Add:
                if (pluginIndex == 0 && prevResult is not null)
                {
                    throw new CniRequestException($"{step}: the first plugin of an ADD gets no prevResult");
                }

                inject = prevResult;
                break;
            case PluginCommand.Del:
                inject = CniFeatures.DelReceivesPrevResult(list.CniVersion) ? prevResult : null;
                break;
            case PluginCommand.Check:
                if (!CniFeatures.SupportsCheck(list.CniVersion))
                {
                    throw new CniRequestException($"{step}: cniVersion {list.CniVersion} has no CHECK (needs 0.4.0 or later)");
                }

                if (list.DisableCheck)
                {
                    throw new CniRequestException($"{step}: the list sets disableCheck");
                }

                inject = prevResult ?? throw new CniRequestException($"{step}: CHECK needs the cached ADD result as prevResult");
                break;
            default:
                throw new CniRequestException(
                    $"{step}: use {nameof(BuildGcJson)}, {nameof(BuildStatusJson)} or {nameof(PluginVersionInfo)}.{nameof(PluginVersionInfo.BuildRequest)}");
        }

        var request = Start(list, plugin);
        var runtimeInputs = inputs ?? RuntimeInputs.None;
        AddRuntimeConfig(request, plugin, runtimeInputs.Capabilities);
        MergeArgs(request, plugin, runtimeInputs, step);
        if (inject is not null)
        {
            CniResult converted;
            try
            {
                converted = inject.ConvertTo(list.CniVersion);
            }
            catch (CniResultException e)
            {
                throw new CniRequestException($"{step}: prevResult: {e.Message}", e);
            }

            request["prevResult"] = converted.ToJson();
        }

        return request;
    }

    /// <summary><see cref="BuildJson"/> as the UTF-8 bytes written to the plugin's stdin.</summary>
    public static byte[] Build(
        PluginCommand command, NetworkConfigList list, int pluginIndex, RuntimeInputs? inputs = null, CniResult? prevResult = null) =>
        ToBytes(BuildJson(command, list, pluginIndex, inputs, prevResult));

    /// <summary>
    /// GC (1.1.0): the plugin's config (no runtimeConfig, no prevResult) plus the attachments still in use under both
    /// <see cref="ValidAttachmentsKey"/> and <see cref="AttachmentsAliasKey"/>.
    /// </summary>
    public static JsonObject BuildGcJson(NetworkConfigList list, int pluginIndex, IEnumerable<CniAttachment> validAttachments)
    {
        var plugin = PluginAt(list, pluginIndex);
        var step = $"network \"{list.Name}\" {plugin}: building the GC request";
        if (!CniFeatures.SupportsGc(list.CniVersion))
        {
            throw new CniRequestException($"{step}: cniVersion {list.CniVersion} has no GC (needs 1.1.0 or later)");
        }

        if (list.DisableGc)
        {
            throw new CniRequestException($"{step}: the list sets disableGC");
        }

        var request = Start(list, plugin);
        var attachments = validAttachments.ToList();
        request[ValidAttachmentsKey] = AttachmentsJson(attachments);
        request[AttachmentsAliasKey] = AttachmentsJson(attachments);
        return request;
    }

    public static byte[] BuildGc(NetworkConfigList list, int pluginIndex, IEnumerable<CniAttachment> validAttachments) =>
        ToBytes(BuildGcJson(list, pluginIndex, validAttachments));

    /// <summary>STATUS (1.1.0): the plugin's config with the list's name and version, nothing injected.</summary>
    public static JsonObject BuildStatusJson(NetworkConfigList list, int pluginIndex)
    {
        var plugin = PluginAt(list, pluginIndex);
        if (!CniFeatures.SupportsStatus(list.CniVersion))
        {
            throw new CniRequestException(
                $"network \"{list.Name}\" {plugin}: building the STATUS request: cniVersion {list.CniVersion} has no STATUS (needs 1.1.0 or later)");
        }

        return Start(list, plugin);
    }

    public static byte[] BuildStatus(NetworkConfigList list, int pluginIndex) => ToBytes(BuildStatusJson(list, pluginIndex));

    private static PluginConfig PluginAt(NetworkConfigList list, int pluginIndex) =>
        pluginIndex >= 0 && pluginIndex < list.Plugins.Count
            ? list.Plugins[pluginIndex]
            : throw new ArgumentOutOfRangeException(
                nameof(pluginIndex), pluginIndex, $"network \"{list.Name}\" has {list.Plugins.Count} plugin(s)");

    private static JsonObject Start(NetworkConfigList list, PluginConfig plugin)
    {
        var request = new JsonObject
        {
            ["cniVersion"] = list.CniVersion.ToString(),
            ["name"] = list.Name,
        };
        foreach (var (key, value) in plugin.Raw)
        {
            if (key is "cniVersion" or "name" or "capabilities" or "prevResult")
            {
                continue;
            }

            request[key] = value?.DeepClone();
        }

        return request;
    }

    private static void AddRuntimeConfig(JsonObject request, PluginConfig plugin, CapabilityArgs capabilities)
    {
        var supplied = new List<(string Name, JsonNode? Value)>();
        foreach (var name in plugin.Capabilities.Keys)
        {
            if (plugin.HasCapability(name) && capabilities.TryGet(name, out var value))
            {
                supplied.Add((name, value));
            }
        }

        if (supplied.Count == 0)
        {
            return;
        }

        var runtimeConfig = request["runtimeConfig"] as JsonObject ?? new JsonObject();
        request.Remove("runtimeConfig");
        foreach (var (name, value) in supplied)
        {
            runtimeConfig[name] = value;
        }

        request["runtimeConfig"] = runtimeConfig;
    }

    private static void MergeArgs(JsonObject request, PluginConfig plugin, RuntimeInputs inputs, string step)
    {
        if (inputs.Args is not { Count: > 0 } runtimeArgs)
        {
            return;
        }

        JsonObject args;
        switch (request["args"])
        {
            case null:
                args = new JsonObject();
                break;
            case JsonObject existing:
                args = existing;
                break;
            default:
                throw new CniRequestException($"{step}: \"args\": expected an object, got {JsonFields.KindOf(request["args"])}");
        }

        request.Remove("args");
        foreach (var (key, value) in runtimeArgs)
        {
            if (args.ContainsKey(key) && inputs.ReservedArgsKeys.Contains(key))
            {
                throw new CniRequestException(
                    $"{step}: args: \"{key}\" is reserved for the runtime and must not be set in the config");
            }

            if (args[key] is JsonObject fromConfig && value is JsonObject fromRuntime)
            {
                foreach (var (innerKey, innerValue) in fromRuntime)
                {
                    fromConfig[innerKey] = innerValue?.DeepClone();
                }
            }
            else
            {
                args[key] = value?.DeepClone();
            }
        }

        request["args"] = args;
    }

    private static JsonArray AttachmentsJson(IEnumerable<CniAttachment> attachments) =>
        new([.. attachments.Select(a => (JsonNode)new JsonObject { ["containerID"] = a.ContainerId, ["ifname"] = a.IfName })]);

    private static byte[] ToBytes(JsonObject json) => Encoding.UTF8.GetBytes(json.ToJsonString());
}
