using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Mesos;
using NetIsolator.Linux;

namespace NetIsolator.Isolators.Cni;

/// <summary>
/// What prepare decided for a container with networks of its own, checkpointed as <c>ROOT/&lt;CID&gt;/plan.json</c>
/// by isolate before anything exists in the kernel for the container, so that a restarted agent knows the networks,
/// interfaces and NetworkInfos (status after recovery comes from here, also for orphans, which Mesos could not report).
/// </summary>
/// <remarks>Format: <c>{"version":1,"container_id":"p.c","hostname":"h"?,"networks":[{"name":..,"ifname":"eth0","network_info":{Mesos JSON}}]}</c>.</remarks>
public sealed record ContainerPlan(string ContainerKey, string? Hostname, IReadOnlyList<PlannedNetwork> Networks)
{
    public const int Version = 1;

    private static readonly JsonParser ProtoParser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    public byte[] ToJsonBytes()
    {
        var json = new JsonObject
        {
            ["version"] = Version,
            ["container_id"] = ContainerKey,
        };
        if (Hostname is not null)
        {
            json["hostname"] = Hostname;
        }

        json["networks"] = new JsonArray([.. Networks.Select(n => (JsonNode)new JsonObject
        {
            ["name"] = n.Name,
            ["ifname"] = n.IfName,
            ["network_info"] = CniDecisions.NetworkInfoJson(n.NetworkInfo),
        })]);
        return Encoding.UTF8.GetBytes(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <exception cref="FormatException">Not a plan of this version, or a field is missing or of the wrong type.</exception>
    public static ContainerPlan Parse(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var json = JsonNode.Parse(bytes) as JsonObject ?? throw new FormatException("not a JSON object");
            var version = json["version"]?.GetValue<int>() ?? throw new FormatException("\"version\" is missing");
            if (version != Version)
            {
                throw new FormatException($"unsupported \"version\" {version}");
            }

            var key = json["container_id"]?.GetValue<string>() ?? throw new FormatException("\"container_id\" is missing");
            var hostname = json["hostname"]?.GetValue<string>();
            var networks = new List<PlannedNetwork>();
            foreach (var node in json["networks"] as JsonArray ?? throw new FormatException("\"networks\" is missing"))
            {
                var entry = node as JsonObject ?? throw new FormatException("a \"networks\" entry is not an object");
                var name = entry["name"]?.GetValue<string>() ?? throw new FormatException("a network has no \"name\"");
                var ifName = entry["ifname"]?.GetValue<string>() ?? throw new FormatException($"network '{name}' has no \"ifname\"");
                var info = entry["network_info"] is JsonObject infoJson
                    ? ProtoParser.Parse<NetworkInfo>(infoJson.ToJsonString())
                    : new NetworkInfo { Name = name };
                networks.Add(new PlannedNetwork(name, ifName, info));
            }

            return new ContainerPlan(key, hostname, networks);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or InvalidProtocolBufferException)
        {
            throw new FormatException(e.Message, e);
        }
    }

    /// <summary>Writes the plan atomically (see <see cref="AtomicFile"/>), readable by root only.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Save(string path, Durability durability) =>
        AtomicFile.Write(path, ToJsonBytes(), UnixFileMode.UserRead | UnixFileMode.UserWrite, durability);

    /// <exception cref="FormatException">The file is not a valid plan.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static ContainerPlan Load(string path) => Parse(File.ReadAllBytes(path));
}
