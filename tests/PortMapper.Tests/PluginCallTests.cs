using System.Collections;
using System.Text;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Invocation;
using NetIsolator.Cni.Results;
using NetIsolator.Cni.Versions;
using NetIsolator.PortMapper.Config;
using NetIsolator.PortMapper.Plugin;
using Xunit;

namespace NetIsolator.PortMapper.Tests;

/// <summary>
/// The plugin in-process with a fake delegate executor, on requests that must fail (or answer) before any rule or
/// delegate is touched: nothing here reaches iptables or the network.
/// </summary>
public sealed class PluginCallTests
{
    private const string Config = """
        {"cniVersion":"0.4.0","name":"n","chain":"PM","delegate":{"type":"bridge"},"runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80}]}}
        """;

    [Fact]
    public void Version_NeedsOnlyCniCommand_AndListsEveryVersion()
    {
        var (code, stdout, executor) = Run(new Hashtable { ["CNI_COMMAND"] = "VERSION" }, """{"cniVersion":"0.3.1"}""");
        Assert.Equal(0, code);
        var answer = JsonNode.Parse(stdout)!;
        Assert.Equal("0.3.1", (string?)answer["cniVersion"]);
        Assert.Equal(CniVersion.Supported.Select(v => v.ToString()), answer["supportedVersions"]!.AsArray().Select(v => (string?)v));
        Assert.Empty(executor.Calls);
    }

    [Theory]
    [InlineData("ADD", null, "missing environment variable CNI_CONTAINERID", 101)]
    [InlineData("ADD", "CNI_NETNS", "missing environment variable CNI_NETNS", 101)]
    [InlineData("DEL", "CNI_IFNAME", "missing environment variable CNI_IFNAME", 101)]
    [InlineData("CHECK", "CNI_PATH", "missing environment variable CNI_PATH", 101)]
    [InlineData("BOGUS", null, "Unsupported command: BOGUS", 104)]
    public void MissingVariables_AndUnknownCommands_UseMesossCodes(string command, string? unset, string message, int code)
    {
        var environment = Environment(command);
        if (unset is not null)
        {
            environment.Remove(unset);
        }
        else if (command == "ADD")
        {
            environment.Remove("CNI_CONTAINERID");
        }

        var (exit, stdout, executor) = Run(environment, Config);
        Assert.Equal(1, exit);
        var error = JsonNode.Parse(stdout)!;
        Assert.Equal(code, (int)error["code"]!);
        Assert.Contains(message, (string?)error["msg"], StringComparison.Ordinal);
        Assert.Empty(executor.Calls);
    }

    [Fact]
    public void InvalidContainerId_AndDelegateNotFound_AreCode101_BeforeAnythingRuns()
    {
        var environment = Environment("ADD");
        environment["CNI_CONTAINERID"] = "bad id";
        var (exit, stdout, executor) = Run(environment, Config);
        Assert.Equal((1, 101), (exit, (int)JsonNode.Parse(stdout)!["code"]!));
        Assert.Contains("CNI_CONTAINERID", stdout, StringComparison.Ordinal);

        (exit, stdout, executor) = Run(Environment("ADD"), Config, pluginMissing: true);
        Assert.Equal((1, 101), (exit, (int)JsonNode.Parse(stdout)!["code"]!));
        Assert.Contains("delegate", stdout, StringComparison.Ordinal);
        Assert.Empty(executor.Calls);
    }

    [Fact]
    public void DelegateFailure_IsCode102_WithTheDelegatesError()
    {
        var executor = new FakeExecutor { Failure = new CniPluginException("bridge ADD failed (exit 1): [code 11] busy") };
        var (exit, stdout, _) = Run(Environment("ADD"), """{"name":"n","chain":"PM","delegate":{"type":"bridge"}}""", executor: executor);
        Assert.Equal(1, exit);
        var error = JsonNode.Parse(stdout)!;
        Assert.Equal(102, (int)error["code"]!);
        Assert.Contains("Could not execute the delegate plugin '/fake/bridge' for ADD command", (string?)error["msg"], StringComparison.Ordinal);
    }

    [Fact]
    public void AddWithoutMappings_PassesTheDelegateResultThrough_AtTheRequestVersion()
    {
        var executor = new FakeExecutor { Stdout = """{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"interface":0,"address":"10.1.0.5/24"}]}""" };
        var (exit, stdout, _) = Run(Environment("ADD"), """{"name":"n","chain":"PM","delegate":{"type":"bridge","cniVersion":"1.0.0"}}""", executor: executor);

        Assert.Equal(0, exit);
        // No cniVersion in the request: the answer is in the 0.1.0 shape Mesos reads (ip4).
        Assert.Equal("10.1.0.5/24", (string?)JsonNode.Parse(stdout)!["ip4"]!["ip"]);
        var request = JsonNode.Parse(Encoding.UTF8.GetString(Assert.Single(executor.Calls).Stdin.Span))!;
        Assert.Equal("n", (string?)request["name"]);
        Assert.Equal("1.0.0", (string?)request["cniVersion"]);
    }

    [Fact]
    public void DelegateRequest_GetsOurNameVersionArgs_AndRuntimeConfigWithoutPortMappings()
    {
        var config = PortMapperConfig.Parse(Encoding.UTF8.GetBytes("""
            {"cniVersion":"1.0.0","name":"n","chain":"PM","delegate":{"type":"bridge","name":"ignored"},
             "args":{"org.apache.mesos":{"network_info":{"name":"n"}}},
             "runtimeConfig":{"portMappings":[{"hostPort":1,"containerPort":1}],"ips":["10.1.0.9/24"]}}
            """));
        var call = new CniCall { Command = PluginCommand.Del, ContainerId = "c", IfName = "eth0", CniPath = "/fake" };
        var delegatePlugin = new DelegatePlugin(config, call, new FakeExecutor());
        var prev = CniResults.Parse("""{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.9/24"}]}"""u8);

        var request = delegatePlugin.Request(prev);

        Assert.Equal("n", (string?)request["name"]);
        Assert.Equal("1.0.0", (string?)request["cniVersion"]);
        Assert.Equal("n", (string?)request["args"]!["org.apache.mesos"]!["network_info"]!["name"]);
        Assert.Equal("""{"ips":["10.1.0.9/24"]}""", request["runtimeConfig"]!.ToJsonString());
        Assert.Equal("10.1.0.9/24", (string?)request["prevResult"]!["ips"]![0]!["address"]);
    }

    private static Hashtable Environment(string command) => new()
    {
        ["CNI_COMMAND"] = command,
        ["CNI_CONTAINERID"] = "c1",
        ["CNI_NETNS"] = "/run/netns/never-used",
        ["CNI_IFNAME"] = "eth0",
        ["CNI_PATH"] = "/fake",
    };

    private static (int Exit, string Stdout, FakeExecutor Executor) Run(
        Hashtable environment, string stdin, bool pluginMissing = false, FakeExecutor? executor = null)
    {
        executor ??= new FakeExecutor();
        executor.Missing = pluginMissing;
        var stdout = new StringWriter();
        var plugin = new PortMapperPlugin(environment, stdout, new StringWriter(), executor, Path.Join(Path.GetTempPath(), "pm-unit-test.lock"));
        var exit = plugin.Run(new MemoryStream(Encoding.UTF8.GetBytes(stdin)));
        return (exit, stdout.ToString(), executor);
    }

    private sealed class FakeExecutor : IPluginExecutor
    {
        public List<PluginInvocation> Calls { get; } = [];

        public bool Missing { get; set; }

        public string Stdout { get; init; } = "{}";

        public CniPluginException? Failure { get; init; }

        public string FindPlugin(string type, string cniPath) =>
            Missing ? throw new CniPluginException($"failed to find CNI plugin \"{type}\" in CNI_PATH \"{cniPath}\"") : $"/fake/{type}";

        public Task<PluginOutput> ExecuteAsync(PluginInvocation invocation, CancellationToken cancellationToken = default)
        {
            Calls.Add(invocation);
            return Failure is not null
                ? Task.FromException<PluginOutput>(Failure)
                : Task.FromResult(new PluginOutput(Encoding.UTF8.GetBytes(Stdout), "", TimeSpan.Zero));
        }
    }
}
