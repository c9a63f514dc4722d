using Google.Protobuf;

namespace NetIsolator.Contracts.Tests;

/// <summary>
/// Hand encoding and decoding of protobuf fields, independent of any generated class: the tests use it to write
/// fields our declarations do not know and to find them again in what the generated classes wrote.
/// </summary>
internal static class Wire
{
    public static byte[] LengthDelimited(int fieldNumber, byte[] payload) => Encode(output =>
    {
        output.WriteTag(fieldNumber, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(payload));
    });

    public static byte[] LengthDelimited(int fieldNumber, string text) => Encode(output =>
    {
        output.WriteTag(fieldNumber, WireFormat.WireType.LengthDelimited);
        output.WriteString(text);
    });

    public static byte[] Varint(int fieldNumber, ulong value) => Encode(output =>
    {
        output.WriteTag(fieldNumber, WireFormat.WireType.Varint);
        output.WriteUInt64(value);
    });

    /// <summary>The payloads of every length-delimited field <paramref name="fieldNumber"/> at the top level of
    /// <paramref name="message"/>, in order. Other fields are skipped.</summary>
    public static List<byte[]> FindLengthDelimited(byte[] message, int fieldNumber)
    {
        var found = new List<byte[]>();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == fieldNumber &&
                WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                found.Add(input.ReadBytes().ToByteArray());
            }
            else
            {
                input.SkipLastField();
            }
        }
        return found;
    }

    private static byte[] Encode(Action<CodedOutputStream> write)
    {
        using var buffer = new MemoryStream();
        using (var output = new CodedOutputStream(buffer, leaveOpen: true))
        {
            write(output);
        }
        return buffer.ToArray();
    }
}
