namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>
/// struct tcmsg, the fixed part of every qdisc, class and filter message: <c>u8 family, u8 pad1, u16 pad2,
/// s32 ifindex, u32 handle, u32 parent, u32 info</c> (20 bytes). For filters, <c>info</c> is
/// <c>priority &lt;&lt; 16 | htons(protocol)</c>; for classes in dumps, the handle of the class's leaf qdisc.
/// </summary>
public readonly record struct TcMsg(int Index, uint Handle, uint Parent, uint Info)
{
    public const int Size = 20;

    public void Write(Span<byte> destination)
    {
        destination[..4].Clear(); // AF_UNSPEC and padding
        NativeEndian.WriteInt32(destination[4..], Index);
        NativeEndian.WriteUInt32(destination[8..], Handle);
        NativeEndian.WriteUInt32(destination[12..], Parent);
        NativeEndian.WriteUInt32(destination[16..], Info);
    }

    /// <exception cref="NetlinkFormatException">Fewer than 20 bytes.</exception>
    public static TcMsg Read(ReadOnlySpan<byte> source) =>
        source.Length < Size
            ? throw new NetlinkFormatException($"truncated tcmsg: {source.Length} of {Size} bytes")
            : new TcMsg(NativeEndian.ReadInt32(source[4..]), NativeEndian.ReadUInt32(source[8..]), NativeEndian.ReadUInt32(source[12..]), NativeEndian.ReadUInt32(source[16..]));

    /// <summary>A filter's tcm_info: the priority in the high half, the protocol in network byte order in the low half.</summary>
    public static uint FilterInfo(ushort priority, ushort protocol) => ((uint)priority << 16) | HostToNetwork(protocol);

    /// <summary>The priority of a filter's tcm_info.</summary>
    public static ushort FilterPriority(uint info) => (ushort)(info >> 16);

    /// <summary>The protocol of a filter's tcm_info, in host order.</summary>
    public static ushort FilterProtocol(uint info) => HostToNetwork((ushort)info);

    // htons and ntohs are the same swap.
    private static ushort HostToNetwork(ushort value) =>
        BitConverter.IsLittleEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(value) : value;
}
