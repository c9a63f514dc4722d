using System.Diagnostics;
using System.Text;
using Mesos;
using Mesos.Slave;
using NetIsolator.Cni.Invocation;
using NetIsolator.Isolators;
using NetIsolator.Isolators.Cni;

namespace NetIsolator.Bench.Cni;

/// <summary>One timed attach or detach, in milliseconds, with the parts that make it up.</summary>
internal readonly record struct Timing(double Ms, double PartA, double PartB);

internal static class Clock
{
    public static double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;
}

/// <summary>
/// Ours: the real <see cref="CniIsolator"/>, plugins started inside a fake host namespace (network_cni_host_netns).
/// attach = PrepareAsync + IsolateAsync(pid) of an already running container process; detach = CleanupAsync.
/// </summary>
internal sealed class OursSide
{
    public const string Network = "nibench-ours";
    public const string Subnet = "10.241.0.0/16";
    private readonly CniIsolator _isolator;

    public OursSide(Sandbox sandbox, string hostNamespace)
    {
        HostNamespace = hostNamespace;
        _isolator = new CniIsolator(
            new CniIsolatorOptions
            {
                ConfigDirectory = sandbox.ConfigDir,
                PluginsDirectory = Sandbox.PluginsDirectory,
                RuntimeDirectory = sandbox.RuntimeDir,
                HostNetworkNamespace = $"/run/netns/{hostNamespace}",
                PluginTimeout = TimeSpan.FromSeconds(60),
            },
            (level, message) =>
            {
                if (level == IsolatorLogLevel.Error)
                {
                    Console.Error.WriteLine($"bench: isolator error: {message}");
                }
            });
    }

    public string HostNamespace { get; }

    public string? Root => _isolator.Root;

    public static void WriteConfig(Sandbox sandbox) =>
        File.WriteAllText(Path.Join(sandbox.ConfigDir, Network + ".conflist"), $$$"""
            {"cniVersion":"1.0.0","name":"{{{Network}}}","plugins":[{"type":"bridge","bridge":"nbo0","isGateway":true,"ipMasq":false,"hairpinMode":false,
             "ipam":{"type":"host-local","ranges":[[{"subnet":"{{{Subnet}}}"}]],"dataDir":"{{{sandbox.OursIpamDir}}}"}}]}
            """);

    /// <summary>Prepare + isolate. PartA = prepare, PartB = isolate.</summary>
    public async Task<(ContainerID Id, Timing Timing)> AttachAsync(int pid)
    {
        var id = new ContainerID { Value = Guid.NewGuid().ToString() };
        var config = new ContainerConfig
        {
            CommandInfo = new CommandInfo(),
            Directory = "/tmp",
            ContainerInfo = new ContainerInfo { Type = ContainerInfo.Types.Type.Mesos, NetworkInfos = { new NetworkInfo { Name = Network } } },
        };
        var t0 = Stopwatch.GetTimestamp();
        _ = await _isolator.PrepareAsync(id, config) ?? throw new InvalidOperationException("prepare returned no launch info");
        var t1 = Stopwatch.GetTimestamp();
        await _isolator.IsolateAsync(id, pid);
        var t2 = Stopwatch.GetTimestamp();
        return (id, new Timing(Clock.Ms(t0, t2), Clock.Ms(t0, t1), Clock.Ms(t1, t2)));
    }

    public async Task<Timing> DetachAsync(ContainerID id)
    {
        var t0 = Stopwatch.GetTimestamp();
        await _isolator.CleanupAsync(id);
        var t1 = Stopwatch.GetTimestamp();
        return new Timing(Clock.Ms(t0, t1), 0, 0);
    }

    public async Task<(double Ms, bool HasCounters)> UsageAsync(ContainerID id)
    {
        var t0 = Stopwatch.GetTimestamp();
        var statistics = await _isolator.UsageAsync(id);
        var t1 = Stopwatch.GetTimestamp();
        return (Clock.Ms(t0, t1), statistics.HasNetRxPackets);
    }
}

/// <summary>
/// The reference path (baselines.md §1/§1b): per container <c>ip netns add</c>, then the bridge plugin (with host-local)
/// executed directly with CNI_* in its environment, started inside the fake host namespace the same way ours starts
/// plugins (<see cref="ProcessPluginExecutor"/> with a host namespace path). Detach = bridge DEL, then <c>ip netns del</c>.
/// </summary>
internal sealed class ReferenceSide(Sandbox sandbox, string hostNamespace)
{
    public const string Network = "nibench-ref";
    public const string Subnet = "10.242.0.0/16";
    private static int s_count;
    private readonly ProcessPluginExecutor _executor = new($"/run/netns/{hostNamespace}");
    private readonly byte[] _config = Encoding.UTF8.GetBytes($$$"""
        {"cniVersion":"1.0.0","name":"{{{Network}}}","type":"bridge","bridge":"nbr0","isGateway":true,"ipMasq":false,"hairpinMode":false,
         "ipam":{"type":"host-local","ranges":[[{"subnet":"{{{Subnet}}}"}]],"dataDir":"{{{sandbox.RefIpamDir}}}"}}
        """);

    public string HostNamespace { get; } = hostNamespace;

    /// <summary>ip netns add + bridge ADD. PartA = ip netns add, PartB = the plugin.</summary>
    public async Task<(string Name, Timing Timing)> AttachAsync()
    {
        var name = $"{Sandbox.NetnsPrefix}{sandbox.Id}-rc{Interlocked.Increment(ref s_count)}";
        var t0 = Stopwatch.GetTimestamp();
        await IpAsync("netns", "add", name);
        sandbox.Track(name, exists: true);
        var t1 = Stopwatch.GetTimestamp();
        await _executor.ExecuteAsync(Invocation(PluginCommand.Add, name));
        var t2 = Stopwatch.GetTimestamp();
        return (name, new Timing(Clock.Ms(t0, t2), Clock.Ms(t0, t1), Clock.Ms(t1, t2)));
    }

    /// <summary>bridge DEL + ip netns del. PartA = the plugin, PartB = ip netns del.</summary>
    public async Task<Timing> DetachAsync(string name)
    {
        var t0 = Stopwatch.GetTimestamp();
        await _executor.ExecuteAsync(Invocation(PluginCommand.Del, name));
        var t1 = Stopwatch.GetTimestamp();
        await IpAsync("netns", "del", name);
        var t2 = Stopwatch.GetTimestamp();
        sandbox.Track(name, exists: false);
        return new Timing(Clock.Ms(t0, t2), Clock.Ms(t0, t1), Clock.Ms(t1, t2));
    }

    private PluginInvocation Invocation(PluginCommand command, string name) => new()
    {
        PluginPath = Path.Join(Sandbox.PluginsDirectory, "bridge"),
        Command = command,
        ContainerId = name,
        NetNsPath = $"/run/netns/{name}",
        IfName = "eth0",
        CniPath = Sandbox.PluginsDirectory,
        Stdin = _config,
        TimeLimit = TimeSpan.FromSeconds(60),
    };

    private static async Task IpAsync(params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo("ip", args) { RedirectStandardError = true, UseShellExecute = false })!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)} exited {process.ExitCode}: {(await stderr).Trim()}");
        }
    }
}
