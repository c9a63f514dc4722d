using System.Text;
using System.Text.Json.Nodes;
using NetIsolator.Cni.Cache;
using NetIsolator.Cni.Config;
using NetIsolator.Cni.Invocation;
using NetIsolator.Cni.Runtime;
using NetIsolator.Cni.Tests.Invocation;

namespace NetIsolator.Cni.Tests.Runtime;

/// <summary>One plugin call as a mock recorded it.</summary>
internal sealed record PluginCall(string Command, string Type, string ContainerId, string IfName, string NetNs, JsonObject? Stdin)
{
    public JsonObject? PrevResult => Stdin?["prevResult"] as JsonObject;
}

/// <summary>
/// A directory of /bin/sh mock plugins plus a runtime over them. Every mock appends one line per call to a shared log
/// (<c>COMMAND|type|cid|ifname|netns|stdin</c>; stdin is the runtime's one-line JSON) and prints a result for ADD.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class MockWorld : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly List<string> _logLines = [];

    public MockWorld()
    {
        Directory.CreateDirectory(BinDir);
        Cache = new ResultCache(_dir.Join("cache"));
        Runtime = NewRuntime();
    }

    public string BinDir => _dir.Join("bin");

    public string LogPath => _dir.Join("calls.log");

    public string TimingPath => _dir.Join("timing.log");

    public ResultCache Cache { get; }

    public CniRuntime Runtime { get; }

    public IReadOnlyList<string> RuntimeLog
    {
        get
        {
            lock (_logLines)
            {
                return [.. _logLines];
            }
        }
    }

    public string Join(string name) => _dir.Join(name);

    public CniRuntime NewRuntime(TimeSpan? limit = null) => new(
        BinDir, Cache, new ProcessPluginExecutor(), limit ?? TimeSpan.FromSeconds(20), line =>
        {
            lock (_logLines)
            {
                _logLines.Add(line);
            }
        });

    /// <summary>
    /// Writes mock plugin <paramref name="type"/>. ADD prints <c>{"cniVersion":&lt;request's&gt;, "interfaces":[{"name":"&lt;type&gt;0"}],
    /// "ips":[{"address":"10.214.0.&lt;octet&gt;/24","interface":0}]}</c>.
    /// </summary>
    public void Plugin(string type, int octet = 2, string? failOn = null, double sleepSeconds = 0, string supported = "\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"")
    {
        var sleep = sleepSeconds > 0 ? $"sleep {sleepSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : ":";
        var fail = failOn is null
            ? ""
            : $$"""
              if [ "$CNI_COMMAND" = "{{failOn}}" ]; then
                printf '{"cniVersion":"%s","code":100,"msg":"{{type}} refuses {{failOn}}"}' "$ver"
                echo "stderr from {{type}}" >&2
                exit 1
              fi
              """;
        _dir.WriteScript(Path.Join("bin", type), $$"""
            input=$(cat)
            ver=$(printf '%s' "$input" | sed -n 's/^{"cniVersion":"\([^"]*\)".*/\1/p')
            printf '%s|%s|%s|%s|%s|%s\n' "$CNI_COMMAND" "{{type}}" "${CNI_CONTAINERID-}" "${CNI_IFNAME-}" "${CNI_NETNS-<unset>}" "$input" >> '{{LogPath}}'
            if [ "$CNI_COMMAND" = VERSION ]; then
              echo '{"cniVersion":"1.1.0","supportedVersions":[{{supported}}]}'
              exit 0
            fi
            echo "start ${CNI_CONTAINERID-} $(date +%s%N)" >> '{{TimingPath}}'
            {{sleep}}
            echo "end ${CNI_CONTAINERID-} $(date +%s%N)" >> '{{TimingPath}}'
            {{fail}}
            if [ "$CNI_COMMAND" = ADD ]; then
              printf '{"cniVersion":"%s","interfaces":[{"name":"{{type}}0"}],"ips":[{"address":"10.214.0.{{octet}}/24","interface":0}]}' "$ver"
            fi
            exit 0
            """);
    }

    /// <summary>A list of the given plugin types at <paramref name="version"/>, written to a file and loaded from it.</summary>
    public NetworkConfigList List(string version, params string[] types) => ListWith(version, extra: null, types);

    public NetworkConfigList ListWith(string version, JsonObject? extra, params string[] types)
    {
        var json = new JsonObject
        {
            ["cniVersion"] = version,
            ["name"] = "mocknet",
            ["plugins"] = new JsonArray([.. types.Select(t => (JsonNode)new JsonObject { ["type"] = t, ["marker"] = $"cfg-{t}" })]),
        };
        foreach (var (key, value) in extra ?? [])
        {
            json[key] = value?.DeepClone();
        }

        var path = _dir.Join($"mocknet-{Guid.NewGuid():N}.conflist");
        File.WriteAllText(path, json.ToJsonString());
        return NetworkConfigList.LoadFile(path);
    }

    public IReadOnlyList<PluginCall> Calls()
    {
        if (!File.Exists(LogPath))
        {
            return [];
        }

        return File.ReadAllLines(LogPath).Where(l => l.Length > 0).Select(line =>
        {
            var parts = line.Split('|', 6);
            return new PluginCall(parts[0], parts[1], parts[2], parts[3], parts[4],
                parts[5].Length == 0 ? null : JsonNode.Parse(parts[5]) as JsonObject);
        }).ToList();
    }

    /// <summary>The calls other than VERSION, as "COMMAND type" strings.</summary>
    public IReadOnlyList<string> Sequence() =>
        [.. Calls().Where(c => c.Command != "VERSION").Select(c => $"{c.Command} {c.Type}")];

    public void ClearCalls()
    {
        File.Delete(LogPath);
        File.Delete(TimingPath);
    }

    /// <summary>(container, start ns, end ns) per plugin run, from the timing log.</summary>
    public IReadOnlyList<(string Container, long Start, long End)> Intervals()
    {
        var open = new Dictionary<string, Stack<long>>();
        var result = new List<(string, long, long)>();
        foreach (var line in File.ReadAllLines(TimingPath))
        {
            var parts = line.Split(' ');
            if (parts.Length != 3)
            {
                continue;
            }

            var at = long.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
            if (parts[0] == "start")
            {
                if (!open.TryGetValue(parts[1], out var stack))
                {
                    open[parts[1]] = stack = new Stack<long>();
                }

                stack.Push(at);
            }
            else
            {
                result.Add((parts[1], open[parts[1]].Pop(), at));
            }
        }

        return result;
    }

    public void Dispose() => _dir.Dispose();
}

internal static class Conf
{
    public static RuntimeConf For(string containerId, string? netns = "/run/netns/mock-container", string ifName = "eth0") => new()
    {
        ContainerId = containerId,
        NetNsPath = netns,
        IfName = ifName,
    };

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
