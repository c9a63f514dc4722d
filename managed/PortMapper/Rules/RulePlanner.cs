using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NetIsolator.Cni.Requests;
using NetIsolator.PortMapper.Config;

namespace NetIsolator.PortMapper.Rules;

public enum IpFamily
{
    V4,
    V6,
}

/// <summary>A container's address in one family, with the prefix of its subnet (from the delegate's result).</summary>
public sealed record ContainerAddress(IPAddress Address, int PrefixLength)
{
    public IpFamily Family => Address.AddressFamily == AddressFamily.InterNetwork ? IpFamily.V4 : IpFamily.V6;

    /// <summary>The subnet the address is in, e.g. <c>10.1.0.0/24</c> for <c>10.1.0.5/24</c>.</summary>
    public string Subnet
    {
        get
        {
            var bytes = Address.GetAddressBytes();
            for (var bit = PrefixLength; bit < bytes.Length * 8; bit++)
            {
                bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
            }

            return string.Create(CultureInfo.InvariantCulture, $"{new IPAddress(bytes)}/{PrefixLength}");
        }
    }

    public string Host => RulePlanner.HostPrefix(Address);
}

/// <summary>The per-network part of the layout: the chain names and the options every rule depends on.</summary>
public sealed record NetworkLayout(string Chain, bool Snat, IReadOnlyList<string> ExcludeDevices)
{
    private const string MasqSuffix = "-MASQ";

    public static NetworkLayout From(PortMapperConfig config) => new(config.Chain, config.Snat, config.ExcludeDevices);

    /// <summary>
    /// The nat POSTROUTING sub-chain of the masquerade rules: <c>&lt;chain&gt;-MASQ</c>, the chain cut to fit 28
    /// characters. Two networks whose chains share their first 23 characters share it; that is harmless, as its rules
    /// are per container and it is removed only once empty.
    /// </summary>
    public string MasqChain => (Chain.Length + MasqSuffix.Length <= PortMapperConfig.MaxChainLength
        ? Chain
        : Chain[..(PortMapperConfig.MaxChainLength - MasqSuffix.Length)].TrimEnd('-')) + MasqSuffix;

    /// <summary>The comment of the raw-table loopback guard this network installs.</summary>
    public string GuardComment => $"mesos-cni-port-mapper {Chain}: no 127.0.0.0/8 from outside";
}

/// <summary>
/// The rules, as data. Pure functions: what a container and its network need, and the restore batch that gets a
/// family's tables from what <c>iptables-save</c> showed to that. Only <see cref="Iptables.IptablesTools"/> touches
/// the kernel.
/// </summary>
/// <remarks>
/// <code>
/// Layout for network chain C (nat table unless noted), M = C-MASQ:
///
///   PREROUTING  -m addrtype --dst-type LOCAL -j C            traffic arriving for a local address
///   OUTPUT      -m addrtype --dst-type LOCAL -j C            traffic the host itself sends (v4: 127.0.0.1 too;
///                                                            v6 and snat=false: ! -d ::1/128, ! -d 127.0.0.0/8)
///   POSTROUTING -j M                                         first in the chain (snat)
///   C  [-d hostIP] [-i devN -j RETURN ...]                   excludeDevices: every device but the last returns...
///      [-d hostIP] [! -i devLast] -p P --dport H -j DNAT --to-destination ctr:port   ...the last is negated here
///   M  -s ctrSubnet -d ctr -m conntrack --ctstate DNAT -j MASQUERADE     hairpin (snat)
///   M  -s 127.0.0.0/8 -d ctr -m conntrack --ctstate DNAT -j MASQUERADE   host loopback, v4 (snat)
///   raw PREROUTING -d 127.0.0.0/8 ! -i lo -j DROP            guard, v4 (snat)
/// </code>
/// Hairpin: a container (or a neighbour on its bridge) that connects to hostIP:H is DNATed back onto its own subnet;
/// without the masquerade the answer would go straight back over the bridge from the container's own address, which
/// the client never connected to, and the connection would hang. Masquerading makes the answer return through the
/// host, where conntrack undoes both translations.
/// Loopback: 127.0.0.1:H from the host goes through OUTPUT, is DNATed, and leaves on the container's host interface
/// still from 127.0.0.1, which the kernel drops as a martian unless that interface has <c>route_localnet=1</c>; the
/// masquerade then gives it the interface's address so the container can answer. route_localnet also lets packets
/// for 127.0.0.0/8 arrive from that interface and reach the host's loopback services, which the guard drops (it
/// runs before conntrack, so the answers of masqueraded connections, addressed to the interface, pass). IPv6 has no
/// route_localnet: [::1]:H cannot be mapped and the v6 OUTPUT jump leaves ::1 alone.
/// Conntrack's state, not a packet mark, selects what to masquerade: only connections that were DNATed, so neither a
/// mark bit shared with other software nor the container's own outgoing traffic is involved.
/// Every per-container rule carries the container's <see cref="RuleTag"/>; the chains, jumps and guard belong to
/// the network and are removed with its last container's rules.
/// </remarks>
public static class RulePlanner
{
    public const string Nat = "nat";
    public const string Raw = "raw";

    private const string Loopback4 = "127.0.0.0/8";

    /// <summary>The rules a container's mappings of one family need, in the order they are appended.</summary>
    public static IReadOnlyList<IptablesRule> ContainerRules(
        NetworkLayout network, RuleTag tag, ContainerAddress container, IEnumerable<PortMapping> mappings)
    {
        var rules = new List<IptablesRule>();
        var comment = new[] { "-m", "comment", "--comment", tag.Comment };
        var devices = network.ExcludeDevices;
        foreach (var mapping in mappings)
        {
            string[] destination = mapping.HostIp is null ? [] : ["-d", HostPrefix(IPAddress.Parse(mapping.HostIp))];
            string[] port = ["-p", mapping.Protocol, "-m", mapping.Protocol, "--dport", Number(mapping.HostPort)];
            for (var i = 0; i + 1 < devices.Count; i++)
            {
                rules.Add(new IptablesRule(Nat, network.Chain, [.. destination, "-i", devices[i], .. port, .. comment, "-j", "RETURN"]));
            }

            string[] notLast = devices.Count == 0 ? [] : ["!", "-i", devices[^1]];
            rules.Add(new IptablesRule(Nat, network.Chain,
                [.. destination, .. notLast, .. port, .. comment, "-j", "DNAT", "--to-destination", Endpoint(container.Address, mapping.ContainerPort)]));
        }

        if (rules.Count > 0 && network.Snat)
        {
            string[] dnated = ["-d", container.Host, "-m", "conntrack", "--ctstate", "DNAT", .. comment, "-j", "MASQUERADE"];
            rules.Add(new IptablesRule(Nat, network.MasqChain, ["-s", container.Subnet, .. dnated]));
            if (container.Family == IpFamily.V4)
            {
                rules.Add(new IptablesRule(Nat, network.MasqChain, ["-s", Loopback4, .. dnated]));
            }
        }

        return rules;
    }

    /// <summary>The rules that belong to the network rather than to a container: the jumps and the guard.</summary>
    public static IReadOnlyList<IptablesRule> NetworkRules(NetworkLayout network, IpFamily family)
    {
        string[] local = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", network.Chain];
        var rules = new List<IptablesRule>
        {
            new(Nat, "PREROUTING", local),
            new(Nat, "OUTPUT", family == IpFamily.V6 ? ["!", "-d", "::1/128", .. local]
                : network.Snat ? local : ["!", "-d", Loopback4, .. local]),
        };
        if (network.Snat)
        {
            rules.Add(new IptablesRule(Nat, "POSTROUTING", ["-j", network.MasqChain]));
            if (family == IpFamily.V4)
            {
                rules.Add(new IptablesRule(Raw, "PREROUTING",
                    ["-d", Loopback4, "!", "-i", "lo", "-m", "comment", "--comment", network.GuardComment, "-j", "DROP"]));
            }
        }

        return rules;
    }

    /// <summary>
    /// ADD: remove any rule already tagged for this attachment (a repeated ADD, or one whose DEL never came), create
    /// what the network lacks, then append the container's rules.
    /// </summary>
    public static RestoreBatch Add(NetworkLayout network, IpFamily family, RuleTag tag, IReadOnlyList<IptablesRule> containerRules, RulesetSnapshot current)
    {
        var batch = new RestoreBatch();
        foreach (var stale in OwnRules(network, current).Where(tag.Owns))
        {
            batch.Delete(stale);
        }

        foreach (var chain in OwnChains(network))
        {
            if (!current.HasChain(Nat, chain) && (chain == network.Chain || network.Snat))
            {
                batch.Add(Nat, $"-N {chain}");
            }
        }

        var existing = current.Rules(Nat).Concat(current.Rules(Raw)).ToHashSet();
        foreach (var rule in NetworkRules(network, family).Where(r => !existing.Contains(r)))
        {
            // The masquerade jump goes first, before any rule of POSTROUTING that might accept the packet earlier.
            if (rule.Chain == "POSTROUTING")
            {
                batch.Insert(rule);
            }
            else
            {
                batch.Append(rule);
            }
        }

        foreach (var rule in containerRules)
        {
            batch.Append(rule);
        }

        return batch;
    }

    /// <summary>
    /// DEL and GC: remove the rules <paramref name="owned"/> selects from the network's chains; a chain left empty
    /// goes with every jump to it (and, for the DNAT chain, the guard).
    /// </summary>
    public static (RestoreBatch Batch, IReadOnlyList<IptablesRule> Removed) Remove(
        NetworkLayout network, Func<IptablesRule, bool> owned, RulesetSnapshot current)
    {
        var batch = new RestoreBatch();
        var removed = OwnRules(network, current).Where(owned).ToList();
        foreach (var rule in removed)
        {
            batch.Delete(rule);
        }

        var gone = removed.ToHashSet();
        foreach (var chain in OwnChains(network).Distinct(StringComparer.Ordinal))
        {
            if (!current.HasChain(Nat, chain) || current.Rules(Nat, chain).Any(r => !gone.Contains(r)))
            {
                continue;
            }

            foreach (var jump in current.Rules(Nat).Where(r => r.Target == chain && !gone.Contains(r)))
            {
                batch.Delete(jump);
            }

            batch.Add(Nat, $"-X {chain}");
            if (chain == network.Chain)
            {
                foreach (var guard in current.Rules(Raw, "PREROUTING").Where(r => r.Comment == network.GuardComment))
                {
                    batch.Delete(guard);
                }
            }
        }

        return (batch, removed);
    }

    /// <summary>CHECK: the rules (network and container) that should be there and are not.</summary>
    public static IReadOnlyList<IptablesRule> Missing(
        NetworkLayout network, IpFamily family, IReadOnlyList<IptablesRule> containerRules, RulesetSnapshot current)
    {
        var existing = current.Rules(Nat).Concat(current.Rules(Raw)).ToHashSet();
        return [.. NetworkRules(network, family).Concat(containerRules).Where(r => !existing.Contains(r))];
    }

    /// <summary>The mappings that apply to a family: those without a hostIP, and those whose hostIP is of it.</summary>
    public static IEnumerable<PortMapping> MappingsFor(IpFamily family, IEnumerable<PortMapping> mappings) =>
        mappings.Where(m => m.HostIp is null || FamilyOf(IPAddress.Parse(m.HostIp)) == family);

    /// <summary>UDP host ports among DNAT rules (whose conntrack entries are flushed when they come and go).</summary>
    public static IReadOnlyList<int> UdpHostPorts(IEnumerable<IptablesRule> rules) =>
        [.. rules.Where(r => r.Target == "DNAT" && r.ValueOf("-p") == "udp")
            .Select(r => int.Parse(r.ValueOf("--dport")!, NumberStyles.None, CultureInfo.InvariantCulture))
            .Distinct()
            .Order()];

    public static IpFamily FamilyOf(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetwork ? IpFamily.V4 : IpFamily.V6;

    /// <summary>An address as a host prefix, as iptables-save prints it: <c>10.1.0.5/32</c>, <c>fd00::5/128</c>.</summary>
    public static string HostPrefix(IPAddress address) =>
        FamilyOf(address) == IpFamily.V4 ? $"{address}/32" : $"{address}/128";

    private static string Endpoint(IPAddress address, int port) =>
        FamilyOf(address) == IpFamily.V4 ? $"{address}:{Number(port)}" : $"[{address}]:{Number(port)}";

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string[] OwnChains(NetworkLayout network) => [network.Chain, network.MasqChain];

    private static IEnumerable<IptablesRule> OwnRules(NetworkLayout network, RulesetSnapshot current) =>
        OwnChains(network).Distinct(StringComparer.Ordinal).SelectMany(chain => current.Rules(Nat, chain));
}
