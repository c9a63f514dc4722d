using Google.Protobuf;
using Mesos;
using Xunit;

namespace NetIsolator.Contracts.Tests;

/// <summary>Bytes that are not a protobuf message are rejected with an exception, never half-parsed.</summary>
public sealed class MalformedInputTests
{
    [Theory]
    [MemberData(nameof(MesosWireFixtures.Names), MemberType = typeof(MesosWireFixtures))]
    public void TruncatedMessageIsRejected(string fixture)
    {
        var bytes = MesosWireFixtures.ReadBinary(fixture);
        var parser = MesosWireFixtures.MessageTypes[fixture].Parser;

        Assert.Throws<InvalidProtocolBufferException>(() => parser.ParseFrom(bytes[..^1]));
    }

    [Theory]
    [InlineData(new byte[] { 0x0A, 0x05, 0x61 })] // a length prefix that runs past the end
    [InlineData(new byte[] { 0x0F, 0x00 })]       // wire type 7, which does not exist
    [InlineData(new byte[] { 0x00 })]             // field number 0
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF })] // a varint cut off in the middle
    public void InvalidEncodingIsRejected(byte[] bytes)
    {
        Assert.Throws<InvalidProtocolBufferException>(() => ContainerID.Parser.ParseFrom(bytes));
    }
}
