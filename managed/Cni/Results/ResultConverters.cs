using NetIsolator.Cni.Versions;

namespace NetIsolator.Cni.Results;

/// <summary>Re-expresses a result at another spec version; may drop what the target cannot carry.</summary>
public delegate CniResult ResultConverter(CniResult from, CniVersion to);

/// <summary>
/// The registry of result conversions, keyed by (from version, to version), in the manner of libcni's
/// <c>convert.RegisterConverter</c>. The rules:
/// <list type="bullet">
/// <item>0.1.0/0.2.0 → anything newer: <c>ip4</c>/<c>ip6</c> become <c>ips</c> without an interface index, their
///   routes become top-level <c>routes</c> (already so in the in-memory model; only the version changes).</item>
/// <item>0.3.0 and later → 0.1.0/0.2.0: the first IPv4 and the first IPv6 address are kept with the routes of their
///   family; interfaces and interface indexes are dropped; a result with no address cannot be converted.</item>
/// <item>1.1.0 → anything older: the 1.1.0-only interface and route fields are dropped.</item>
/// <item>Between 0.3.0, 0.3.1, 0.4.0 and 1.0.0 the content is the same; <c>ips[].version</c> is written or not by
///   the target's shape.</item>
/// </list>
/// </summary>
public static class ResultConverters
{
    private static readonly CniVersion[] Legacy = [CniVersion.V010, CniVersion.V020];
    private static readonly CniVersion[] Spec04 = [CniVersion.V030, CniVersion.V031, CniVersion.V040];
    private static readonly CniVersion[] Spec10 = [CniVersion.V100];
    private static readonly CniVersion[] Spec11 = [CniVersion.V110];

    private static readonly Dictionary<(CniVersion From, CniVersion To), ResultConverter> Converters = [];

    static ResultConverters()
    {
        Register(Legacy, [.. Legacy, .. Spec04, .. Spec10, .. Spec11], Retag);
        Register(Spec04, [.. Spec04, .. Spec10, .. Spec11], Retag);
        Register(Spec10, Spec11, Retag);
        Register(Spec10, Spec04, Retag);
        Register(Spec11, [.. Spec04, .. Spec10], DropV11Fields);
        Register([.. Spec04, .. Spec10], Legacy, ToLegacy);
        Register(Spec11, Legacy, (from, to) => ToLegacy(DropV11Fields(from, to), to));
    }

    /// <summary>
    /// <paramref name="result"/> at <paramref name="target"/>. Same version: returned as is. Errors name both
    /// versions and the field that could not be carried.
    /// </summary>
    public static CniResult Convert(CniResult result, CniVersion target)
    {
        if (result.CniVersion == target)
        {
            return result;
        }

        if (!Converters.TryGetValue((result.CniVersion, target), out var converter))
        {
            throw new CniResultException(
                $"result: no conversion from cniVersion {result.CniVersion} to {target} "
                + $"(supported: {string.Join(", ", CniVersion.Supported)})");
        }

        return converter(result, target);
    }

    /// <summary>True when a conversion between the two versions is registered (or they are equal).</summary>
    public static bool CanConvert(CniVersion from, CniVersion to) => from == to || Converters.ContainsKey((from, to));

    private static void Register(CniVersion[] from, CniVersion[] to, ResultConverter converter)
    {
        foreach (var source in from)
        {
            foreach (var target in to.Where(t => t != source))
            {
                Converters.Add((source, target), converter);
            }
        }
    }

    private static CniResult Retag(CniResult from, CniVersion to) => from.With(version: to);

    private static CniResult DropV11Fields(CniResult from, CniVersion to) => from.With(
        version: to,
        interfaces: [.. from.Interfaces.Select(i => i with { Mtu = null, SocketPath = null, PciId = null })],
        routes: [.. from.Routes.Select(r => r with { Mtu = null, AdvMss = null, Priority = null, Table = null, Scope = null })]);

    private static CniResult ToLegacy(CniResult from, CniVersion to)
    {
        var first4 = from.Ips.FirstOrDefault(ip => ip.IsIPv4);
        var first6 = from.Ips.FirstOrDefault(ip => !ip.IsIPv4);
        if (first4 is null && first6 is null)
        {
            throw new CniResultException(
                $"result: cannot convert cniVersion {from.CniVersion} to {to}: ips: no IP address, and {to} needs ip4 or ip6");
        }

        var kept = new[] { first4, first6 }.OfType<CniIpConfig>().Select(ip => ip with { Interface = null }).ToList();
        var routes = from.Routes
            .Where(r => r.Destination.IsIPv4 ? first4 is not null : first6 is not null)
            .ToList();
        return from.With(version: to, interfaces: [], ips: kept, routes: routes);
    }
}
