using System.Net;
using System.Net.Sockets;
using Mesos;
using NetIsolator.Isolators.PortMappingIsolation.Statistics;
using NetIsolator.Linux;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.PortMapping;

/// <summary>
/// What usage reports from inside a container (Mesos's <c>statistics</c> helper, reference §4.2): the parsers of
/// sockstat and snmp, Mesos's RTT percentiles, and the whole path on a real kernel (Mesos's test 18).
/// </summary>
public sealed class StatisticsTests
{
    private const string Snmp =
        "Ip: Forwarding DefaultTTL InReceives\nIp: 1 64 1234\n" +
        "Icmp: InMsgs InErrors\nIcmp: 5 0\n" +
        "IcmpMsg: InType3 OutType3\nIcmpMsg: 2 2\n" +
        "Tcp: RtoAlgorithm MaxConn RetransSegs\nTcp: 1 -1 9\n" +
        "Udp: InDatagrams IgnoredMulti\nUdp: 3 4\n";

    [Fact]
    public void Snmp_KeepsMesosSections_WithSignedValues()
    {
        var sections = ContainerNetworkStatistics.ParseSnmp(Snmp);
        Assert.Equal(["Icmp", "Ip", "Tcp", "Udp"], sections.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(1234, sections["Ip"]["InReceives"]);
        Assert.Equal(-1, sections["Tcp"]["MaxConn"]);
        Assert.Equal(9, sections["Tcp"]["RetransSegs"]);
        Assert.Equal(4, sections["Udp"]["IgnoredMulti"]);
    }

    [Theory]
    [InlineData("Ip: Forwarding\nIp: x\n", "not an integer")]
    [InlineData("Ip: Forwarding DefaultTTL\nIp: 1\n", "do not match")]
    [InlineData("Ip Forwarding\nIp: 1\n", "is not 'Section: fields'")]
    public void Snmp_Malformed_Fails(string text, string message) =>
        Assert.Contains(message, Assert.Throws<FormatException>(() => ContainerNetworkStatistics.ParseSnmp(text)).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("sockets: used 5\nTCP: inuse 3 orphan 0 tw 7 alloc 4 mem 1\nUDP: inuse 0 mem 0\n", 3UL, 7UL)]
    [InlineData("sockets: used 5\nTCP: inuse x orphan 0 tw\n", null, null)]
    [InlineData("sockets: used 5\n", null, null)]
    public void Sockstat_TcpInUseAndTimeWait(string text, ulong? inUse, ulong? timeWait) =>
        Assert.Equal((inUse, timeWait), ContainerNetworkStatistics.ParseSockstat(text));

    [Fact]
    public void RttPercentiles_AreMesosNearestRankByTruncatedIndex()
    {
        // n = 10: p50 = sorted[5], p90 = sorted[9], p95 = sorted[9] (⌊9.5⌋), p99 = sorted[9].
        var rtts = new uint[] { 100, 90, 80, 70, 60, 50, 40, 30, 20, 10 };
        Assert.Equal(new RttPercentiles(60, 100, 100, 100), ContainerNetworkStatistics.Percentiles(rtts));
        Assert.Equal(new RttPercentiles(7, 7, 7, 7), ContainerNetworkStatistics.Percentiles([7]));
        Assert.Null(ContainerNetworkStatistics.Percentiles([]));
    }

    [RootFact]
    public Task Usage_WithAllStatistics_ReportsConnectionsRttAndSnmp_FromInsideTheContainer() => PortMappingSandbox.RunAsync(async sandbox =>
    {
        var options = sandbox.Options() with { SocketStatisticsSummary = true, SocketStatisticsDetails = true, SnmpStatistics = true };
        await using var isolator = sandbox.CreateIsolator(options);
        var id = new ContainerID { Value = "stats" };
        var pid = await sandbox.LaunchAsync(isolator, id, "[31000-31000]");
        var container = $"/proc/{pid}/ns/net";
        var before = await isolator.UsageAsync(id);
        Assert.Equal(0, before.NetTcpActiveConnections);
        Assert.False(before.HasNetTcpRttMicrosecsP50);

        // A connection inside the container (to itself, over its lo): one listener and two ends in use, with an RTT.
        using var listener = PortMappingSandbox.Listen(container, 31000);
        using var ns = NetworkNamespace.Open(container);
        using var client = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        client.Connect(new IPEndPoint(IPAddress.Loopback, 31000));
        using var accepted = listener.Accept();
        client.Send(new byte[1000]);
        Assert.Equal(1000, accepted.Receive(new byte[2000]));

        var usage = await isolator.UsageAsync(id);
        Assert.True(usage.NetTcpActiveConnections >= 3, $"active connections {usage.NetTcpActiveConnections}");
        Assert.True(usage.HasNetTcpRttMicrosecsP50 && usage.NetTcpRttMicrosecsP50 > 0, $"rtt p50 {usage.NetTcpRttMicrosecsP50}");
        Assert.True(usage.NetSnmpStatistics.TcpStats.ActiveOpens >= 1, $"Tcp ActiveOpens {usage.NetSnmpStatistics.TcpStats.ActiveOpens}");
        Assert.True(usage.NetSnmpStatistics.IpStats.HasForwarding);
        // Another container's counters are its own: it made no connection.
        var quiet = new ContainerID { Value = "quiet" };
        await sandbox.LaunchAsync(isolator, quiet, "[31001-31001]");
        var other = await isolator.UsageAsync(quiet);
        Assert.Equal((0.0, 0L), (other.NetTcpActiveConnections, other.NetSnmpStatistics.TcpStats.ActiveOpens));
        await isolator.CleanupAsync(quiet);
        await isolator.CleanupAsync(id);
    });

}
