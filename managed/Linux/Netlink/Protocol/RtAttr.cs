namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>One routing attribute (struct rtattr: <c>u16 len, u16 type</c>, then the payload, padded to 4).</summary>
public readonly ref struct RtAttr(ushort type, ReadOnlySpan<byte> payload)
{
    public const int HeaderSize = 4;

    /// <summary>The type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER flag bits.</summary>
    public ushort Type { get; } = type;

    public ReadOnlySpan<byte> Payload { get; } = payload;

    /// <summary>The payload as a NUL-terminated string (IFLA_IFNAME); no terminator = the whole payload.</summary>
    public string AsString()
    {
        var end = Payload.IndexOf((byte)0);
        return System.Text.Encoding.UTF8.GetString(end < 0 ? Payload : Payload[..end]);
    }

    public byte AsUInt8() => Payload.Length >= 1 ? Payload[0] : throw Short(1);

    public ushort AsUInt16() => Payload.Length >= 2 ? NativeEndian.ReadUInt16(Payload) : throw Short(2);

    public uint AsUInt32() => Payload.Length >= 4 ? NativeEndian.ReadUInt32(Payload) : throw Short(4);

    public int AsInt32() => unchecked((int)AsUInt32());

    public ulong AsUInt64() => Payload.Length >= 8 ? NativeEndian.ReadUInt64(Payload) : throw Short(8);

    /// <summary>The payload must hold at least <paramref name="size"/> bytes (a fixed structure); returns it.</summary>
    public ReadOnlySpan<byte> AtLeast(int size, string what) =>
        Payload.Length >= size
            ? Payload
            : throw new NetlinkFormatException($"attribute {Type} ({what}) has {Payload.Length} bytes, at least {size} expected");

    private NetlinkFormatException Short(int size) =>
        new($"attribute {Type} has {Payload.Length} bytes, at least {size} expected");

    /// <summary>Bytes one attribute with <paramref name="payloadLength"/> bytes takes, padding included.</summary>
    public static int SpaceFor(int payloadLength) => NlMsgHeader.Align(HeaderSize + payloadLength);

    /// <summary>Writes an attribute (zeroing its padding) and returns the bytes it took.</summary>
    public static int Write(Span<byte> destination, ushort type, ReadOnlySpan<byte> payload)
    {
        var length = HeaderSize + payload.Length;
        var space = SpaceFor(payload.Length);
        if (length > ushort.MaxValue)
        {
            throw new ArgumentException($"attribute {type}: payload of {payload.Length} bytes is too long", nameof(payload));
        }

        if (destination.Length < space)
        {
            throw new ArgumentException($"attribute {type} needs {space} bytes, got {destination.Length}", nameof(destination));
        }

        NativeEndian.WriteUInt16(destination, (ushort)length);
        NativeEndian.WriteUInt16(destination[2..], type);
        payload.CopyTo(destination[HeaderSize..]);
        destination[length..space].Clear();
        return space;
    }
}

/// <summary>
/// Walks a run of attributes (RTA_OK / RTA_NEXT): each needs a whole header and a length between the header size
/// and what is left; the next one starts at the 4-byte aligned end.
/// </summary>
public ref struct RtAttrReader(ReadOnlySpan<byte> attributes)
{
    private ReadOnlySpan<byte> _rest = attributes;

    /// <exception cref="NetlinkFormatException">A truncated or inconsistent attribute.</exception>
    public bool TryRead(out RtAttr attribute)
    {
        attribute = default;
        if (_rest.IsEmpty)
        {
            return false;
        }

        if (_rest.Length < RtAttr.HeaderSize)
        {
            throw new NetlinkFormatException($"truncated attribute header: {_rest.Length} of {RtAttr.HeaderSize} bytes");
        }

        var length = NativeEndian.ReadUInt16(_rest);
        var type = (ushort)(NativeEndian.ReadUInt16(_rest[2..]) & NetlinkConstants.NLA_TYPE_MASK);
        if (length < RtAttr.HeaderSize || length > _rest.Length)
        {
            throw new NetlinkFormatException(
                $"attribute of type {type} declares length {length}, but {_rest.Length} bytes are left (at least {RtAttr.HeaderSize} needed)");
        }

        attribute = new RtAttr(type, _rest[RtAttr.HeaderSize..length]);
        _rest = _rest[Math.Min(NlMsgHeader.Align(length), _rest.Length)..];
        return true;
    }
}
