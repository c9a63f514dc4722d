using Xunit;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Mesos;
using Mesos.Slave;

namespace NetIsolator.Contracts.Tests;

/// <summary>
/// The Mesos wire test vectors in <c>Fixtures/mesos-wire</c>: each <c>&lt;name&gt;.bin</c> was encoded with Mesos's
/// own schema and <c>&lt;name&gt;.json</c> holds the same message as protobuf JSON (see the README beside them).
/// </summary>
internal static class MesosWireFixtures
{
    public static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mesos-wire");

    /// <summary>The message type of each vector, as the fixtures' README names it.</summary>
    public static readonly IReadOnlyDictionary<string, MessageDescriptor> MessageTypes =
        new Dictionary<string, MessageDescriptor>
        {
            ["container_config_cni"] = ContainerConfig.Descriptor,
            ["container_launch_info"] = ContainerLaunchInfo.Descriptor,
            ["container_limitation"] = ContainerLimitation.Descriptor,
            ["container_state_nested"] = ContainerState.Descriptor,
            ["container_status_two_networks"] = ContainerStatus.Descriptor,
            ["resource_ports"] = Resource.Descriptor,
            ["resource_statistics_net"] = ResourceStatistics.Descriptor,
        };

    /// <summary>Every fixture name, for [MemberData] theories.</summary>
    public static TheoryData<string> Names => new(MessageTypes.Keys.Order(StringComparer.Ordinal));

    public static byte[] ReadBinary(string name) => File.ReadAllBytes(Path.Combine(Directory, name + ".bin"));

    public static IMessage ParseBinary(string name) => MessageTypes[name].Parser.ParseFrom(ReadBinary(name));

    /// <summary>Parses the JSON twin. An unknown JSON name is an error, so a field proto/ lacks fails here.</summary>
    public static IMessage ParseJson(string name) =>
        JsonParser.Default.Parse(File.ReadAllText(Path.Combine(Directory, name + ".json")), MessageTypes[name]);
}
