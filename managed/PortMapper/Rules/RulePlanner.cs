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

    /// <summary>
    /// The two chains of one attachment: <c>MCPM-DN-&lt;hash&gt;</c> (its DNAT rules, jumped to from <see cref="Chain"/>)
    /// and <c>MCPM-SN-&lt;hash&gt;</c> (its masquerade rules, jumped to from <see cref="MasqChain"/>), the hash being
    /// 64-bit FNV-1a of the network chain and the tag, so the same attachment on two networks gets two pairs.
    /// </summary>
    public ContainerChains ChainsOf(RuleTag tag)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in $"{Chain}\n{tag.Comment}")
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        var hex = hash.ToString("x16", CultureInfo.InvariantCulture);
        return new ContainerChains(ContainerChains.DnatPrefix + hex, ContainerChains.MasqPrefix + hex);
    }

    /// <summary>The comment of the raw-table loopback guard this network installs.</summary>
    public string GuardComment => $"mesos-cni-port-mapper {Chain}: no 127.0.0.0/8 from outside";
}

/// <summary>The per-attachment chains (see <see cref="NetworkLayout.ChainsOf"/>).</summary>
public sealed record ContainerChains(string Dnat, string Masq)
{
    public const string DnatPrefix = "MCPM-DN-";
    public const string MasqPrefix = "MCPM-SN-";

    /// <summary>Whether a chain name is one of the per-attachment chains (of any network).</summary>
    public static bool IsContainerChain(string? chain) =>
        chain is not null && (chain.StartsWith(DnatPrefix, StringComparison.Ordinal) || chain.StartsWith(MasqPrefix, StringComparison.Ordinal));
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
///   C  -p P -m multiport --dports H1,H2.. -j DN              per attachment and protocol (15 ports a rule)
///   M  -j SN                                                 per attachment (snat)
///   DN [-d hostIP] [-i devN -j RETURN ...]                   excludeDevices: every device but the last returns...
///      [-d hostIP] [! -i devLast] -p P --dport H -j DNAT --to-destination ctr:port   ...the last is negated here
///   SN -s ctrSubnet -d ctr -m conntrack --ctstate DNAT -j MASQUERADE     hairpin (snat)
///   SN -s 127.0.0.0/8 -d ctr -m conntrack --ctstate DNAT -j MASQUERADE   host loopback, v4 (snat)
///   raw PREROUTING -d 127.0.0.0/8 ! -i lo -j DROP            guard, v4 (snat)
///
/// DN = MCPM-DN-hash, SN = MCPM-SN-hash: the attachment's own chains (<see cref="NetworkLayout.ChainsOf"/>).
/// </code>
/// Per-attachment chains keep the common ADD and DEL from reading the whole ruleset (with the nf_tables backend every
/// listing fetches and translates every rule it lists, so a full read grows with the number of containers):
/// <see cref="AddFresh"/> is one restore that only appends (-N fails if the attachment is already there, -A fails if
/// the network is not set up yet; either way the caller falls back to reading and <see cref="Add"/>), and
/// <see cref="RemoveListed"/> needs only the listing of the network chain C, which holds a jump or two per
/// container. A -D makes iptables-nft fetch the rules of that chain only, so removing two jumps and flushing two
/// small chains is far cheaper than deleting six rules from the two big shared chains.
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

    /// <summary>The most ports one <c>-m multiport --dports</c> takes.</summary>
    public const int MultiportLimit = 15;

    /// <summary>
    /// The rules of a container's own chains for its mappings of one family, in the order they are appended
    /// (the jumps to them are <see cref="Jumps"/>).
    /// </summary>
    public static IReadOnlyList<IptablesRule> ContainerRules(
        NetworkLayout network, RuleTag tag, ContainerAddress container, IEnumerable<PortMapping> mappings)
    {
        var chains = network.ChainsOf(tag);
        var rules = new List<IptablesRule>();
        var comment = new[] { "-m", "comment", "--comment", tag.Comment };
        var devices = network.ExcludeDevices;
        foreach (var mapping in mappings)
        {
            string[] destination = mapping.HostIp is null ? [] : ["-d", HostPrefix(IPAddress.Parse(mapping.HostIp))];
            string[] port = ["-p", mapping.Protocol, "-m", mapping.Protocol, "--dport", Number(mapping.HostPort)];
            for (var i = 0; i + 1 < devices.Count; i++)
            {
                rules.Add(new IptablesRule(Nat, chains.Dnat, [.. destination, "-i", devices[i], .. port, .. comment, "-j", "RETURN"]));
            }

            string[] notLast = devices.Count == 0 ? [] : ["!", "-i", devices[^1]];
            rules.Add(new IptablesRule(Nat, chains.Dnat,
                [.. destination, .. notLast, .. port, .. comment, "-j", "DNAT", "--to-destination", Endpoint(container.Address, mapping.ContainerPort)]));
        }

        if (rules.Count > 0 && network.Snat)
        {
            string[] dnated = ["-d", container.Host, "-m", "conntrack", "--ctstate", "DNAT", .. comment, "-j", "MASQUERADE"];
            rules.Add(new IptablesRule(Nat, chains.Masq, ["-s", container.Subnet, .. dnated]));
            if (container.Family == IpFamily.V4)
            {
                rules.Add(new IptablesRule(Nat, chains.Masq, ["-s", Loopback4, .. dnated]));
            }
        }

        return rules;
    }

    /// <summary>
    /// The jumps from the network's chains to a container's chains: per protocol, the host ports of its DNAT rules
    /// (multiport takes 15 a rule), so a packet enters only the chains of containers that map its port; one jump to
    /// its masquerade chain if it has one.
    /// </summary>
    public static IReadOnlyList<IptablesRule> Jumps(NetworkLayout network, RuleTag tag, IReadOnlyList<IptablesRule> containerRules)
    {
        var chains = network.ChainsOf(tag);
        string[] comment = ["-m", "comment", "--comment", tag.Comment];
        var jumps = new List<IptablesRule>();
        foreach (var protocol in containerRules.Where(r => r.Chain == chains.Dnat && r.Target == "DNAT")
                     .Select(r => r.ValueOf("-p")!).Distinct(StringComparer.Ordinal))
        {
            var ports = containerRules.Where(r => r.Chain == chains.Dnat && r.Target == "DNAT" && r.ValueOf("-p") == protocol)
                .Select(r => r.ValueOf("--dport")!).Distinct(StringComparer.Ordinal).ToList();
            for (var i = 0; i < ports.Count; i += MultiportLimit)
            {
                jumps.Add(new IptablesRule(Nat, network.Chain,
                    ["-p", protocol, "-m", "multiport", "--dports", string.Join(',', ports.Skip(i).Take(MultiportLimit)), .. comment, "-j", chains.Dnat]));
            }
        }

        if (containerRules.Any(r => r.Chain == chains.Masq))
        {
            jumps.Add(new IptablesRule(Nat, network.MasqChain, [.. comment, "-j", chains.Masq]));
        }

        return jumps;
    }

    /// <summary>
    /// ADD, first try: the container's chains, their rules and the jumps to them, appended without reading anything.
    /// Applying it fails, changing nothing, when the container's chains exist already (a repeated ADD, or one whose
    /// DEL never came) or the network's chains do not (the first container); the caller then reads and uses
    /// <see cref="Add"/>. The network's jumps and guard are not verified here: they come and go in the same
    /// transaction as its chain (CHECK verifies them).
    /// </summary>
    public static RestoreBatch AddFresh(NetworkLayout network, RuleTag tag, IReadOnlyList<IptablesRule> containerRules)
    {
        var batch = new RestoreBatch();
        var chains = network.ChainsOf(tag);
        foreach (var chain in new[] { chains.Dnat, chains.Masq }.Where(c => containerRules.Any(r => r.Chain == c)))
        {
            batch.Add(Nat, $"-N {chain}");
        }

        foreach (var rule in containerRules.Concat(Jumps(network, tag, containerRules)))
        {
            batch.Append(rule);
        }

        return batch;
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
        var chains = network.ChainsOf(tag);
        var mine = new[] { chains.Dnat, chains.Masq }.Where(c => containerRules.Any(r => r.Chain == c)).ToList();
        var stale = OwnRules(network, current).Where(tag.Owns).ToList();
        foreach (var rule in stale)
        {
            batch.Delete(rule);
        }

        // The chains of an earlier ADD: emptied and reused if this one needs them, else removed with their jumps.
        foreach (var chain in stale.Select(r => r.Target).Append(chains.Dnat).Append(chains.Masq).OfType<string>()
                     .Where(ContainerChains.IsContainerChain).Distinct(StringComparer.Ordinal).Where(c => current.HasChain(Nat, c)))
        {
            batch.Add(Nat, $"-F {chain}");
            if (!mine.Contains(chain))
            {
                batch.Add(Nat, $"-X {chain}");
            }
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

        foreach (var chain in mine.Where(c => !current.HasChain(Nat, c)))
        {
            batch.Add(Nat, $"-N {chain}");
        }

        foreach (var rule in containerRules.Concat(Jumps(network, tag, containerRules)))
        {
            batch.Append(rule);
        }

        return batch;
    }

    /// <summary>
    /// DEL, first try, from the listing of the network's DNAT chain alone (<c>iptables -S C</c>): the attachment's
    /// jumps and any flat rule of its tag (Mesos's) deleted, its chains flushed and removed, and, when no other rule
    /// is left in C, the network's chains, jumps and guard too. Null when the listing cannot tell enough (snat off,
    /// whose masquerade chain may hold an earlier config's jumps): the caller reads everything and uses
    /// <see cref="Remove"/>, as it does when applying this fails (a masquerade jump or network jump not as
    /// expected: iptables-restore changes nothing then).
    /// </summary>
    public static (RestoreBatch Batch, IReadOnlyList<IptablesRule> Removed)? RemoveListed(
        NetworkLayout network, IpFamily family, RuleTag tag, IReadOnlyList<IptablesRule> chainRules)
    {
        if (!network.Snat)
        {
            return null;
        }

        var chains = network.ChainsOf(tag);
        var batch = new RestoreBatch();
        var removed = chainRules.Where(r => r.Chain == network.Chain && tag.Owns(r)).ToList();
        foreach (var rule in removed)
        {
            batch.Delete(rule);
        }

        if (removed.Any(r => r.Target == chains.Dnat))
        {
            batch.Add(Nat, $"-F {chains.Dnat}");
            batch.Add(Nat, $"-X {chains.Dnat}");
            var masqJump = new IptablesRule(Nat, network.MasqChain, ["-m", "comment", "--comment", tag.Comment, "-j", chains.Masq]);
            batch.Delete(masqJump);
            batch.Add(Nat, $"-F {chains.Masq}");
            batch.Add(Nat, $"-X {chains.Masq}");
            removed.Add(masqJump);
        }

        if (chainRules.Count(r => r.Chain == network.Chain) == removed.Count(r => r.Chain == network.Chain))
        {
            foreach (var rule in NetworkRules(network, family))
            {
                batch.Delete(rule);
                if (rule.Target == network.Chain && rule.Chain == "OUTPUT")
                {
                    batch.Add(Nat, $"-X {network.Chain}");
                }
            }

            batch.Add(Nat, $"-X {network.MasqChain}");
        }

        return (batch, removed);
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
        foreach (var chain in removed.Select(r => r.Target).OfType<string>().Where(ContainerChains.IsContainerChain)
                     .Distinct(StringComparer.Ordinal).Where(c => current.HasChain(Nat, c)).ToList())
        {
            removed.AddRange(current.Rules(Nat, chain));
            batch.Add(Nat, $"-F {chain}");
            batch.Add(Nat, $"-X {chain}");
        }

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
        NetworkLayout network, IpFamily family, RuleTag tag, IReadOnlyList<IptablesRule> containerRules, RulesetSnapshot current)
    {
        var existing = current.Rules(Nat).Concat(current.Rules(Raw)).ToHashSet();
        return [.. NetworkRules(network, family).Concat(Jumps(network, tag, containerRules)).Concat(containerRules).Where(r => !existing.Contains(r))];
    }

    /// <summary>The mappings that apply to a family: those without a hostIP, and those whose hostIP is of it.</summary>
    public static IEnumerable<PortMapping> MappingsFor(IpFamily family, IEnumerable<PortMapping> mappings) =>
        mappings.Where(m => m.HostIp is null || FamilyOf(IPAddress.Parse(m.HostIp)) == family);

    /// <summary>
    /// UDP host ports among DNAT rules and the multiport jumps to containers' chains (whose conntrack entries are
    /// flushed when they come and go).
    /// </summary>
    public static IReadOnlyList<int> UdpHostPorts(IEnumerable<IptablesRule> rules) =>
        [.. rules.Where(r => r.ValueOf("-p") == "udp")
            .SelectMany(r => r.Target == "DNAT" && r.ValueOf("--dport") is { } port ? [port]
                : ContainerChains.IsContainerChain(r.Target) && r.ValueOf("--dports") is { } ports ? ports.Split(',') : [])
            .Select(p => int.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture))
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
