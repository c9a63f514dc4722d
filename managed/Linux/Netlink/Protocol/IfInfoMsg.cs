namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>
/// struct ifinfomsg, the fixed part of RTM_*LINK messages: <c>u8 family, u8 pad, u16 type, s32 index, u32 flags,
/// u32 change</c> (16 bytes).
/// </summary>
public readonly record struct IfInfoMsg(byte Family, ushort Type, int Index, uint Flags, uint Change)
{
    public const int Size = 16;

    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"an ifinfomsg needs {Size} bytes, got {destination.Length}", nameof(destination));
        }

        destination[0] = Family;
        destination[1] = 0;
        NativeEndian.WriteUInt16(destination[2..], Type);
        NativeEndian.WriteInt32(destination[4..], Index);
        NativeEndian.WriteUInt32(destination[8..], Flags);
        NativeEndian.WriteUInt32(destination[12..], Change);
    }

    /// <exception cref="NetlinkFormatException">Fewer than 16 bytes.</exception>
    public static IfInfoMsg Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            throw new NetlinkFormatException($"truncated ifinfomsg: {source.Length} of {Size} bytes");
        }

        return new IfInfoMsg(
            source[0],
            NativeEndian.ReadUInt16(source[2..]),
            NativeEndian.ReadInt32(source[4..]),
            NativeEndian.ReadUInt32(source[8..]),
            NativeEndian.ReadUInt32(source[12..]));
    }
}
