using Google.Protobuf;
using Mesos;
using Mesos.Slave;
using NetIsolator.Contracts.Bridge;
using Xunit;

namespace NetIsolator.Contracts.Tests;

/// <summary>The bridge's envelopes (proto/netisolator/bridge.proto) carry Mesos's messages unchanged.</summary>
public sealed class BridgeEnvelopeTests
{
    [Fact]
    public void PrepareRequestCarriesTheContainerConfigBytesVerbatim()
    {
        var configBytes = MesosWireFixtures.ReadBinary("container_config_cni");
        var request = new PrepareRequest
        {
            ContainerId = new ContainerID { Value = "c1" },
            ContainerConfig = ContainerConfig.Parser.ParseFrom(configBytes),
        };

        var envelope = request.ToByteArray();

        // What a native host writes by hand: field 1 = the ContainerID, field 2 = the ContainerConfig's bytes.
        byte[] handWritten =
        [
            .. Wire.LengthDelimited(1, new ContainerID { Value = "c1" }.ToByteArray()),
            .. Wire.LengthDelimited(2, configBytes),
        ];
        Assert.Equal(handWritten, envelope);

        var received = PrepareRequest.Parser.ParseFrom(envelope);
        Assert.Equal(request, received);
        Assert.True(received.IsInitialized());
        Assert.Equal(configBytes, received.ContainerConfig.ToByteArray());
    }
}
