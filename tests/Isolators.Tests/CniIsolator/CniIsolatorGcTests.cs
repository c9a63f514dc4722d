using System.Text.Json.Nodes;
using Mesos;
using Mesos.Slave;
using NetIsolator.Testing;
using Xunit;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>
/// CNI GC on recovery (spec 1.1.0): after a restart the isolator tells each 1.1.0 network which attachments are still
/// valid. Debian's plugins stop at 1.0.0, so the plugin is a mock that answers 1.1.0 and records its GC request.
/// </summary>
[Collection("CniIsolatorRoot")]
public sealed class CniIsolatorGcTests : IDisposable
{
    private readonly CniSandbox _sandbox = new();
    private readonly CniFaultPlugins _plugins;

    public CniIsolatorGcTests() => _plugins = new CniFaultPlugins(_sandbox);

    public void Dispose() => _sandbox.Dispose();

    private string GcRequests => Path.Join(_sandbox.Directory, "gc.requests");

    [RootFact]
    public async Task Recover_SendsGcWithTheRecoveredAttachments_ToNetworksAt110_AndNotToOlderOnes()
    {
        WriteGcRecordingPlugin("gc-mock");
        File.WriteAllText(Path.Join(_sandbox.ConfigDir, "new.conflist"), """{"cniVersion":"1.1.0","name":"new","plugins":[{"type":"gc-mock"}]}""");
        File.WriteAllText(Path.Join(_sandbox.ConfigDir, "old.conflist"), """{"cniVersion":"1.0.0","name":"old","plugins":[{"type":"gc-mock"}]}""");
        var first = _plugins.CreateIsolator();
        var kept = CniSandbox.NewId();
        var lost = CniSandbox.NewId();
        var pid = await _sandbox.AttachAsync(first, kept, new NetworkInfo { Name = "new" }, new NetworkInfo { Name = "old" });
        await _sandbox.AttachAsync(first, lost, new NetworkInfo { Name = "new" });
        Assert.False(File.Exists(GcRequests));

        // Restart: the agent still knows 'kept'; 'lost' is unknown, so it is DELed, then GC names only 'kept'.
        var second = _plugins.CreateIsolator();
        await second.RecoverAsync([new ContainerState { ContainerId = kept, Pid = (ulong)pid, Directory = "/tmp" }], []);

        var request = Assert.Single(File.ReadAllLines(GcRequests));
        var gc = JsonNode.Parse(request)!.AsObject();
        Assert.Equal("1.1.0", (string?)gc["cniVersion"]);
        Assert.Equal("new", (string?)gc["name"]);
        var valid = Assert.Single(gc["cni.dev/valid-attachments"]!.AsArray())!;
        Assert.Equal(kept.Value, (string?)valid["containerID"]);
        Assert.Equal("eth0", (string?)valid["ifname"]);
        Assert.Contains($"DEL eth0 {lost.Value}", _plugins.Calls());
        Assert.DoesNotContain(_plugins.Calls(), c => c.StartsWith($"DEL eth0 {kept.Value}", StringComparison.Ordinal));

        await second.CleanupAsync(kept);
    }

    [RootFact]
    public async Task AFailingGc_IsLogged_AndRecoveryStillSucceeds()
    {
        WriteGcRecordingPlugin("gc-mock", failGc: true);
        File.WriteAllText(Path.Join(_sandbox.ConfigDir, "new.conflist"), """{"cniVersion":"1.1.0","name":"new","plugins":[{"type":"gc-mock"}]}""");
        var isolator = _plugins.CreateIsolator();
        await isolator.RecoverAsync([], []);
        Assert.Contains(_sandbox.Log, l => l.Message.Contains("GC of CNI network 'new' failed", StringComparison.Ordinal)
            && l.Message.Contains("gc refused", StringComparison.Ordinal));
    }

    /// <summary>
    /// A 1.1.0 plugin: ADD answers an address, DEL succeeds, GC appends its stdin as one line to
    /// <see cref="GcRequests"/> (or fails with a CNI error); every call goes to the call log.
    /// </summary>
    private void WriteGcRecordingPlugin(string type, bool failGc = false)
    {
        var path = Path.Join(_plugins.Directory, type);
        File.WriteAllText(path, $$"""
            #!/bin/sh
            stdin=$(cat)
            echo "$CNI_COMMAND $CNI_IFNAME $CNI_CONTAINERID" >> '{{_plugins.CallLog}}'
            case "$CNI_COMMAND" in
              VERSION) printf '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}' ;;
              ADD) printf '{"cniVersion":"1.1.0","interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[{"address":"10.216.0.5/24","interface":0}]}' "$CNI_IFNAME" "$CNI_NETNS" ;;
              GC) {{(failGc ? "printf '{\"cniVersion\":\"1.1.0\",\"code\":999,\"msg\":\"gc refused\"}'; exit 1" : $"echo \"$stdin\" | tr -d '\\n' >> '{GcRequests}'; echo >> '{GcRequests}'")}} ;;
            esac
            exit 0

            """);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
    }
}
