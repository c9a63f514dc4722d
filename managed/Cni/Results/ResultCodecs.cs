using System.Net;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Versions;

namespace NetIsolator.Cni.Results;

/// <summary>Reads and writes one JSON shape of the result (the shape is shared by several spec versions).</summary>
internal interface IResultCodec
{
    CniResult Read(JsonObject json, CniVersion version, JsonFields fields);

    JsonObject Write(CniResult result);
}

/// <summary>
/// Which JSON shape each spec version uses. 0.1.0/0.2.0 print <c>ip4</c>/<c>ip6</c>; 0.3.0–0.4.0 print
/// <c>interfaces</c>/<c>ips</c> with <c>ips[].version</c>; 1.0.0 drops that field; 1.1.0 adds interface and route fields.
/// </summary>
internal static class ResultCodecs
{
    private static readonly Dictionary<CniVersion, IResultCodec> Codecs = [];

    static ResultCodecs()
    {
        Register([CniVersion.V010, CniVersion.V020], new LegacyResultCodec());
        Register([CniVersion.V030, CniVersion.V031, CniVersion.V040], new ListResultCodec(withIpVersion: true));
        Register([CniVersion.V100, CniVersion.V110], new ListResultCodec(withIpVersion: false));
    }

    private static void Register(CniVersion[] versions, IResultCodec codec)
    {
        foreach (var version in versions)
        {
            Codecs.Add(version, codec);
        }
    }

    public static IResultCodec For(CniVersion version) =>
        Codecs.TryGetValue(version, out var codec)
            ? codec
            : throw new CniResultException(
                $"result: cniVersion \"{version}\" is not supported (supported: {string.Join(", ", CniVersion.Supported)})");

    // Shared pieces.

    public static IpPrefix ReadPrefix(JsonObject obj, string key, JsonFields fields)
    {
        var text = fields.ReqString(obj, key);
        return IpPrefix.TryParse(text, out var prefix, out var problem) ? prefix : throw fields.Error(key, problem);
    }

    public static IPAddress? ReadIp(JsonObject obj, string key, JsonFields fields)
    {
        var text = fields.OptString(obj, key);
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        return CniIp.TryParse(text, out var address) ? address : throw fields.Error(key, $"invalid IP address \"{text}\"");
    }

    public static CniDns ReadDns(JsonObject result, JsonFields fields)
    {
        var dns = fields.OptObject(result, "dns");
        if (dns is null)
        {
            return CniDns.Empty;
        }

        var scope = fields.Child("dns");
        return new CniDns
        {
            Nameservers = scope.StringArray(dns, "nameservers"),
            Domain = scope.OptString(dns, "domain"),
            Search = scope.StringArray(dns, "search"),
            Options = scope.StringArray(dns, "options"),
        };
    }

    public static void WriteDns(JsonObject target, CniDns dns)
    {
        if (dns.IsEmpty)
        {
            return;
        }

        var json = new JsonObject();
        AddStrings(json, "nameservers", dns.Nameservers);
        AddIfSet(json, "domain", dns.Domain);
        AddStrings(json, "search", dns.Search);
        AddStrings(json, "options", dns.Options);
        target["dns"] = json;
    }

    public static CniRoute ReadRoute(JsonObject route, JsonFields fields, bool withV11Fields) => new(ReadPrefix(route, "dst", fields))
    {
        Gateway = ReadIp(route, "gw", fields),
        Mtu = withV11Fields ? fields.OptInt(route, "mtu", 0) : null,
        AdvMss = withV11Fields ? fields.OptInt(route, "advmss", 0) : null,
        Priority = withV11Fields ? fields.OptInt(route, "priority", 0) : null,
        Table = withV11Fields ? fields.OptInt(route, "table", 0) : null,
        Scope = withV11Fields ? fields.OptInt(route, "scope", 0) : null,
    };

    public static JsonObject WriteRoute(CniRoute route, bool withV11Fields)
    {
        var json = new JsonObject { ["dst"] = route.Destination.ToString() };
        AddIfSet(json, "gw", route.Gateway?.ToString());
        if (withV11Fields)
        {
            AddIfSet(json, "mtu", route.Mtu);
            AddIfSet(json, "advmss", route.AdvMss);
            AddIfSet(json, "priority", route.Priority);
            AddIfSet(json, "table", route.Table);
            AddIfSet(json, "scope", route.Scope);
        }

        return json;
    }

    public static void AddIfSet(JsonObject json, string key, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            json[key] = value;
        }
    }

    public static void AddIfSet(JsonObject json, string key, int? value)
    {
        if (value is { } number)
        {
            json[key] = number;
        }
    }

    private static void AddStrings(JsonObject json, string key, IReadOnlyList<string> values)
    {
        if (values.Count > 0)
        {
            json[key] = new JsonArray([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);
        }
    }
}

/// <summary>The 0.1.0/0.2.0 shape: <c>{cniVersion, ip4: {ip, gateway, routes}, ip6: {…}, dns}</c>.</summary>
internal sealed class LegacyResultCodec : IResultCodec
{
    public CniResult Read(JsonObject json, CniVersion version, JsonFields fields)
    {
        var ips = new List<CniIpConfig>();
        var routes = new List<CniRoute>();
        foreach (var (key, wantV4) in new[] { ("ip4", true), ("ip6", false) })
        {
            var block = fields.OptObject(json, key);
            if (block is null)
            {
                continue;
            }

            var scope = fields.Child(key);
            var address = ResultCodecs.ReadPrefix(block, "ip", scope);
            if (address.IsIPv4 != wantV4)
            {
                throw scope.Error("ip", $"{address} is not an {(wantV4 ? "IPv4" : "IPv6")} address");
            }

            ips.Add(new CniIpConfig(address) { Gateway = ResultCodecs.ReadIp(block, "gateway", scope) });
            routes.AddRange(scope.ObjectArray(block, "routes", (r, s) => ResultCodecs.ReadRoute(r, s, withV11Fields: false)));
        }

        return new CniResult { CniVersion = version, Ips = ips, Routes = routes, Dns = ResultCodecs.ReadDns(json, fields) };
    }

    public JsonObject Write(CniResult result)
    {
        var json = new JsonObject { ["cniVersion"] = result.CniVersion.ToString() };
        var v4 = result.Ips.Where(ip => ip.IsIPv4).ToList();
        var v6 = result.Ips.Where(ip => !ip.IsIPv4).ToList();
        if (v4.Count > 1 || v6.Count > 1 || result.Interfaces.Count > 0)
        {
            throw new CniResultException(
                $"result (cniVersion {result.CniVersion}): ips: version {result.CniVersion} holds at most one IPv4 and one "
                + "IPv6 address and no interfaces; convert the result with ConvertTo first");
        }

        foreach (var route in result.Routes)
        {
            if ((route.Destination.IsIPv4 ? v4 : v6).Count == 0)
            {
                throw new CniResultException(
                    $"result (cniVersion {result.CniVersion}): routes: route to {route.Destination} has no "
                    + $"{(route.Destination.IsIPv4 ? "ip4" : "ip6")} block to live in");
            }
        }

        foreach (var (key, ips, isV4) in new[] { ("ip4", v4, true), ("ip6", v6, false) })
        {
            if (ips.Count == 0)
            {
                continue;
            }

            var block = new JsonObject { ["ip"] = ips[0].Address.ToString() };
            ResultCodecs.AddIfSet(block, "gateway", ips[0].Gateway?.ToString());
            var routes = result.Routes.Where(r => r.Destination.IsIPv4 == isV4).ToList();
            if (routes.Count > 0)
            {
                block["routes"] = new JsonArray([.. routes.Select(r => (JsonNode)ResultCodecs.WriteRoute(r, withV11Fields: false))]);
            }

            json[key] = block;
        }

        ResultCodecs.WriteDns(json, result.Dns);
        return json;
    }
}

/// <summary>
/// The 0.3.0-and-later shape: <c>{cniVersion, interfaces, ips, routes, dns}</c>. 0.3.x/0.4.0 add <c>ips[].version</c>
/// ("4"/"6"); 1.1.0 adds interface <c>mtu</c>/<c>socketPath</c>/<c>pciID</c> and route <c>mtu</c>/<c>advmss</c>/
/// <c>priority</c>/<c>table</c>/<c>scope</c>, which are neither read nor written at lower versions.
/// </summary>
internal sealed class ListResultCodec(bool withIpVersion) : IResultCodec
{
    public CniResult Read(JsonObject json, CniVersion version, JsonFields fields)
    {
        var v11 = version >= CniVersion.V110;
        var interfaces = fields.ObjectArray(json, "interfaces", (obj, scope) => new CniInterface(scope.ReqString(obj, "name"))
        {
            Mac = scope.OptString(obj, "mac"),
            Mtu = v11 ? scope.OptInt(obj, "mtu", 0) : null,
            Sandbox = scope.OptString(obj, "sandbox"),
            SocketPath = v11 ? scope.OptString(obj, "socketPath") : null,
            PciId = v11 ? scope.OptString(obj, "pciID") : null,
        });
        var ips = fields.ObjectArray(json, "ips", (obj, scope) =>
        {
            var address = ResultCodecs.ReadPrefix(obj, "address", scope);
            if (withIpVersion && scope.OptString(obj, "version") is { } family && family is not ("4" or "6"))
            {
                throw scope.Error("version", $"expected \"4\" or \"6\", got \"{family}\"");
            }

            return new CniIpConfig(address)
            {
                Gateway = ResultCodecs.ReadIp(obj, "gateway", scope),
                Interface = scope.OptInt(obj, "interface", 0),
            };
        });
        var routes = fields.ObjectArray(json, "routes", (obj, scope) => ResultCodecs.ReadRoute(obj, scope, v11));
        return new CniResult
        {
            CniVersion = version,
            Interfaces = interfaces,
            Ips = ips,
            Routes = routes,
            Dns = ResultCodecs.ReadDns(json, fields),
        };
    }

    public JsonObject Write(CniResult result)
    {
        var v11 = result.CniVersion >= CniVersion.V110;
        var json = new JsonObject { ["cniVersion"] = result.CniVersion.ToString() };
        if (result.Interfaces.Count > 0)
        {
            json["interfaces"] = new JsonArray([.. result.Interfaces.Select(i =>
            {
                var item = new JsonObject { ["name"] = i.Name };
                ResultCodecs.AddIfSet(item, "mac", i.Mac);
                if (v11)
                {
                    ResultCodecs.AddIfSet(item, "mtu", i.Mtu);
                }

                ResultCodecs.AddIfSet(item, "sandbox", i.Sandbox);
                if (v11)
                {
                    ResultCodecs.AddIfSet(item, "socketPath", i.SocketPath);
                    ResultCodecs.AddIfSet(item, "pciID", i.PciId);
                }

                return (JsonNode)item;
            })]);
        }

        if (result.Ips.Count > 0)
        {
            json["ips"] = new JsonArray([.. result.Ips.Select(ip =>
            {
                var item = new JsonObject();
                if (withIpVersion)
                {
                    item["version"] = ip.IsIPv4 ? "4" : "6";
                }

                ResultCodecs.AddIfSet(item, "interface", ip.Interface);
                item["address"] = ip.Address.ToString();
                ResultCodecs.AddIfSet(item, "gateway", ip.Gateway?.ToString());
                return (JsonNode)item;
            })]);
        }

        if (result.Routes.Count > 0)
        {
            json["routes"] = new JsonArray([.. result.Routes.Select(r => (JsonNode)ResultCodecs.WriteRoute(r, v11))]);
        }

        ResultCodecs.WriteDns(json, result.Dns);
        return json;
    }
}
