using System.Buffers.Binary;
using System.Text;

namespace NetIsolator.Linux.Netlink.Protocol;

/// <summary>
/// Writes one netlink request: the header, the family's fixed part (ifinfomsg, tcmsg, ...), then attributes, which
/// may nest. Lengths are filled in as parts are closed; the sequence number is stamped by the socket when it sends
/// (<see cref="Finish"/>), so an encoder's output is the same bytes every time (golden tests use sequence 0).
/// </summary>
/// <remarks>
/// Every part starts 4-byte aligned and padding is zeroed (NLMSG_ALIGN / NLA_ALIGN). A nested attribute's length
/// covers its children including their padding, as the kernel's nla_nest_end computes it. The NLA_F_NESTED bit is
/// not set: the tc and link parsers of the kernel accept nests without it (the policy-less "deprecated" parsers), as
/// iproute2's requests show.
/// </remarks>
public sealed class NetlinkMessageBuilder
{
    private byte[] _buffer;
    private int _length;

    public NetlinkMessageBuilder(ushort type, ushort flags, int capacity = 256)
    {
        Type = type;
        Flags = flags;
        _buffer = new byte[Math.Max(capacity, NlMsgHeader.Size)];
        _length = NlMsgHeader.Size;
    }

    /// <summary>nlmsg_type.</summary>
    public ushort Type { get; }

    /// <summary>nlmsg_flags, as given (the socket adds nothing).</summary>
    public ushort Flags { get; }

    /// <summary>Bytes written so far, header included.</summary>
    public int Length => _length;

    /// <summary>
    /// Appends <paramref name="size"/> zeroed bytes (padded to 4) for a fixed structure and returns them to fill in.
    /// The span is only valid until the next append.
    /// </summary>
    public Span<byte> Reserve(int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        var start = Grow(NlMsgHeader.Align(size));
        return _buffer.AsSpan(start, size);
    }

    /// <summary>An attribute with a raw payload.</summary>
    public NetlinkMessageBuilder Add(ushort type, ReadOnlySpan<byte> payload)
    {
        var start = Grow(RtAttr.SpaceFor(payload.Length));
        RtAttr.Write(_buffer.AsSpan(start), type, payload);
        return this;
    }

    public NetlinkMessageBuilder AddU8(ushort type, byte value) => Add(type, [value]);

    public NetlinkMessageBuilder AddU16(ushort type, ushort value)
    {
        Span<byte> bytes = stackalloc byte[2];
        NativeEndian.WriteUInt16(bytes, value);
        return Add(type, bytes);
    }

    public NetlinkMessageBuilder AddU32(ushort type, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        NativeEndian.WriteUInt32(bytes, value);
        return Add(type, bytes);
    }

    public NetlinkMessageBuilder AddS32(ushort type, int value) => AddU32(type, unchecked((uint)value));

    public NetlinkMessageBuilder AddU64(ushort type, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        NativeEndian.WriteUInt64(bytes, value);
        return Add(type, bytes);
    }

    /// <summary>A NUL-terminated string (NLA_STRING / NLA_NUL_STRING both accept the terminator).</summary>
    public NetlinkMessageBuilder AddString(ushort type, string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        Span<byte> bytes = count < 256 ? stackalloc byte[count + 1] : new byte[count + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        bytes[count] = 0;
        return Add(type, bytes);
    }

    /// <summary>A 32-bit value in network byte order (an IPv4 address as a number, a u32 key).</summary>
    public NetlinkMessageBuilder AddBigEndianU32(ushort type, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return Add(type, bytes);
    }

    /// <summary>Opens a nested attribute; close it with <see cref="EndNested"/>, passing the returned token.</summary>
    public int BeginNested(ushort type)
    {
        var start = Grow(RtAttr.HeaderSize);
        NativeEndian.WriteUInt16(_buffer.AsSpan(start + 2), type);
        return start;
    }

    /// <summary>Closes the nested attribute opened at <paramref name="token"/>: its length now covers its children.</summary>
    public void EndNested(int token)
    {
        if (token < NlMsgHeader.Size || token + RtAttr.HeaderSize > _length)
        {
            throw new ArgumentOutOfRangeException(nameof(token), token, "not a token returned by BeginNested on this message");
        }

        var length = _length - token;
        if (length > ushort.MaxValue)
        {
            throw new InvalidOperationException($"nested attribute {NativeEndian.ReadUInt16(_buffer.AsSpan(token + 2))} is {length} bytes long; an attribute holds at most 65535");
        }

        NativeEndian.WriteUInt16(_buffer.AsSpan(token), (ushort)length);
    }

    /// <summary>Stamps the length and <paramref name="sequence"/> into the header and returns the whole message.</summary>
    public ReadOnlySpan<byte> Finish(uint sequence)
    {
        new NlMsgHeader((uint)_length, Type, Flags, sequence, 0).Write(_buffer);
        return _buffer.AsSpan(0, _length);
    }

    /// <summary>A copy of <see cref="Finish"/>'s bytes.</summary>
    public byte[] ToArray(uint sequence = 0) => Finish(sequence).ToArray();

    private int Grow(int count)
    {
        var start = _length;
        var needed = start + count;
        if (needed > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(needed, _buffer.Length * 2));
        }

        _buffer.AsSpan(start, count).Clear();
        _length = needed;
        return start;
    }
}
