using Google.Protobuf;
using Mesos;
using Mesos.Slave;
using Xunit;
using TaskStatus = Mesos.TaskStatus; // not System.Threading.Tasks.TaskStatus (implicit usings)

namespace NetIsolator.Contracts.Tests;

/// <summary>
/// Fields of Mesos's messages that proto/ leaves out (image manifests, health checks, most of TaskStatus...) must
/// reach the other side untouched, because the managed side may hand a message it was given back to Mesos.
/// </summary>
public sealed class UnknownFieldTests
{
    // ContainerConfig.docker (7) and .appc (10) hold image manifests, which proto/ does not declare. The payloads
    // stand in for a manifest: a sub-message with one string field.
    private static readonly byte[] s_dockerField =
        Wire.LengthDelimited(7, Wire.LengthDelimited(1, Wire.LengthDelimited(1, "sha256:5f70bf18a086")));
    private static readonly byte[] s_appcField =
        Wire.LengthDelimited(10, Wire.LengthDelimited(1, Wire.LengthDelimited(2, "example.com/web")));

    [Fact]
    public void UndeclaredFieldsSurviveParseAndSerializeByteForByte()
    {
        // Mesos writes fields in number order, so the two undeclared fields come last, as Google.Protobuf writes
        // unknown fields.
        byte[] mesosBytes = [.. MesosWireFixtures.ReadBinary("container_config_cni"), .. s_dockerField, .. s_appcField];

        var config = ContainerConfig.Parser.ParseFrom(mesosBytes);

        Assert.Equal(mesosBytes, config.ToByteArray());
    }

    [Fact]
    public void UndeclaredFieldsSurviveAChangeToDeclaredFields()
    {
        byte[] mesosBytes = [.. MesosWireFixtures.ReadBinary("container_config_cni"), .. s_dockerField, .. s_appcField];
        var config = ContainerConfig.Parser.ParseFrom(mesosBytes);

        config.User = "root";
        config.EphemeralVolumes.Add("/var/lib/mesos/volumes/tmp-2");
        var written = config.ToByteArray();

        Assert.Equal(Wire.FindLengthDelimited(s_dockerField, 7), Wire.FindLengthDelimited(written, 7));
        Assert.Equal(Wire.FindLengthDelimited(s_appcField, 10), Wire.FindLengthDelimited(written, 10));
        Assert.Equal("root", ContainerConfig.Parser.ParseFrom(written).User);
    }

    [Fact]
    public void UndeclaredFieldsOfNestedMessagesSurvive()
    {
        // TaskInfo.health_check (8) and .kill_policy (12) are not declared; the payloads are opaque here.
        var healthCheck = Wire.LengthDelimited(1, "HTTP");
        var killPolicy = Wire.LengthDelimited(1, "grace");
        var task = new TaskInfo
        {
            Name = "web",
            TaskId = new TaskID { Value = "web.1" },
            SlaveId = new SlaveID { Value = "S1" },
        };
        byte[] taskBytes =
        [
            .. task.ToByteArray(),
            .. Wire.LengthDelimited(8, healthCheck),
            .. Wire.LengthDelimited(12, killPolicy),
        ];
        var config = ContainerConfig.Parser.ParseFrom(MesosWireFixtures.ReadBinary("container_config_cni"));
        config.TaskInfo = TaskInfo.Parser.ParseFrom(taskBytes);

        var roundTripped = ContainerConfig.Parser.ParseFrom(config.ToByteArray()).ToByteArray();

        var writtenTask = Assert.Single(Wire.FindLengthDelimited(roundTripped, 9));
        Assert.Equal(taskBytes, writtenTask);
        Assert.Equal(healthCheck, Assert.Single(Wire.FindLengthDelimited(writtenTask, 8)));
        Assert.Equal(killPolicy, Assert.Single(Wire.FindLengthDelimited(writtenTask, 12)));
    }

    [Fact]
    public void TaskStatusKeepsEveryFieldAlthoughItDeclaresOnlyItsReasonEnum()
    {
        byte[] mesosBytes =
        [
            .. Wire.LengthDelimited(1, Wire.LengthDelimited(1, "web.1")),           // task_id
            .. Wire.Varint(2, (ulong)TaskState.TaskFailed),                         // state
            .. Wire.LengthDelimited(4, "network namespace disappeared"),            // message
            .. Wire.Varint(10, (ulong)TaskStatus.Types.Reason.ContainerLimitation), // reason
        ];

        var status = TaskStatus.Parser.ParseFrom(mesosBytes);

        Assert.Equal(mesosBytes, status.ToByteArray());
    }
}
