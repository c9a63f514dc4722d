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
