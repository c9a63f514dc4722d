using NetIsolator.Cni.Results;

namespace NetIsolator.Isolators.Cni;

/// <summary>
/// One CNI network a container joined, with the result of its ADD (null when there is none, e.g. the ADD has not
/// run). The input of <see cref="DnsSelection"/> and <see cref="ContainerFiles"/>; callers pass the container's
/// networks in <c>NetworkInfo</c> order.
/// </summary>
public sealed record JoinedNetwork(string Name, CniResult? Result);

/// <summary>
/// The container's resolver configuration, chosen by Mesos's rules. For each network, in order, one source is picked
/// and merged into an accumulator:
/// <list type="number">
/// <item>the CNI result's <c>dns</c>, but only when it has at least one nameserver (host-local returns an empty
/// <c>dns</c>, and a result's domain, search or options without a nameserver are ignored, as Mesos does);</item>
/// <item>else the <c>--default_container_dns</c> CNI entry naming this network (even one without nameservers);</item>
/// <item>else the wildcard CNI entry;</item>
/// <item>else nothing.</item>
/// </list>
/// Merging appends <c>nameservers</c>, <c>search</c> and <c>options</c> (duplicates kept) and lets a later network's
/// <c>domain</c> replace an earlier one (protobuf-merge semantics). With no nameserver at all the result is null: the
/// caller then uses the host's <c>/etc/resolv.conf</c> and writes no file, and any domain, search or options collected
/// are dropped (Mesos's all-or-nothing fallback, kept so that containers see what they saw under Mesos).
/// </summary>
/// <remarks>
/// Departure from Mesos: networks are taken in <c>NetworkInfo</c> order, not hash-map order, so with several networks
/// the nameserver order and the winning domain are deterministic (Mesos §7.2).
/// </remarks>
public static class DnsSelection
{
    /// <summary>The merged DNS settings, or null when no nameserver is known.</summary>
    public static CniDns? Merge(IEnumerable<JoinedNetwork> networks, ContainerDnsInfo defaults)
    {
        ArgumentNullException.ThrowIfNull(networks);
        ArgumentNullException.ThrowIfNull(defaults);

        var nameservers = new List<string>();
        var search = new List<string>();
        var options = new List<string>();
        string? domain = null;
        foreach (var network in networks)
        {
            var source = SourceFor(network, defaults);
            if (source is null)
            {
                continue;
            }

            nameservers.AddRange(source.Nameservers);
            search.AddRange(source.Search);
            options.AddRange(source.Options);
            if (!string.IsNullOrEmpty(source.Domain))
            {
                domain = source.Domain;
            }
        }

        return nameservers.Count == 0
            ? null
            : new CniDns { Nameservers = nameservers, Domain = domain, Search = search, Options = options };
    }

    /// <summary>
    /// The content of <c>ROOT/&lt;CID&gt;/resolv.conf</c> (<see cref="ContainerFiles.ResolvConf"/> of
    /// <see cref="Merge"/>), or null when no nameserver is known and no file is to be written.
    /// </summary>
    /// <exception cref="FormatException">A chosen value cannot be written to resolv.conf (see
    /// <see cref="ContainerFiles.ResolvConf"/>).</exception>
    public static string? ResolvConf(IEnumerable<JoinedNetwork> networks, ContainerDnsInfo defaults) =>
        Merge(networks, defaults) is { } dns ? ContainerFiles.ResolvConf(dns) : null;

    /// <summary>The one source <paramref name="network"/> contributes, or null.</summary>
    public static CniDns? SourceFor(JoinedNetwork network, ContainerDnsInfo defaults)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(defaults);
        return network.Result?.Dns is { Nameservers.Count: > 0 } resultDns
            ? resultDns
            : defaults.ForCniNetwork(network.Name);
    }
}
