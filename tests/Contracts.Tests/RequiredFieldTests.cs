using Google.Protobuf;
using Mesos;
using Xunit;

namespace NetIsolator.Contracts.Tests;

/// <summary>
/// proto2 <c>required</c> labels are declared as Mesos declares them. The C# runtime does not enforce them when
/// parsing or serializing, but Mesos's C++ side rejects a message that lacks one, so <c>IsInitialized()</c> must
/// see them.
/// </summary>
public sealed class RequiredFieldTests
{
    [Fact]
    public void MessageWithoutARequiredFieldParsesButIsNotInitialized()
    {
        // net_rx_bytes (15) alone: ResourceStatistics.timestamp is required.
        var statistics = ResourceStatistics.Parser.ParseFrom(Wire.Varint(15, 987654));

        Assert.Equal(987654UL, statistics.NetRxBytes);
        Assert.False(statistics.IsInitialized());

        statistics.Timestamp = 1763900000.25;
        Assert.True(statistics.IsInitialized());
    }

    [Fact]
    public void IsInitializedLooksInsideNestedMessages()
    {
        var ports = new Resource
        {
            Name = "ports",
            Type = Value.Types.Type.Ranges,
            Ranges = new Value.Types.Ranges { Range = { new Value.Types.Range { Begin = 31000 } } },
        };

        Assert.False(ports.IsInitialized());

        ports.Ranges.Range[0].End = 31009;
        Assert.True(ports.IsInitialized());
    }
}
