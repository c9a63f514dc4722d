using System.Collections;
using System.Diagnostics;
using System.Text.Json;
using NetIsolator.Helpers.PortMapping;
using NetIsolator.Isolators.PortMappingIsolation.Statistics;
using NetIsolator.Linux.Netlink.Tc;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Helpers.Tests;

/// <summary>
/// Mesos's <c>mesos-network-helper</c> subcommands (<c>update</c>, <c>statistics</c>, <c>htb_config</c>): their flags
/// and exit codes in-process, and build/bin/netisolator-helper (the NativeAOT executable) against a process in a
/// network namespace of its own, with a veth <c>eth0</c> standing for the veth end the isolator would put there.
/// </summary>
public sealed class PortMappingSubcommandsTests : IDisposable
{
    private readonly List<ContainerProcess> _containers = [];

    public void Dispose()
    {
        foreach (var container in _containers)
        {
            container.Dispose();
        }
    }

    [Theory]
    [InlineData("update", "--pid=1 --lo_name=lo", "The public interface name (eth0) is not specified")]
    [InlineData("update", "--pid=1 --eth0_name=eth0", "The loopback interface name (lo) is not specified")]
    [InlineData("update", "--eth0_name=eth0 --lo_name=lo", "The container PID is not specified")]
    [InlineData("update", "--pid=1 --eth0_name=eth0 --lo_name=lo", "Nothing to update")]
    [InlineData("statistics", "--eth0_name=eth0 --pid=x", "Invalid container PID 'x'")]
    [InlineData("htb_config", "--pid=1 --bogus=1", "Failed to parse the flags")]
    public void BadCommandLines_ExitOne_AndSayWhy(string subcommand, string arguments, string message)
    {
        var (exit, stdout, stderr) = RunInProcess(subcommand, arguments.Split(' '));
        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"range\":[{\"begin\":4,\"end\":11}]}", "Invalid port range [4,11]")]
    [InlineData("{\"range\":[{\"begin\":1,\"end\":0}]}", "Invalid port range [1,0]")]
    [InlineData("[1,2]", "Failed to parse 'ports_to_add'")]
    public void Update_RejectsRangesThatAreNotAlignedPowerOfTwoBlocks(string json, string message)
    {
        var (exit, _, stderr) = RunInProcess("update", "--pid=1", "--eth0_name=eth0", "--lo_name=lo", $"--ports_to_add={json}");
        Assert.Equal(1, exit);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Update_RequiresTheHtbRate()
    {
        var (exit, _, stderr) = RunInProcess("update", "--pid=1", "--eth0_name=eth0", "--lo_name=lo", "--htb_config={\"ceil\":5}");
        Assert.Equal(1, exit);
        Assert.Contains("Mandatory HTB rate not specified", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("update")]
    [InlineData("statistics")]
    [InlineData("htb_config")]
    public void Help_GoesToStderr_AndSucceeds_EvenAsTheAgentPassesIt(string subcommand)
    {
        var (exit, stdout, stderr) = RunInProcess(subcommand, "--help");
        Assert.Equal((0, ""), (exit, stdout));
        Assert.Contains("--pid=VALUE", stderr, StringComparison.Ordinal);
        // The agent passes every flag with a value, --help=false included: that is a normal run, not help.
        (exit, _, stderr) = RunInProcess(subcommand, "--help=false");
        Assert.Equal(1, exit);
        Assert.DoesNotContain("Usage", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void StatisticsJson_HasMesosFieldNames_TimestampZero_AndOnlyWhatWasGathered()
    {
        var statistics = new ContainerNetworkStatistics
        {
            TcpActiveConnections = 3,
            Rtt = new RttPercentiles(10, 20, 30, 40),
            Snmp = new Dictionary<string, IReadOnlyDictionary<string, long>> { ["Tcp"] = new Dictionary<string, long> { ["RetransSegs"] = 7 } },
            TrafficControl = [("bw_limit", new TcStatistics(100, 2, 0, 0, 1, 0, 5, 0, 0))],
        };
        var json = PortMappingSubcommands.StatisticsJson(statistics);
        Assert.False(json.EndsWith('\n'));
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal(0, root.GetProperty("timestamp").GetInt32());
        Assert.Equal(3, root.GetProperty("net_tcp_active_connections").GetInt32());
        Assert.False(root.TryGetProperty("net_tcp_time_wait_connections", out _));
        Assert.Equal(30, root.GetProperty("net_tcp_rtt_microsecs_p95").GetDouble());
        Assert.Equal(7, root.GetProperty("net_snmp_statistics").GetProperty("tcp_stats").GetProperty("RetransSegs").GetInt64());
        var tc = root.GetProperty("net_traffic_control_statistics")[0];
        Assert.Equal(("bw_limit", 100UL), (tc.GetProperty("id").GetString(), tc.GetProperty("bytes").GetUInt64()));
    }

    [RootFact]
    public void Update_AddsAndRemovesTheContainersPortFilters_AndShaping_HtbConfigReadsIt()
    {
        var pid = StartContainer();
        var add = "{\"range\":[{\"begin\":31000,\"end\":31007},{\"begin\":32768,\"end\":33791}]}";
        Helper(0, "update", $"--pid={pid}", "--eth0_name=eth0", "--lo_name=lo", $"--ports_to_add={add}", "--help=false");
        Assert.Equal(2, Filters(pid, "lo").Count(l => l.Contains("pref 769", StringComparison.Ordinal)));
        Assert.Equal(2, Filters(pid, "eth0").Count(l => l.Contains("pref 770", StringComparison.Ordinal)));
        // Adding again fails: Mesos treats an existing filter as an error.
        Assert.Contains("already exists", Helper(1, "update", $"--pid={pid}", "--eth0_name=eth0", "--lo_name=lo", $"--ports_to_add={add}").Stderr, StringComparison.Ordinal);

        Helper(0, "update", $"--pid={pid}", "--eth0_name=eth0", "--lo_name=lo", "--ports_to_remove={\"range\":[{\"begin\":31000,\"end\":31007}]}");
        Assert.Single(Filters(pid, "lo"), l => l.Contains("pref 769", StringComparison.Ordinal));
        Assert.Contains("does not exist", Helper(1, "update", $"--pid={pid}", "--eth0_name=eth0", "--lo_name=lo", "--ports_to_remove={\"range\":[{\"begin\":31000,\"end\":31007}]}").Stderr, StringComparison.Ordinal);

        Assert.Equal("{}", Helper(0, "htb_config", $"--pid={pid}", "--eth0_name=eth0").Stdout);
        Helper(0, "update", $"--pid={pid}", "--eth0_name=eth0", "--lo_name=lo", "--htb_config={\"rate\":2000}");
        using (var config = JsonDocument.Parse(Helper(0, "htb_config", $"--pid={pid}", "--eth0_name=eth0").Stdout))
        {
            Assert.Equal(2000UL, config.RootElement.GetProperty("rate").GetUInt64());
        }

        Helper(0, "update", $"--pid={pid}", "--eth0_name=eth0", "--lo_name=lo", "--htb_config={}");
        Assert.Equal("{}", Helper(0, "htb_config", $"--pid={pid}", "--eth0_name=eth0").Stdout);
    }

    [RootFact]
    public void Statistics_GivesExactlyTheFieldGroupsAskedFor()
    {
        var pid = StartContainer();
        Helper(0, "update", $"--pid={pid}", "--eth0_name=eth0", "--lo_name=lo", "--htb_config={\"rate\":125000}");
        // Mesos's ROOT_NC_PortMappingStatistics combinations: (summary, details, snmp).
        foreach (var (summary, details, snmp) in new[] { (true, true, true), (true, false, false), (false, true, true), (false, false, false) })
        {
            var stdout = Helper(0, "statistics", $"--pid={pid}", "--eth0_name=eth0",
                $"--enable_socket_statistics_summary={Flag(summary)}", $"--enable_socket_statistics_details={Flag(details)}", $"--enable_snmp_statistics={Flag(snmp)}").Stdout;
            using var document = JsonDocument.Parse(stdout);
            var root = document.RootElement;
            Assert.Equal(summary, root.TryGetProperty("net_tcp_active_connections", out _));
            Assert.Equal(summary, root.TryGetProperty("net_tcp_time_wait_connections", out _));
            Assert.Equal(snmp, root.TryGetProperty("net_snmp_statistics", out var sections) && sections.GetProperty("tcp_stats").TryGetProperty("RetransSegs", out _));
            // No TCP socket has an RTT in a fresh namespace: details asked for, nothing to report (Mesos: all four or none).
            Assert.False(root.TryGetProperty("net_tcp_rtt_microsecs_p50", out _));
            Assert.Equal("bw_limit", root.GetProperty("net_traffic_control_statistics")[0].GetProperty("id").GetString());
        }

        // A pid that is gone: exit 1 without a word, as Mesos.
        using var gone = ContainerProcess.Start(mount: false);
        var gonePid = gone.Pid;
        gone.Kill();
        Assert.Equal("", Helper(1, "statistics", $"--pid={gonePid}", "--eth0_name=eth0").Stderr);
    }

    private static string Flag(bool value) => value ? "true" : "false";

    private int StartContainer()
    {
        var container = ContainerProcess.Start(mount: false);
        _containers.Add(container);
        // The veth end the isolator would have put there (its peer stays in the namespace too), with the ingress
        // qdiscs of its set-up.
        InContainer(container.Pid, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0peer");
        InContainer(container.Pid, "ip", "link", "set", "eth0", "up");
        InContainer(container.Pid, "ip", "link", "set", "eth0peer", "up");
        InContainer(container.Pid, "ip", "link", "set", "lo", "up");
        InContainer(container.Pid, "tc", "qdisc", "add", "dev", "eth0", "ingress");
        InContainer(container.Pid, "tc", "qdisc", "add", "dev", "lo", "ingress");
        return container.Pid;
    }

    private static List<string> Filters(int pid, string device) =>
        [.. InContainer(pid, "tc", "filter", "show", "dev", device, "ingress").Split('\n').Where(l => l.Contains("fh ", StringComparison.Ordinal) && !l.Contains("ht divisor", StringComparison.Ordinal))];

    private static string InContainer(int pid, params string[] command)
    {
        var (exit, stdout, stderr) = Execute("nsenter", [$"--net=/proc/{pid}/ns/net", .. command]);
        Assert.True(exit == 0, $"{string.Join(' ', command)}: {stderr}");
        return stdout;
    }

    private static (string Stdout, string Stderr) Helper(int expectedExit, params string[] arguments)
    {
        var (exit, stdout, stderr) = Execute(BuildTree.Helper, arguments);
        Assert.True(exit == expectedExit, $"netisolator-helper {string.Join(' ', arguments)} exited {exit}, not {expectedExit}: {stderr}");
        return (stdout, stderr);
    }

    private static (int Exit, string Stdout, string Stderr) Execute(string program, IEnumerable<string> arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }

    private static (int Exit, string Stdout, string Stderr) RunInProcess(string subcommand, params string[] arguments)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var run = PortMappingSubcommands.All(new Hashtable(), stdout, stderr).Single(s => s.Name == subcommand).Run;
        return (run(arguments), stdout.ToString(), stderr.ToString());
    }
}
