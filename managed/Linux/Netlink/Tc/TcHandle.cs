using System.Globalization;
using static NetIsolator.Linux.Netlink.Protocol.TcConstants;

namespace NetIsolator.Linux.Netlink.Tc;

/// <summary>
/// A tc handle or class id: 16-bit major and minor, written <c>major:minor</c> in lower-case hex (<c>1:0</c> is
/// HTB's qdisc, <c>1:1</c> its first class, <c>ffff:0</c> the ingress qdisc). A qdisc's handle has minor 0;
/// classes of a qdisc share its major. Parses <c>root</c>, <c>ingress</c> and <c>X:Y</c> (<c>X:</c> = <c>X:0</c>).
/// </summary>
public readonly record struct TcHandle(uint Value)
{
    /// <summary>TC_H_ROOT: the parent of a link's root egress qdisc.</summary>
    public static TcHandle Root => new(TC_H_ROOT);

    /// <summary>TC_H_INGRESS: the parent of the ingress (and clsact) qdisc.</summary>
    public static TcHandle IngressParent => new(TC_H_INGRESS);

    /// <summary><c>ffff:0</c>: the ingress qdisc's own handle, and so the parent of ingress filters.</summary>
    public static TcHandle Ingress => Make(0xffff, 0);

    /// <summary>0: "let the kernel choose" for a new qdisc's handle, "none" in replies.</summary>
    public static TcHandle None => new(TC_H_UNSPEC);

    public ushort Major => (ushort)(Value >> 16);

    public ushort Minor => (ushort)Value;

    public static TcHandle Make(ushort major, ushort minor) => new(((uint)major << 16) | minor);

    /// <exception cref="FormatException">Neither <c>root</c>, <c>ingress</c> nor <c>X:Y</c> in hex.</exception>
    public static TcHandle Parse(string text) =>
        TryParse(text, out var handle) ? handle : throw new FormatException($"'{text}' is not a tc handle (expected root, ingress or MAJOR:MINOR in hex)");

    public static bool TryParse(string? text, out TcHandle handle)
    {
        handle = default;
        switch (text)
        {
            case null:
                return false;
            case "root":
                handle = Root;
                return true;
            case "ingress":
                handle = IngressParent;
                return true;
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0
            || !ushort.TryParse(text.AsSpan(0, colon), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var major))
        {
            return false;
        }

        ushort minor = 0;
        if (colon + 1 < text.Length
            && !ushort.TryParse(text.AsSpan(colon + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out minor))
        {
            return false;
        }

        handle = Make(major, minor);
        return true;
    }

    public override string ToString() => Value switch
    {
        TC_H_ROOT => "root",
        TC_H_INGRESS => "ingress",
        _ => string.Create(CultureInfo.InvariantCulture, $"{Major:x}:{Minor:x}"),
    };
}
