using System.Text;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Invocation;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Cni.Tests.Invocation;

/// <summary>
/// A "host" and a "container" network namespace made with <c>ip netns add netiso-t-*</c> and deleted on dispose.
/// Plugins run with the host namespace as their host, so nothing touches the machine's own network.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class TestNamespaces : IDisposable
{
    public TestNamespaces()
    {
        var suffix = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
        Host = $"netiso-t-h{suffix}";
        Container = $"netiso-t-c{suffix}";
        Command.Run("ip", "netns", "add", Host);
        try
        {
            Command.Run("ip", "netns", "add", Container);
            Command.Run("ip", "-n", Host, "link", "set", "lo", "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Host { get; }

    public string Container { get; }

    public string HostPath => $"/run/netns/{Host}";

    public string ContainerPath => $"/run/netns/{Container}";

    public void Dispose()
    {
        // Deleting the host namespace takes the bridge and the host ends of the veths with it.
        Command.TryRun("ip", "netns", "del", Container);
        Command.TryRun("ip", "netns", "del", Host);
    }

    /// <summary>Our namespaces, pins or mounts still visible in the root mount namespace (should be none after dispose).</summary>
    public IEnumerable<string> Leftovers()
    {
        foreach (var line in Command.Run("ip", "netns", "list").Split('\n'))
        {
            if (line.Contains(Host) || line.Contains(Container))
            {
                yield return $"netns: {line}";
            }
        }

        foreach (var line in File.ReadAllLines("/proc/self/mountinfo"))
        {
            if (line.Contains(" nsfs ") && (line.Contains(Host) || line.Contains(Container)))
            {
                yield return $"mount: {line}";
            }
        }
    }
}

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RealPluginTests : IDisposable
{
    private const string DebianCniPath = "/usr/lib/cni";
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("loopback")]
    [InlineData("bridge")]
    [InlineData("host-local")]
    public async Task Version_OfDebianPlugins_Parses(string type)
    {
        var executor = new ProcessPluginExecutor();
        var path = executor.FindPlugin(type, DebianCniPath);

        var output = await executor.ExecuteAsync(PluginInvocation.ForVersion(path, "1.0.0", DebianCniPath, TimeSpan.FromSeconds(20)));

        var answer = JsonNode.Parse(output.Stdout)!.AsObject();
        Assert.False(string.IsNullOrEmpty((string?)answer["cniVersion"]));
        var supported = answer["supportedVersions"]!.AsArray().Select(v => (string?)v).ToArray();
        Assert.Contains("0.4.0", supported);
        Assert.Contains("1.0.0", supported);
    }

    [RootFact]
    public async Task HostNamespace_IsWherePluginsStart()
    {
        using var namespaces = new TestNamespaces();
        var plugin = _dir.WriteScript("whereami", "readlink /proc/self/ns/net");
        var executor = new ProcessPluginExecutor(hostNetworkNamespacePath: namespaces.HostPath);

        var output = await executor.ExecuteAsync(new PluginInvocation { PluginPath = plugin, Command = PluginCommand.Status, TimeLimit = TimeSpan.FromSeconds(20) });

        var inode = Command.Run("stat", "-L", "-c", "%i", namespaces.HostPath).Trim();
        Assert.Equal($"net:[{inode}]", Encoding.UTF8.GetString(output.Stdout).Trim());
        var own = File.ResolveLinkTarget("/proc/thread-self/ns/net", returnFinalTarget: false)?.LinkTarget;
        Assert.NotEqual(own, Encoding.UTF8.GetString(output.Stdout).Trim());
    }

    [RootFact]
    public async Task HostNamespace_ThatDoesNotExist_CannotStart()
    {
        var plugin = _dir.WriteScript("mock", "echo '{}'");
        var executor = new ProcessPluginExecutor(hostNetworkNamespacePath: "/run/netns/netiso-t-does-not-exist");

        var e = await Assert.ThrowsAsync<CniPluginException>(() =>
            executor.ExecuteAsync(new PluginInvocation { PluginPath = plugin, Command = PluginCommand.Version }));

        Assert.Equal(PluginFailureKind.CouldNotStart, e.Kind);
        Assert.Contains("netiso-t-does-not-exist", e.Message);
    }

    [RootFact]
    public async Task BridgeWithHostLocal_AddThenDelTwiceThenDelWithoutNetns()
    {
        string bridge;
        string host;
        TestNamespaces namespaces;
        using (namespaces = new TestNamespaces())
        {
            host = namespaces.Host;
            bridge = $"netiso-br{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(2))}";
            var config = new JsonObject
            {
                ["cniVersion"] = "1.0.0",
                ["name"] = "netiso-test",
                ["type"] = "bridge",
                ["bridge"] = bridge,
                ["isGateway"] = true,
                ["ipMasq"] = false,
                ["hairpinMode"] = false,
                ["ipam"] = new JsonObject
                {
                    ["type"] = "host-local",
                    ["ranges"] = new JsonArray(new JsonArray(new JsonObject { ["subnet"] = "10.213.0.0/24" })),
                    ["dataDir"] = _dir.Join("ipam"),
                },
            };
            var stdin = Encoding.UTF8.GetBytes(config.ToJsonString());
            var executor = new ProcessPluginExecutor(hostNetworkNamespacePath: namespaces.HostPath);
            var pluginPath = executor.FindPlugin("bridge", DebianCniPath);
            PluginInvocation Invocation(PluginCommand command, string? netns) => new()
            {
                PluginPath = pluginPath,
                Command = command,
                ContainerId = namespaces.Container,
                NetNsPath = netns,
                IfName = "eth0",
                CniPath = DebianCniPath,
                Stdin = stdin,
                TimeLimit = TimeSpan.FromSeconds(30),
            };

            var added = await executor.ExecuteAsync(Invocation(PluginCommand.Add, namespaces.ContainerPath));

            var result = JsonNode.Parse(added.Stdout)!.AsObject();
            var address = (string)result["ips"]![0]!["address"]!;
            Assert.StartsWith("10.213.0.", address);
            Assert.EndsWith("/24", address);
            Assert.Contains($"inet {address}", Command.Run("ip", "-n", namespaces.Container, "addr", "show", "dev", "eth0"));
            Assert.Contains("inet 10.213.0.1/24", Command.Run("ip", "-n", host, "addr", "show", "dev", bridge));
            Assert.DoesNotContain(bridge, Command.Run("ip", "link", "show", "type", "bridge"));

            // CHECK with the ADD result as prevResult succeeds too.
            var withPrev = (JsonObject)config.DeepClone();
            withPrev["prevResult"] = result.DeepClone();
            var check = Invocation(PluginCommand.Check, namespaces.ContainerPath);
            await executor.ExecuteAsync(new PluginInvocation
            {
                PluginPath = check.PluginPath,
                Command = check.Command,
                ContainerId = check.ContainerId,
                NetNsPath = check.NetNsPath,
                IfName = check.IfName,
                CniPath = check.CniPath,
                Stdin = Encoding.UTF8.GetBytes(withPrev.ToJsonString()),
                TimeLimit = check.TimeLimit,
            });

            await executor.ExecuteAsync(Invocation(PluginCommand.Del, namespaces.ContainerPath));
            Assert.NotEqual(0, Command.TryRun("ip", "-n", namespaces.Container, "link", "show", "dev", "eth0").Exit);
            Assert.DoesNotContain(Directory.GetFiles(Path.Join(_dir.Join("ipam"), "netiso-test")), f => Path.GetFileName(f).StartsWith("10.213.0.", StringComparison.Ordinal));

            await executor.ExecuteAsync(Invocation(PluginCommand.Del, namespaces.ContainerPath));
            await executor.ExecuteAsync(Invocation(PluginCommand.Del, netns: null));
        }

        Assert.Empty(namespaces.Leftovers());
        Assert.DoesNotContain(bridge, Command.Run("ip", "link", "show", "type", "bridge"));
        Assert.DoesNotContain(host, Command.Run("ip", "netns", "list"));
    }

    [RootFact]
    public async Task Bridge_AddFailure_SurfacesThePluginError()
    {
        using var namespaces = new TestNamespaces();
        var executor = new ProcessPluginExecutor(hostNetworkNamespacePath: namespaces.HostPath);
        var config = """{"cniVersion":"1.0.0","name":"netiso-test","type":"bridge","bridge":"netiso-brbad","ipam":{"type":"no-such-ipam"}}""";

        var e = await Assert.ThrowsAsync<CniPluginException>(() => executor.ExecuteAsync(new PluginInvocation
        {
            PluginPath = executor.FindPlugin("bridge", DebianCniPath),
            Command = PluginCommand.Add,
            ContainerId = namespaces.Container,
            NetNsPath = namespaces.ContainerPath,
            IfName = "eth0",
            CniPath = DebianCniPath,
            Stdin = Encoding.UTF8.GetBytes(config),
            TimeLimit = TimeSpan.FromSeconds(30),
        }));

        Assert.Equal(PluginFailureKind.ExitedNonZero, e.Kind);
        Assert.NotNull(e.Error);
        Assert.Contains("no-such-ipam", e.Message);
        Assert.StartsWith($"bridge ADD for container '{namespaces.Container}' eth0 failed (exit 1): [code ", e.Message);
    }
}
