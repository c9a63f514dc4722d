using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NetIsolator.PortMapper.Host;

/// <summary>
/// <c>net.ipv4.conf.&lt;if&gt;.route_localnet</c> on the interface the host routes a container's address through,
/// the condition for DNATing 127.0.0.1 to it (see <see cref="Rules.RulePlanner"/>). The interface is found in the
/// host's IPv4 main routing table (<c>/proc/net/route</c>, longest prefix, then lowest metric), as the kernel would
/// route the DNATed packet. Both files are those of the calling process's network namespace. Like portmap, the
/// setting is left on when the last container goes: other networks may share the interface.
/// </summary>
public static class RouteLocalnet
{
    private const int RtfUp = 0x1;

    /// <summary>Sets it for the interface routing <paramref name="destination"/>; returns that interface.</summary>
    /// <exception cref="IOException">No route, or the sysctl cannot be read or written.</exception>
    public static string Enable(IPAddress destination)
    {
        var device = RouteDevice(File.ReadAllText("/proc/net/route"), destination)
            ?? throw new IOException($"no IPv4 route to {destination} in /proc/net/route");
        var path = $"/proc/sys/net/ipv4/conf/{device}/route_localnet";
        if (File.ReadAllText(path).Trim() != "1")
        {
            File.WriteAllText(path, "1");
        }

        return device;
    }

    /// <summary>The device of the best route to <paramref name="destination"/> in <c>/proc/net/route</c> text, or null.</summary>
    public static string? RouteDevice(string procNetRoute, IPAddress destination)
    {
        if (destination.AddressFamily != AddressFamily.InterNetwork)
        {
            return null;
        }

        var target = ToHostOrder(destination);
        string? best = null;
        var bestLength = -1;
        var bestMetric = long.MaxValue;
        foreach (var line in procNetRoute.Split('\n').Skip(1))
        {
            var fields = line.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 8
                || !uint.TryParse(fields[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var network)
                || !int.TryParse(fields[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var flags)
                || !long.TryParse(fields[6], NumberStyles.Integer, CultureInfo.InvariantCulture, out var metric)
                || !uint.TryParse(fields[7], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mask)
                || (flags & RtfUp) == 0)
            {
                continue;
            }

            // The kernel prints each address as the u32 it stores (network byte order) in hex, host-endian.
            var hostMask = ToHostOrder(mask);
            var length = System.Numerics.BitOperations.PopCount(hostMask);
            if ((target & hostMask) != (ToHostOrder(network) & hostMask))
            {
                continue;
            }

            if (length > bestLength || (length == bestLength && metric < bestMetric))
            {
                (best, bestLength, bestMetric) = (fields[0], length, metric);
            }
        }

        return best;
    }

    private static uint ToHostOrder(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return (uint)(bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]);
    }

    private static uint ToHostOrder(uint procValue)
    {
        var bytes = BitConverter.GetBytes(procValue);
        return (uint)(bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]);
    }
}
