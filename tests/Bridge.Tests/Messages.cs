using Mesos;
using Mesos.Slave;

namespace NetIsolator.Bridge.Tests;

/// <summary>Small, complete (all required fields set) Mesos messages for the tests to start from.</summary>
internal static class Messages
{
    public static ContainerID Id(string value, ContainerID? parent = null) =>
        parent is null ? new ContainerID { Value = value } : new ContainerID { Value = value, Parent = parent };

    public static ContainerConfig Config(string directory = "/var/lib/mesos/sandbox") => new()
    {
        CommandInfo = new CommandInfo { Value = "sleep 1000" },
        Directory = directory,
    };

    public static Resource Scalar(string name, double value) => new()
    {
        Name = name,
        Type = Value.Types.Type.Scalar,
        Scalar = new Value.Types.Scalar { Value = value },
    };

    public static Resource Ports(ulong begin, ulong end) => new()
    {
        Name = "ports",
        Type = Value.Types.Type.Ranges,
        Ranges = new Value.Types.Ranges { Range = { new Value.Types.Range { Begin = begin, End = end } } },
    };

    public static ContainerState State(string id, ulong pid) => new()
    {
        ContainerId = Id(id),
        Pid = pid,
        Directory = $"/sandbox/{id}",
    };
}
