using System.Globalization;

namespace NetIsolator.Linux.Netlink;

/// <summary>An Ethernet (EUI-48) address, printed as the kernel and iproute2 print it: <c>aa:bb:cc:dd:ee:ff</c>.</summary>
public readonly record struct MacAddress
{
    public const int Size = 6;

    private readonly ulong _value;

    private MacAddress(ulong value) => _value = value;

    /// <summary>From 6 bytes in wire order.</summary>
    /// <exception cref="ArgumentException">Not 6 bytes.</exception>
    public MacAddress(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new ArgumentException($"a MAC address has {Size} bytes, got {bytes.Length}", nameof(bytes));
        }

        ulong value = 0;
        foreach (var b in bytes)
        {
            value = (value << 8) | b;
        }

        _value = value;
    }

    /// <summary>The I/G bit of the first byte: a group address, which no interface may take as its own.</summary>
    public bool IsMulticast => ((_value >> 40) & 1) != 0;

    public bool IsZero => _value == 0;

    public void CopyTo(Span<byte> destination)
    {
        for (var i = 0; i < Size; i++)
        {
            destination[i] = (byte)(_value >> (8 * (Size - 1 - i)));
        }
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        CopyTo(bytes);
        return bytes;
    }

    /// <summary>Six hex pairs separated by ':' (either case).</summary>
    /// <exception cref="FormatException">Anything else.</exception>
    public static MacAddress Parse(string text) =>
        TryParse(text, out var mac) ? mac : throw new FormatException($"'{text}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)");

    public static bool TryParse(string? text, out MacAddress mac)
    {
        mac = default;
        if (text is null || text.Length != 17)
        {
            return false;
        }

        ulong value = 0;
        for (var i = 0; i < Size; i++)
        {
            if (i > 0 && text[(i * 3) - 1] != ':')
            {
                return false;
            }

            if (!byte.TryParse(text.AsSpan(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                return false;
            }

            value = (value << 8) | b;
        }

        mac = new MacAddress(value);
        return true;
    }

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Size];
        CopyTo(bytes);
        return string.Create(CultureInfo.InvariantCulture, $"{bytes[0]:x2}:{bytes[1]:x2}:{bytes[2]:x2}:{bytes[3]:x2}:{bytes[4]:x2}:{bytes[5]:x2}");
    }
}
