using System.Net;
using System.Net.Sockets;
using System.Text;
using NetIsolator.Cni.Results;

namespace NetIsolator.Isolators.Cni;

/// <summary>The three files a CNI container gets under <c>ROOT/&lt;CID&gt;/</c>; <see cref="ResolvConf"/> null means
/// no <c>resolv.conf</c> (the host's is used).</summary>
public sealed record ContainerNetworkFiles(string Hostname, string Hosts, string? ResolvConf);

/// <summary>
/// Pure builders for the container's <c>hostname</c>, <c>hosts</c> and <c>resolv.conf</c>, in the formats Mesos
/// writes (so existing agents' state and containers' expectations carry over).
/// </summary>
/// <remarks>
/// Decisions that depart from Mesos:
/// <list type="bullet">
/// <item>The <c>hosts</c> address comes from the first network in <c>NetworkInfo</c> order that has one, not from
/// hash-map order (Mesos §7.2).</item>
/// <item>IPv6: Mesos writes only IPv4. An IPv4-only container gets exactly Mesos's bytes. A container with an IPv6
/// address additionally gets <c>&lt;ipv6&gt; &lt;hostname&gt;</c> after the IPv4 line (or alone, when it has no
/// IPv4), so an IPv6-only container can resolve its own name. Link-local IPv6 addresses are skipped (they need a zone
/// to be usable). No <c>::1 localhost</c> line is added: the container's IPv6 may be disabled, and <c>localhost</c>
/// already resolves through <c>127.0.0.1</c>, which <c>lo</c> always has.</item>
/// <item>Addresses on host-side interfaces (a result interface without <c>sandbox</c>) are skipped; CNI 0.1/0.2
/// results, the only ones Mesos reads, have no interface information, so nothing changes for them.</item>
/// <item>A hostname is validated (non-empty, at most 64 bytes, no whitespace, control characters or <c>#</c>): Mesos
/// checks nothing, so a long name failed later at <c>sethostname</c> and a name with a space or newline corrupted
/// <c>/etc/hosts</c>.</item>
/// <item>resolv.conf values are validated likewise (non-empty, no whitespace or control characters), and an empty
/// domain is treated as absent instead of writing a bare <c>domain </c> line. Mesos wrote whatever it got, so a
/// plugin's <c>"search":["a\nnameserver 6.6.6.6"]</c> could inject lines. Nothing is truncated: glibc's own limits
/// (three nameservers, six search domains) still apply when it reads the file, as with Mesos.</item>
/// </list>
/// </remarks>
public static class ContainerFiles
{
    /// <summary>Linux's HOST_NAME_MAX.</summary>
    public const int MaxHostnameBytes = 64;

    /// <summary>
    /// The container's hostname: <c>ContainerInfo.hostname</c> if set, otherwise the container ID's leaf value (not
    /// the dotted <c>parent.child</c> form, which would outgrow HOST_NAME_MAX).
    /// </summary>
    public static string ChooseHostname(string? containerInfoHostname, string leafContainerId) =>
        string.IsNullOrEmpty(containerInfoHostname) ? leafContainerId : containerInfoHostname;

    /// <summary>The <c>hostname</c> file: the name, with no trailing newline.</summary>
    /// <exception cref="ArgumentException">The hostname is empty, too long or holds a forbidden character.</exception>
    public static string Hostname(string hostname)
    {
        ValidateHostname(hostname);
        return hostname;
    }

    /// <summary>
    /// The <c>hosts</c> file: <c>127.0.0.1 localhost</c>, then <c>&lt;ipv4&gt; &lt;hostname&gt;</c> for the first
    /// IPv4 address of the first network that has one, then <c>&lt;ipv6&gt; &lt;hostname&gt;</c> likewise for IPv6.
    /// Addresses are written without their prefix length. Every line ends in <c>\n</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The hostname is invalid (see <see cref="Hostname"/>).</exception>
    public static string Hosts(string hostname, IEnumerable<JoinedNetwork> networks)
    {
        ValidateHostname(hostname);
        ArgumentNullException.ThrowIfNull(networks);

        var list = networks as IReadOnlyList<JoinedNetwork> ?? networks.ToList();
        var text = new StringBuilder("127.0.0.1 localhost\n");
        if (FirstAddress(list, ipv4: true) is { } ipv4)
        {
            text.Append(ipv4).Append(' ').Append(hostname).Append('\n');
        }

        if (FirstAddress(list, ipv4: false) is { } ipv6)
        {
            text.Append(ipv6).Append(' ').Append(hostname).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>
    /// resolv.conf in Mesos's exact line order: <c>domain d</c> (if set), <c>search s1 s2 …</c> (if any),
    /// <c>options o1 o2 …</c> (if any), then one <c>nameserver ip</c> per nameserver; every line ends in <c>\n</c>.
    /// An empty <see cref="CniDns"/> formats to <c>""</c>.
    /// </summary>
    /// <exception cref="FormatException">A value is empty or holds whitespace or control characters.</exception>
    public static string ResolvConf(CniDns dns)
    {
        ArgumentNullException.ThrowIfNull(dns);
        var text = new StringBuilder();
        if (!string.IsNullOrEmpty(dns.Domain))
        {
            text.Append("domain ").Append(Token(dns.Domain, "domain")).Append('\n');
        }

        AppendList(text, "search", dns.Search);
        AppendList(text, "options", dns.Options);
        for (var i = 0; i < dns.Nameservers.Count; i++)
        {
            text.Append("nameserver ").Append(Token(dns.Nameservers[i], $"nameservers[{i}]")).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>All three files for a container with its own CNI networks (Mesos's case C).</summary>
    public static ContainerNetworkFiles Build(string hostname, IReadOnlyList<JoinedNetwork> networks,
        ContainerDnsInfo defaults) =>
        new(Hostname(hostname), Hosts(hostname, networks), DnsSelection.ResolvConf(networks, defaults));

    private static void AppendList(StringBuilder text, string keyword, IReadOnlyList<string> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        text.Append(keyword);
        for (var i = 0; i < values.Count; i++)
        {
            text.Append(' ').Append(Token(values[i], $"{keyword}[{i}]"));
        }

        text.Append('\n');
    }

    private static string Token(string value, string field) =>
        ResolvConfTokens.Problem(value) is { } problem
            ? throw new FormatException($"resolv.conf: {field} {problem}")
            : value;

    private static string? FirstAddress(IReadOnlyList<JoinedNetwork> networks, bool ipv4)
    {
        foreach (var network in networks)
        {
            if (network.Result is not { } result)
            {
                continue;
            }

            foreach (var ip in result.Ips)
            {
                if (ip.IsIPv4 != ipv4 || IsHostSide(result, ip))
                {
                    continue;
                }

                var address = ip.Address.Address;
                if (ipv4)
                {
                    return (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
                }

                if (address.AddressFamily == AddressFamily.InterNetworkV6 && !address.IsIPv6LinkLocal)
                {
                    return new IPAddress(address.GetAddressBytes()).ToString(); // drop any scope id
                }
            }
        }

        return null;
    }

    private static bool IsHostSide(CniResult result, CniIpConfig ip) =>
        ip.Interface is int index && index >= 0 && index < result.Interfaces.Count
        && string.IsNullOrEmpty(result.Interfaces[index].Sandbox);

    private static void ValidateHostname(string hostname)
    {
        ArgumentNullException.ThrowIfNull(hostname);
        if (hostname.Length == 0)
        {
            throw new ArgumentException("hostname must not be empty", nameof(hostname));
        }

        if (Encoding.UTF8.GetByteCount(hostname) > MaxHostnameBytes)
        {
            throw new ArgumentException(
                $"hostname '{hostname}' is longer than {MaxHostnameBytes} bytes", nameof(hostname));
        }

        if (hostname.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == '#'))
        {
            throw new ArgumentException(
                $"hostname '{hostname}' holds whitespace, a control character or '#'", nameof(hostname));
        }
    }
}

/// <summary>What makes a string unusable as one whitespace-separated resolv.conf token.</summary>
internal static class ResolvConfTokens
{
    /// <summary>Why <paramref name="value"/> cannot be written (a phrase that follows the field name), or null.</summary>
    public static string? Problem(string value) =>
        value.Length == 0 ? "must not be empty"
        : value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) ? "must not hold whitespace or control characters"
        : null;
}
