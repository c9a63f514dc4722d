namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>struct ifaddrmsg, the fixed part of RTM_*ADDR: <c>u8 family, u8 prefixlen, u8 flags, u8 scope, u32 index</c> (8 bytes).</summary>
public readonly record struct IfAddrMsg(byte Family, byte PrefixLength, byte Flags, byte Scope, int Index)
{
    public const int Size = 8;

    public void Write(Span<byte> destination)
    {
        destination[0] = Family;
        destination[1] = PrefixLength;
        destination[2] = Flags;
        destination[3] = Scope;
        NativeEndian.WriteInt32(destination[4..], Index);
    }

    /// <exception cref="NetlinkFormatException">Fewer than 8 bytes.</exception>
    public static IfAddrMsg Read(ReadOnlySpan<byte> source) =>
        source.Length < Size
            ? throw new NetlinkFormatException($"truncated ifaddrmsg: {source.Length} of {Size} bytes")
            : new IfAddrMsg(source[0], source[1], source[2], source[3], NativeEndian.ReadInt32(source[4..]));
}

/// <summary>
/// struct rtmsg, the fixed part of RTM_*ROUTE: <c>u8 family, dst_len, src_len, tos, table, protocol, scope, type;
/// u32 flags</c> (12 bytes).
/// </summary>
public readonly record struct RtMsg(byte Family, byte DestinationLength, byte SourceLength, byte Tos, byte Table, byte Protocol, byte Scope, byte Type, uint Flags)
{
    public const int Size = 12;

    public void Write(Span<byte> destination)
    {
        destination[0] = Family;
        destination[1] = DestinationLength;
        destination[2] = SourceLength;
        destination[3] = Tos;
        destination[4] = Table;
        destination[5] = Protocol;
        destination[6] = Scope;
        destination[7] = Type;
        NativeEndian.WriteUInt32(destination[8..], Flags);
    }

    /// <exception cref="NetlinkFormatException">Fewer than 12 bytes.</exception>
    public static RtMsg Read(ReadOnlySpan<byte> source) =>
        source.Length < Size
            ? throw new NetlinkFormatException($"truncated rtmsg: {source.Length} of {Size} bytes")
            : new RtMsg(source[0], source[1], source[2], source[3], source[4], source[5], source[6], source[7], NativeEndian.ReadUInt32(source[8..]));
}
