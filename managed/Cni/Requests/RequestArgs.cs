using System.Text.Json.Nodes;

namespace NetIsolator.Cni.Requests;

/// <summary>
/// Builders for the <c>args</c> namespaces the runtime fills: Mesos's <c>args["org.apache.mesos"].network_info</c>
/// and the conventional <c>args.cni.labels</c> / <c>args.cni.ips</c>.
/// </summary>
public static class RequestArgs
{
    /// <summary>The key Mesos reserves in <c>args</c>; an operator config must not set it.</summary>
    public const string MesosKey = "org.apache.mesos";

    public const string CniKey = "cni";

    /// <summary><c>{"org.apache.mesos": {"network_info": &lt;NetworkInfo JSON&gt;}}</c> (the NetworkInfo is copied).</summary>
    public static JsonObject MesosNetworkInfo(JsonObject networkInfo) =>
        new() { [MesosKey] = new JsonObject { ["network_info"] = networkInfo.DeepClone() } };

    /// <summary><c>{"cni": {"labels": [{"key": k, "value": v}, …], "ips": [...]?}}</c>.</summary>
    public static JsonObject CniLabels(IEnumerable<KeyValuePair<string, string>> labels, IEnumerable<string>? ips = null)
    {
        var cni = new JsonObject
        {
            ["labels"] = new JsonArray([.. labels.Select(l => (JsonNode)new JsonObject { ["key"] = l.Key, ["value"] = l.Value })]),
        };
        if (ips is not null)
        {
            cni["ips"] = DnsCapability.Strings(ips);
        }

        return new JsonObject { [CniKey] = cni };
    }

    /// <summary>Merges several <c>args</c> objects (later top-level keys win); the inputs are copied.</summary>
    public static JsonObject Combine(params JsonObject[] parts)
    {
        var merged = new JsonObject();
        foreach (var part in parts)
        {
            foreach (var (key, value) in part)
            {
                merged[key] = value?.DeepClone();
            }
        }

        return merged;
    }
}
