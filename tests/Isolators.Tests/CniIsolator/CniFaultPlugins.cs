using NetIsolator.Isolators.Cni;

namespace NetIsolator.Isolators.Tests.CniIsolator;

/// <summary>How a mock plugin misbehaves on ADD (DEL, CHECK and VERSION always succeed).</summary>
public enum PluginFault
{
    /// <summary>Exits 1 with no output.</summary>
    Crash,

    /// <summary>Sleeps 30 s (in a child, whose pid it records) and never answers.</summary>
    Hang,

    /// <summary>Exits 0 with non-JSON stdout.</summary>
    Garbage,

    /// <summary>Prints the CNI error <c>{"code":11,"msg":"try again later"}</c> and exits 1.</summary>
    CniError,
}

/// <summary>
/// A plugins directory inside the sandbox's temp dir (removed with it) holding /bin/sh mock plugins, plus the real
/// bridge and host-local as symlinks, and isolators over it. Each mock appends <c>COMMAND IFNAME CONTAINERID</c> to
/// <see cref="CallLog"/>.
/// </summary>
internal sealed class CniFaultPlugins
{
    private readonly CniSandbox _sandbox;

    public CniFaultPlugins(CniSandbox sandbox)
    {
        _sandbox = sandbox;
        Directory = Path.Join(sandbox.Directory, "plugins");
        System.IO.Directory.CreateDirectory(Directory);
        foreach (var real in new[] { "bridge", "host-local" })
        {
            File.CreateSymbolicLink(Path.Join(Directory, real), Path.Join("/usr/lib/cni", real));
        }
    }

    public string Directory { get; }

    public string CallLog => Path.Join(_sandbox.Directory, "calls.log");

    /// <summary>Where the hang mock writes the pids of itself and its sleep child.</summary>
    public string HangPids => Path.Join(_sandbox.Directory, "hang.pids");

    public List<string> Calls() => File.Exists(CallLog) ? [.. File.ReadAllLines(CallLog)] : [];

    /// <summary>Writes the mock plugin <paramref name="type"/> that misbehaves as <paramref name="fault"/> on ADD.</summary>
    public void WriteMock(string type, PluginFault fault)
    {
        var add = fault switch
        {
            PluginFault.Crash => "exit 1",
            PluginFault.Hang => $"sleep 30 &\n  echo \"$$ $!\" > '{HangPids}'\n  wait\n  exit 0",
            PluginFault.Garbage => "echo 'this is not JSON {{{'\n  exit 0",
            PluginFault.CniError => "printf '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"try again later\",\"details\":\"mock busy\"}'\n  exit 1",
            _ => throw new ArgumentOutOfRangeException(nameof(fault)),
        };
        var path = Path.Join(Directory, type);
        File.WriteAllText(path, $$"""
            #!/bin/sh
            cat > /dev/null
            echo "$CNI_COMMAND $CNI_IFNAME $CNI_CONTAINERID" >> '{{CallLog}}'
            if [ "$CNI_COMMAND" = "VERSION" ]; then
              printf '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}'
              exit 0
            fi
            if [ "$CNI_COMMAND" = "ADD" ]; then
              {{add}}
            fi
            exit 0

            """);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
    }

    /// <summary>A conflist of one plugin (no IPAM) named <paramref name="network"/>.</summary>
    public void WriteNetwork(string network, string pluginType) =>
        File.WriteAllText(Path.Join(_sandbox.ConfigDir, network + ".conflist"),
            $$"""{"cniVersion":"1.0.0","name":"{{network}}","plugins":[{"type":"{{pluginType}}"}]}""");

    /// <summary>The network <paramref name="network"/> whose one plugin, <paramref name="pluginType"/>, misbehaves
    /// as <paramref name="fault"/> on ADD.</summary>
    public void WriteFaultyNetwork(string network, string pluginType, PluginFault fault)
    {
        WriteMock(pluginType, fault);
        WriteNetwork(network, pluginType);
    }

    public NetIsolator.Isolators.Cni.CniIsolator CreateIsolator(TimeSpan? timeout = null) =>
        new(new CniIsolatorOptions
        {
            ConfigDirectory = _sandbox.ConfigDir,
            PluginsDirectory = Directory,
            RuntimeDirectory = _sandbox.RuntimeDir,
            HostNetworkNamespace = _sandbox.HostNetnsPath,
            PluginTimeout = timeout ?? TimeSpan.FromSeconds(30),
        }, (level, message) => { lock (_sandbox.Log) { _sandbox.Log.Add((level, message)); } });

    /// <summary>Every entry under the sandbox's temp dir except the config, plugins and call-log paths.</summary>
    public List<string> SandboxEntries() =>
        [.. System.IO.Directory.EnumerateFileSystemEntries(_sandbox.Directory, "*", SearchOption.AllDirectories)
            .Where(p => !p.StartsWith(_sandbox.ConfigDir, StringComparison.Ordinal)
                && !p.StartsWith(Directory, StringComparison.Ordinal)
                && p != CallLog)
            .Order(StringComparer.Ordinal)];

    public static bool IsAlive(int pid) => System.IO.Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
}
