using System.Net;
using System.Text.Json.Nodes;
using Mesos;
using Mesos.Slave;
using NetIsolator.Cni.Requests;
using NetIsolator.Cni.Results;

namespace NetIsolator.Isolators.Cni;

/// <summary>What a container gets from the CNI isolator at launch (Mesos §2.2).</summary>
public enum NamespaceMode
{
    /// <summary>Host network: no namespaces, no launch info.</summary>
    HostNetwork,

    /// <summary>CNI networks of its own: new NET, UTS and MNT namespaces.</summary>
    Own,

    /// <summary>Nested, joining the top-level container's CNI networks: enters NET and UTS, gets a new MNT.</summary>
    JoinParent,

    /// <summary>A DEBUG container of a CNI container: enters NET and UTS, shares the parent's mounts.</summary>
    Debug,
}

/// <summary>One network of a container's plan: the network, its interface, and the framework's NetworkInfo.</summary>
public sealed record PlannedNetwork(string Name, string IfName, NetworkInfo NetworkInfo);

/// <summary>The pure decisions of the CNI isolator; no I/O, unit-tested without root.</summary>
public static class CniDecisions
{
    public const int CloneNewNs = 0x00020000;
    public const int CloneNewUts = 0x04000000;
    public const int CloneNewNet = 0x40000000;

    /// <summary>Which namespaces the container gets.</summary>
    /// <param name="isNested">The container ID has a parent.</param>
    /// <param name="isDebug"><c>container_class == DEBUG</c>.</param>
    /// <param name="hasOwnNetworks">Its ContainerInfo names at least one network (and it is not DEBUG).</param>
    /// <param name="rootHasNetworks">Its top-level container is known to have CNI networks.</param>
    public static NamespaceMode ChooseNamespaces(bool isNested, bool isDebug, bool hasOwnNetworks, bool rootHasNetworks)
    {
        var joinsParent = isDebug || !hasOwnNetworks;
        if (isNested && joinsParent)
        {
            return !rootHasNetworks ? NamespaceMode.HostNetwork : isDebug ? NamespaceMode.Debug : NamespaceMode.JoinParent;
        }

        return hasOwnNetworks ? NamespaceMode.Own : NamespaceMode.HostNetwork;
    }

    /// <summary>Whether the config asks to join networks of its own (a non-DEBUG container with named NetworkInfos).</summary>
    public static bool HasOwnNetworks(ContainerConfig config) =>
        !(config.HasContainerClass && config.ContainerClass == ContainerClass.Debug)
        && config.ContainerInfo is { } info
        && info.NetworkInfos.Any(n => n.HasName && n.Name.Length > 0);

    /// <summary>The launch info for <paramref name="mode"/>, or null for the host network.</summary>
    public static ContainerLaunchInfo? LaunchInfo(NamespaceMode mode)
    {
        if (mode == NamespaceMode.HostNetwork)
        {
            return null;
        }

        var info = new ContainerLaunchInfo
        {
            // So that Mesos processes in the container bind to the CNI address (MESOS-3553).
            Environment = new Mesos.Environment
            {
                Variables = { new Mesos.Environment.Types.Variable { Name = "LIBPROCESS_IP", Value = "0.0.0.0" } },
            },
        };
        switch (mode)
        {
            case NamespaceMode.Own:
                info.CloneNamespaces.Add([CloneNewNs, CloneNewNet, CloneNewUts]);
                break;
            case NamespaceMode.JoinParent:
                info.EnterNamespaces.Add([CloneNewNet, CloneNewUts]);
                info.CloneNamespaces.Add(CloneNewNs);
                break;
            case NamespaceMode.Debug:
                info.EnterNamespaces.Add([CloneNewNet, CloneNewUts]);
                break;
        }

        return info;
    }

    /// <summary>
    /// The named networks in NetworkInfo order with interfaces eth0, eth1, … (unnamed NetworkInfos are skipped and
    /// use up no index). A name given twice is an error (Mesos's message).
    /// </summary>
    public static IReadOnlyList<PlannedNetwork> PlanNetworks(IEnumerable<NetworkInfo> networkInfos)
    {
        var planned = new List<PlannedNetwork>();
        foreach (var info in networkInfos)
        {
            if (!info.HasName || info.Name.Length == 0)
            {
                continue;
            }

            if (planned.Any(p => p.Name == info.Name))
            {
                throw new ArgumentException($"Attempted to join CNI network '{info.Name}' multiple times");
            }

            planned.Add(new PlannedNetwork(info.Name, InterfaceName(planned.Count), info.Clone()));
        }

        return planned;
    }

    public static string InterfaceName(int index) => $"eth{index}";

    /// <summary>
    /// The NetworkInfo as Mesos's JSON (proto field names, fields in declaration order, only set fields, except that
    /// an IP address's <c>protocol</c> is always written because it has a proto default): what plugins get under
    /// <c>args["org.apache.mesos"].network_info</c>.
    /// </summary>
    public static JsonObject NetworkInfoJson(NetworkInfo info)
    {
        var json = new JsonObject();
        if (info.IpAddresses.Count > 0)
        {
            json["ip_addresses"] = new JsonArray([.. info.IpAddresses.Select(ip =>
            {
                var entry = new JsonObject();
                if (ip.HasIpAddress)
                {
                    entry["ip_address"] = ip.IpAddress;
                }

                entry["protocol"] = ip.Protocol == NetworkInfo.Types.Protocol.Ipv6 ? "IPv6" : "IPv4";
                return (JsonNode)entry;
            })]);
        }

        if (info.HasName)
        {
            json["name"] = info.Name;
        }

        if (info.Groups.Count > 0)
        {
            json["groups"] = new JsonArray([.. info.Groups.Select(g => (JsonNode?)JsonValue.Create(g))]);
        }

        if (info.Labels is { } labels)
        {
            json["labels"] = new JsonObject
            {
                ["labels"] = new JsonArray([.. labels.Labels_.Select(l =>
                {
                    var label = new JsonObject { ["key"] = l.Key };
                    if (l.HasValue)
                    {
                        label["value"] = l.Value;
                    }

                    return (JsonNode)label;
                })]),
            };
        }

        if (info.PortMappings.Count > 0)
        {
            json["port_mappings"] = new JsonArray([.. info.PortMappings.Select(p =>
            {
                var mapping = new JsonObject { ["host_port"] = p.HostPort, ["container_port"] = p.ContainerPort };
                if (p.HasProtocol)
                {
                    mapping["protocol"] = p.Protocol;
                }

                return (JsonNode)mapping;
            })]);
        }

        return json;
    }

    /// <summary>The standard <c>portMappings</c> capability entries for the NetworkInfo's port mappings.</summary>
    public static IReadOnlyList<PortMapping> PortMappings(NetworkInfo info) =>
        [.. info.PortMappings.Select(p => new PortMapping(
            checked((int)p.HostPort), checked((int)p.ContainerPort), p.HasProtocol && p.Protocol.Length > 0 ? p.Protocol.ToLowerInvariant() : "tcp"))];

    /// <summary>What a plugin gets for this network: Mesos's args, plus the portMappings capability if any.</summary>
    public static RuntimeInputs Inputs(NetworkInfo info)
    {
        var mappings = PortMappings(info);
        return new RuntimeInputs
        {
            Args = RequestArgs.MesosNetworkInfo(NetworkInfoJson(info)),
            Capabilities = mappings.Count > 0 ? CapabilityArgs.Empty.WithPortMappings(mappings) : CapabilityArgs.Empty,
        };
    }

    /// <summary>
    /// The status entry of one network: the framework's NetworkInfo (name, labels, groups, port mappings) with its
    /// <c>ip_addresses</c> replaced by the container-side addresses of the result, without prefix length (Mesos keeps
    /// the IPv6 prefix; that is a known bug, §7.3, not copied). Addresses on host-side interfaces are skipped.
    /// </summary>
    public static NetworkInfo StatusNetworkInfo(PlannedNetwork network, CniResult? result)
    {
        var info = network.NetworkInfo.Clone();
        info.IpAddresses.Clear();
        if (!info.HasName)
        {
            info.Name = network.Name;
        }

        foreach (var ip in result?.Ips ?? [])
        {
            if (ip.Interface is int index && index >= 0 && index < result!.Interfaces.Count
                && string.IsNullOrEmpty(result.Interfaces[index].Sandbox))
            {
                continue;
            }

            var address = ip.Address.Address;
            if (address.IsIPv4MappedToIPv6)
            {
                address = address.MapToIPv4();
            }

            info.IpAddresses.Add(new NetworkInfo.Types.IPAddress
            {
                Protocol = ip.IsIPv4 ? NetworkInfo.Types.Protocol.Ipv4 : NetworkInfo.Types.Protocol.Ipv6,
                IpAddress = ip.IsIPv4 ? address.ToString() : new IPAddress(address.GetAddressBytes()).ToString(),
            });
        }

        return info;
    }
}
