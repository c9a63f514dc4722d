using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NetIsolator.Cni.Results;

/// <summary>
/// An address with its prefix length, as CNI writes it (<c>"10.22.0.5/16"</c>): unlike <see cref="IPNetwork"/> the
/// host bits are kept, because a result's <c>address</c> is an interface address, not a network.
/// </summary>
public readonly record struct IpPrefix(IPAddress Address, int PrefixLength)
{
    /// <summary>True for IPv4 (including IPv4-mapped IPv6, which Go's <c>To4()</c> also treats as IPv4).</summary>
    public bool IsIPv4 => CniIp.IsIPv4(Address);

    public static IpPrefix Parse(string text) =>
        TryParse(text, out var prefix, out var problem) ? prefix : throw new FormatException(problem);

    public static bool TryParse([NotNullWhen(true)] string? text, out IpPrefix prefix, out string problem)
    {
        prefix = default;
        var slash = text?.IndexOf('/') ?? -1;
        if (text is null || slash < 0)
        {
            problem = $"\"{text}\" is not in CIDR notation (address/prefix)";
            return false;
        }

        if (!CniIp.TryParse(text[..slash], out var address))
        {
            problem = $"\"{text}\" has an invalid address";
            return false;
        }

        var lengthText = text[(slash + 1)..];
        var max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (lengthText.Length is 0 or > 3 || !lengthText.All(char.IsAsciiDigit)
            || int.Parse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture) is var length && length > max)
        {
            problem = $"\"{text}\" has an invalid prefix length (0-{max})";
            return false;
        }

        prefix = new IpPrefix(address, length);
        problem = "";
        return true;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Address}/{PrefixLength}");
}

/// <summary>Strict IP parsing: dotted-quad IPv4 or IPv6, never the shorthand forms <see cref="IPAddress.Parse(string)"/> accepts.</summary>
public static class CniIp
{
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (string.IsNullOrEmpty(text) || text.Contains('%'))
        {
            return false;
        }

        if (text.Contains(':'))
        {
            return IPAddress.TryParse(text, out address) && address.AddressFamily == AddressFamily.InterNetworkV6;
        }

        var parts = text.Split('.');
        if (parts.Length != 4 || parts.Any(p => p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit)
                || int.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture) > 255))
        {
            return false;
        }

        return IPAddress.TryParse(text, out address);
    }

    /// <summary>IPv4, or IPv4-mapped IPv6.</summary>
    public static bool IsIPv4(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetwork || address.IsIPv4MappedToIPv6;
}
