namespace NetIsolator.Linux.Tests.Netlink;

/// <summary>
/// Fixture builders for golden tests: little-endian (host order on x86-64/arm64) bytes written by hand, without
/// the code under test. Network-order fields use <see cref="Be16"/>/<see cref="Be32"/>.
/// </summary>
internal static class Bytes
{
    public static byte[] U8(byte value) => [value];

    public static byte[] U16(ushort value) => BitConverter.GetBytes(value);

    public static byte[] U32(uint value) => BitConverter.GetBytes(value);

    public static byte[] I32(int value) => BitConverter.GetBytes(value);

    public static byte[] U64(ulong value) => BitConverter.GetBytes(value);

    public static byte[] Be16(ushort value) => [(byte)(value >> 8), (byte)value];

    public static byte[] Be32(uint value) => [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value];

    public static byte[] Zeros(int count) => new byte[count];

    public static byte[] Str(string value) => [.. System.Text.Encoding.ASCII.GetBytes(value), 0];

    public static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    public static byte[] Pad(byte[] bytes) => [.. bytes, .. new byte[(4 - (bytes.Length % 4)) % 4]];

    /// <summary>An attribute: u16 length (header + payload, unpadded), u16 type, payload, zero padding.</summary>
    public static byte[] Attr(ushort type, params byte[][] payload)
    {
        var body = Concat(payload);
        return Pad([.. U16((ushort)(4 + body.Length)), .. U16(type), .. body]);
    }

    /// <summary>A nested attribute: its length covers its children with their padding.</summary>
    public static byte[] Nest(ushort type, params byte[][] children) => Attr(type, Concat(children));

    /// <summary>A message: u32 length, u16 type, u16 flags, u32 seq, u32 port id, body (padded).</summary>
    public static byte[] Message(ushort type, ushort flags, uint seq, params byte[][] body)
    {
        var payload = Pad(Concat(body));
        return [.. U32((uint)(16 + payload.Length)), .. U16(type), .. U16(flags), .. U32(seq), .. U32(0), .. payload];
    }

    /// <summary>struct tcmsg.</summary>
    public static byte[] TcMsg(int index, uint handle, uint parent, uint info) => Concat(Zeros(4), I32(index), U32(handle), U32(parent), U32(info));

    /// <summary>struct ifinfomsg with only the index (and flags/change) set.</summary>
    public static byte[] IfInfo(int index = 0, uint flags = 0, uint change = 0) => Concat(Zeros(4), I32(index), U32(flags), U32(change));
}
