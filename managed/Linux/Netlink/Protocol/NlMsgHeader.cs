namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>
/// struct nlmsghdr: <c>u32 len, u16 type, u16 flags, u32 seq, u32 pid</c> (16 bytes, host byte order). Messages in
/// one datagram follow each other at <see cref="Align"/>ed offsets.
/// </summary>
public readonly record struct NlMsgHeader(uint Length, ushort Type, ushort Flags, uint Sequence, uint PortId)
{
    public const int Size = 16;

    /// <summary>NLMSG_ALIGN / RTA_ALIGN: up to a multiple of 4.</summary>
    public static int Align(int length) => (length + 3) & ~3;

    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"a netlink header needs {Size} bytes, got {destination.Length}", nameof(destination));
        }

        NativeEndian.WriteUInt32(destination, Length);
        NativeEndian.WriteUInt16(destination[4..], Type);
        NativeEndian.WriteUInt16(destination[6..], Flags);
        NativeEndian.WriteUInt32(destination[8..], Sequence);
        NativeEndian.WriteUInt32(destination[12..], PortId);
    }

    /// <exception cref="NetlinkFormatException">Fewer than 16 bytes.</exception>
    public static NlMsgHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            throw new NetlinkFormatException($"truncated netlink header: {source.Length} of {Size} bytes");
        }

        return new NlMsgHeader(
            NativeEndian.ReadUInt32(source),
            NativeEndian.ReadUInt16(source[4..]),
            NativeEndian.ReadUInt16(source[6..]),
            NativeEndian.ReadUInt32(source[8..]),
            NativeEndian.ReadUInt32(source[12..]));
    }
}

/// <summary>One message of a datagram: its header and its payload (the bytes after the header, up to its length).</summary>
public readonly ref struct NlMsg(NlMsgHeader header, ReadOnlySpan<byte> payload)
{
    public NlMsgHeader Header { get; } = header;

    public ReadOnlySpan<byte> Payload { get; } = payload;
}

/// <summary>
/// Walks the messages of one received datagram (NLMSG_OK / NLMSG_NEXT): each must hold a whole header, a length of
/// at least the header and no more than what is left. Padding after the last message may be missing.
/// </summary>
public ref struct NlMsgReader(ReadOnlySpan<byte> datagram)
{
    private ReadOnlySpan<byte> _rest = datagram;
    private int _offset;

    /// <summary>The offset of the current message in the datagram.</summary>
    public readonly int Offset => _offset;

    /// <exception cref="NetlinkFormatException">A truncated or inconsistent message.</exception>
    public bool TryRead(out NlMsg message)
    {
        message = default;
        if (_rest.IsEmpty)
        {
            return false;
        }

        var header = NlMsgHeader.Read(_rest);
        if (header.Length < NlMsgHeader.Size || header.Length > (uint)_rest.Length)
        {
            throw new NetlinkFormatException(
                $"netlink message at offset {_offset} declares length {header.Length}, but {_rest.Length} bytes are left (at least {NlMsgHeader.Size} needed)");
        }

        var length = (int)header.Length;
        message = new NlMsg(header, _rest[NlMsgHeader.Size..length]);
        var next = Math.Min(NlMsgHeader.Align(length), _rest.Length);
        _rest = _rest[next..];
        _offset += next;
        return true;
    }
}
