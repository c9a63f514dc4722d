using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NetIsolator.Linux.Netlink.Tc;

/// <summary>
/// One u32 match key: the 32-bit big-endian word at <see cref="Offset"/> bytes from the network header, ANDed with
/// <see cref="Mask"/>, must equal <see cref="Value"/>. Value and mask are written as that word reads in network
/// order (the IHL key is <c>0x05000000/0x0f000000</c>); the encoder puts them on the wire big-endian.
/// </summary>
/// <remarks>
/// On ingress and egress alike the offset counts from the network header: the Ethernet destination MAC is at -14,
/// so reading it needs the words at -16 and -12. Offsets past the IP header assume it has no options (a key on
/// IHL == 5 makes that true). <see cref="OffsetMask"/> is for the "nexthdr" offsets of hashing tables, unused here.
/// </remarks>
public readonly record struct U32Key(uint Value, uint Mask, int Offset, int OffsetMask = 0)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Value:x8}/{Mask:x8} at {Offset}");
}

/// <summary>
/// Keys for IPv4 headers and ports, as Mesos's IP and ICMP classifiers build them (reference §0.1). Only the
/// encoding lives here; which keys make a filter is the caller's plan.
/// </summary>
public static class U32Match
{
    /// <summary>IPv4 header length 5 words (no options): byte 0's low nibble. Packets with options never match.</summary>
    public static U32Key HeaderLengthIsFive() => new(0x05000000, 0x0f000000, 0);

    /// <summary>IPv4 protocol (byte 9): 1 ICMP, 6 TCP, 17 UDP.</summary>
    public static U32Key Protocol(byte protocol) => new((uint)protocol << 16, 0x00ff0000, 8);

    /// <summary>IPv4 destination address (bytes 16-19).</summary>
    public static U32Key Destination(IPAddress address) => new(ToWord(address), 0xffffffff, 16);

    /// <summary>IPv4 source address (bytes 12-15).</summary>
    public static U32Key Source(IPAddress address) => new(ToWord(address), 0xffffffff, 12);

    /// <summary>
    /// Source ports <paramref name="begin"/> .. begin + ~mask (the first half of the word after a 20-byte IP
    /// header; TCP and UDP alike). A power-of-two sized, aligned range is one key: [4,7] is begin 4, mask 0xfffc.
    /// </summary>
    public static U32Key SourcePorts(ushort begin, ushort mask) => PortKey(begin, mask, shift: 16);

    /// <summary>Destination ports, as <see cref="SourcePorts"/> (the second half of that word).</summary>
    public static U32Key DestinationPorts(ushort begin, ushort mask) => PortKey(begin, mask, shift: 0);

    /// <summary>The Ethernet destination MAC: two keys, bytes 0-1 in the low half of the word at -16, bytes 2-5 at -12.</summary>
    public static U32Key[] DestinationMac(MacAddress mac)
    {
        Span<byte> bytes = stackalloc byte[MacAddress.Size];
        mac.CopyTo(bytes);
        return
        [
            new U32Key(((uint)bytes[0] << 8) | bytes[1], 0x0000ffff, -16),
            new U32Key(BinaryPrimitives.ReadUInt32BigEndian(bytes[2..]), 0xffffffff, -12),
        ];
    }

    /// <summary>A key every packet matches (value 0, mask 0): a u32 stand-in for the <c>basic</c> or <c>matchall</c> classifier.</summary>
    public static U32Key Everything() => new(0, 0, 0);

    private static U32Key PortKey(ushort begin, ushort mask, int shift)
    {
        if ((begin & ~mask & 0xffff) != 0)
        {
            throw new ArgumentException($"port {begin} is not aligned to mask 0x{mask:x4}: the range would not start at it", nameof(begin));
        }

        return new U32Key((uint)begin << shift, (uint)mask << shift, 20);
    }

    private static uint ToWord(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"{address} is not an IPv4 address", nameof(address));
        }

        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }
}

/// <summary>
/// A u32 filter handle: <c>htid:bucket:node</c> = 12, 8 and 12 bits, printed as tc prints it (<c>800::801</c>).
/// </summary>
/// <remarks>
/// Every priority of u32 filters on a parent has its own root hash table, whose htid the kernel picks (800, 801, ...
/// in order of creation, per link); its entries are nodes of bucket 0. A new filter given only a node id
/// (htid 0: <see cref="Node(uint)"/>) goes into the root table of its priority with that node id; given 0 the kernel
/// picks the lowest free node from 0x800. To change or delete a filter the kernel needs the full handle, which
/// <see cref="FilterOperations.AddFilter(NetlinkSocket, Route.LinkId, TcFilter, out uint)"/> and dumps return.
/// </remarks>
public static class U32Handle
{
    public static uint Make(uint htid, uint bucket, uint node) => ((htid & 0xfff) << 20) | ((bucket & 0xff) << 12) | (node & 0xfff);

    /// <summary>Node id only (htid 0): "this node in the root table of the filter's priority".</summary>
    public static uint Node(uint node) =>
        node is > 0 and <= 0xfff ? node : throw new ArgumentOutOfRangeException(nameof(node), node, "a u32 node id is 1..0xfff");

    public static uint HashTableOf(uint handle) => handle >> 20;

    public static uint BucketOf(uint handle) => (handle >> 12) & 0xff;

    public static uint NodeOf(uint handle) => handle & 0xfff;

    public static string Format(uint handle) =>
        string.Create(CultureInfo.InvariantCulture, $"{HashTableOf(handle):x}:{(BucketOf(handle) == 0 ? "" : BucketOf(handle).ToString("x", CultureInfo.InvariantCulture))}:{(NodeOf(handle) == 0 ? "" : NodeOf(handle).ToString("x", CultureInfo.InvariantCulture))}");
}
