using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Mesos;
using Mesos.Slave;
using NetIsolator.Isolators.Cni;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>
/// Every CNI spec version through the isolator, end to end: Debian's bridge + host-local (1.1.1, which speak 0.1.0 to
/// 1.0.0) with a network file at each version, and a mock plugin for 1.1.0, which they do not speak. Each attach is
/// checked in the status, in the container's interface and /etc/hosts, and in the CNI cache (the result kept at the
/// network's version); each cleanup must leave nothing (the sandbox checks leases, pins and ROOT/&lt;CID&gt;).
/// </summary>
[Collection("CniIsolatorRoot")]
public sealed class CniIsolatorSpecVersionTests : IDisposable
{
    private const string Mock = "mock110";
    private readonly CniSandbox _sandbox = new();
    private readonly CniFaultPlugins _plugins;

    public CniIsolatorSpecVersionTests() => _plugins = new CniFaultPlugins(_sandbox);

    public void Dispose() => _sandbox.Dispose();

    /// <summary>What Debian's bridge answers to VERSION, checked so that the theory below covers all of it.</summary>
    [RootFact]
    public void TheDebianBridge_SpeaksExactlyTheVersionsTestedHere()
    {
        var answer = CniSandbox.Run("sh", "-c", "CNI_COMMAND=VERSION /usr/lib/cni/bridge < /dev/null");
        var versions = JsonNode.Parse(answer)!["supportedVersions"]!.AsArray().Select(v => (string)v!).ToList();
        Assert.Equal(["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"], versions);
    }

    /// <param name="version">The network file's cniVersion: a single-plugin <c>.conf</c> with the old one-subnet
    /// host-local form below 0.3.0 (as such files were written then), a <c>.conflist</c> from 0.3.0.</param>
    [RootTheory]
    [InlineData("0.1.0")]
    [InlineData("0.2.0")]
    [InlineData("0.3.0")]
    [InlineData("0.3.1")]
    [InlineData("0.4.0")]
    [InlineData("1.0.0")]
    public async Task EverySpecVersionOfTheRealPlugins_AttachesReportsWritesHosts_AndCleansUp(string version)
    {
        var legacy = version is "0.1.0" or "0.2.0";
        var (prefix, bridge) = CniTestNetworks.Allocate(_sandbox);
        var plugin = CniTestNetworks.Bridge(_sandbox, bridge, prefix, oldStyleIpam: legacy);
        if (legacy)
        {
            CniTestNetworks.WriteConf(_sandbox, "net", version, plugin);
        }
        else
        {
            CniTestNetworks.WriteConflist(_sandbox, "net", version, plugin);
        }

        var isolator = _sandbox.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(isolator, id, new NetworkInfo { Name = "net" });

        var network = Assert.Single((await isolator.StatusAsync(id)).NetworkInfos);
        Assert.Equal("net", network.Name);
        var address = Assert.Single(network.IpAddresses).IpAddress;
        Assert.Matches($@"^{Regex.Escape(prefix)}\d+$", address);
        Assert.Contains($"inet {address}/24", CniSandbox.Addresses(pid, "eth0"));
        Assert.Contains($"\n{address} {id.Value}\n", CniTestNetworks.InContainer(pid, "cat", "/etc/hosts"));
        Assert.Equal(Path.Join(_sandbox.IpamDir, "net", address), Assert.Single(_sandbox.Leases()));

        // The cache holds the result at the network's own version (the old ip4 form below 0.3.0).
        var result = CachedResult(isolator, id);
        Assert.Equal(version, (string?)result["cniVersion"]);
        Assert.Equal(legacy, result["ip4"] is not null);
        Assert.Equal(!legacy, result["ips"] is not null);

        await isolator.CleanupAsync(id);
        Assert.Empty(_sandbox.Leases());
        Assert.Equal(["lo"], CniSandbox.Interfaces(pid));
        Assert.DoesNotContain("veth", _sandbox.HostLinks());
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    /// <summary>
    /// A 1.1.0 plugin (a mock: Debian's plugins stop at 1.0.0) answering a 1.1.0 result with the fields 1.1.0 added
    /// (interface mtu/socketPath/pciID, route mtu/advmss/priority/table/scope). The isolator reads it at the
    /// network's version: kept whole for a 1.1.0 network, converted down (the new fields dropped, or to the old ip4
    /// form) for older ones; DEL gets it back as prevResult from 0.4.0 on. The isolator itself never issues STATUS
    /// or GC while attaching or detaching: the runtime defines those for 1.1.0 lists only, as separate operations.
    /// </summary>
    [RootTheory]
    [InlineData("1.1.0")]
    [InlineData("1.0.0")]
    [InlineData("0.2.0")]
    public async Task A110Result_IsReadAtTheNetworksVersion_ReportedWrittenAndHandedBackToDel(string version)
    {
        var prefix = WriteMock110();
        var plugin = new JsonObject { ["type"] = Mock };
        if (version == "0.2.0")
        {
            CniTestNetworks.WriteConf(_sandbox, "v11", version, plugin);
        }
        else
        {
            CniTestNetworks.WriteConflist(_sandbox, "v11", version, plugin);
        }

        var isolator = _plugins.CreateIsolator();
        var id = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(isolator, id, new NetworkInfo { Name = "v11" });

        var add = ReadStdin("ADD");
        Assert.Equal(version, (string?)add["cniVersion"]);
        var network = Assert.Single((await isolator.StatusAsync(id)).NetworkInfos);
        Assert.Equal($"{prefix}7", Assert.Single(network.IpAddresses).IpAddress);
        Assert.Contains($"\n{prefix}7 {id.Value}\n", CniTestNetworks.InContainer(pid, "cat", "/etc/hosts"));
        Assert.Equal($"domain example.test\nsearch example.test\nnameserver {prefix}53\n", CniTestNetworks.InContainer(pid, "cat", "/etc/resolv.conf"));

        var result = CachedResult(isolator, id);
        Assert.Equal(version, (string?)result["cniVersion"]);
        switch (version)
        {
            case "1.1.0":
                Assert.Equal(100, (int?)result["routes"]![0]!["table"]);
                Assert.Equal(1360, (int?)result["routes"]![0]!["advmss"]);
                Assert.Equal(1400, (int?)result["interfaces"]![0]!["mtu"]);
                Assert.Equal("0000:00:1f.6", (string?)result["interfaces"]![0]!["pciID"]);
                break;
            case "1.0.0":
                Assert.Null(result["routes"]![0]!["table"]);
                Assert.Null(result["interfaces"]![0]!["mtu"]);
                Assert.Equal($"{prefix}7/24", (string?)result["ips"]![0]!["address"]);
                break;
            default:
                Assert.Equal($"{prefix}7/24", (string?)result["ip4"]!["ip"]);
                break;
        }

        await isolator.CleanupAsync(id);

        var del = ReadStdin("DEL");
        Assert.Equal(version, (string?)del["cniVersion"]);
        if (version == "0.2.0")
        {
            Assert.Null(del["prevResult"]);
        }
        else
        {
            var prev = del["prevResult"]!;
            Assert.Equal(version, (string?)prev["cniVersion"]);
            Assert.Equal($"{prefix}7/24", (string?)prev["ips"]![0]!["address"]);
            Assert.Equal(version == "1.1.0" ? 100 : null, (int?)prev["routes"]![0]!["table"]);
        }

        Assert.Equal([$"ADD eth0 {id.Value}", $"DEL eth0 {id.Value}"], _plugins.Calls());
        Assert.Empty(_sandbox.ContainerDirectories());
        Assert.DoesNotContain(_sandbox.Log, l => l.Level == IsolatorLogLevel.Error);
    }

    private JsonObject CachedResult(NetIsolator.Isolators.Cni.CniIsolator isolator, ContainerID id)
    {
        var file = Assert.Single(Directory.GetFiles(CniLayout.CacheDirectory(isolator.Root!, id.Value), "*", SearchOption.AllDirectories));
        return JsonNode.Parse(File.ReadAllText(file))!["result"]!.AsObject();
    }

    private JsonObject ReadStdin(string command) =>
        JsonNode.Parse(File.ReadAllText(Path.Join(_sandbox.Directory, $"stdin-{command}")))!.AsObject();

    /// <summary>
    /// Writes the 1.1.0 mock <see cref="Mock"/>: it keeps each request's stdin as <c>stdin-&lt;COMMAND&gt;</c> in the
    /// sandbox dir, logs the call, answers VERSION with 0.1.0 … 1.1.0 and ADD with a fixed 1.1.0 result (address
    /// prefix+7 on eth0, DNS, a route with every 1.1.0 field); it changes nothing in the kernel. Returns the prefix.
    /// </summary>
    private string WriteMock110()
    {
        var (prefix, _) = CniTestNetworks.Allocate(_sandbox);
        var result = new JsonObject
        {
            ["cniVersion"] = "1.1.0",
            ["interfaces"] = new JsonArray(new JsonObject
            {
                ["name"] = "eth0",
                ["mac"] = "02:42:0a:d7:00:07",
                ["mtu"] = 1400,
                ["sandbox"] = "/var/run/netns/mock",
                ["socketPath"] = "/run/mock.sock",
                ["pciID"] = "0000:00:1f.6",
            }),
            ["ips"] = new JsonArray(new JsonObject { ["address"] = $"{prefix}7/24", ["gateway"] = $"{prefix}1", ["interface"] = 0 }),
            ["routes"] = new JsonArray(new JsonObject
            {
                ["dst"] = "0.0.0.0/0", ["gw"] = $"{prefix}1", ["mtu"] = 1400, ["advmss"] = 1360, ["priority"] = 10, ["table"] = 100, ["scope"] = 0,
            }),
            ["dns"] = new JsonObject { ["nameservers"] = new JsonArray($"{prefix}53"), ["domain"] = "example.test", ["search"] = new JsonArray("example.test") },
        };
        var path = Path.Join(_plugins.Directory, Mock);
        File.WriteAllText(path, $$"""
            #!/bin/sh
            cat > '{{_sandbox.Directory}}/stdin-'"$CNI_COMMAND"
            echo "$CNI_COMMAND $CNI_IFNAME $CNI_CONTAINERID" >> '{{_plugins.CallLog}}'
            case "$CNI_COMMAND" in
              VERSION) printf '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}' ;;
              ADD) printf '%s' '{{result.ToJsonString()}}' ;;
            esac
            exit 0

            """);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return prefix;
    }
}
