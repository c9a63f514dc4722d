using System.Diagnostics;
using System.Globalization;
using Mesos;
using Mesos.Slave;
using NetIsolator.Bench;
using NetIsolator.Bench.PortMapping;
using NetIsolator.Isolators.PortMappingIsolation;
using static NetIsolator.Bench.Stats;

// The port-mapping isolator benchmark: ours (PortMappingIsolator, netlink in-process) against the same plan steps run
// as ip/tc commands (Mesos's approach), side by side in one run. Prints `name value unit details` lines and writes
// bench/results/portmapping.csv (every sample) and bench/results/portmapping.png. Root only; everything happens in
// namespaces this run creates and deletes (the root namespace is only read, before and after, to show it unchanged).

var quick = args.Contains("--quick");
var resultsDir = args.SkipWhile(a => a != "--results").Skip(1).FirstOrDefault() ?? "bench/results";
if (!System.Environment.IsPrivilegedProcess)
{
    Console.Error.WriteLine("bench: the portmapping suite must run as root (it creates network namespaces)");
    return 2;
}

int[] sizes = quick ? [10, 50] : [10, 100, 500];
var commandSample = quick ? 5 : 10;
const int UsageContainers = 100;
const int UsageRounds = 5;
const int MinimumSamples = 100;
const string Resources = "cpus:4;ephemeral_ports:[32768-49151];ports:[31000-31999]";
const int PerContainer = 32;
// The command side's containers take ports and blocks outside what ours allocates, so the two never collide.
const int CommandPortBase = 31900;
const int CommandBlockBase = 49152;

var samples = new Samples();
var problems = new List<string>();
var rootBefore = World.RootSnapshot();
var wall = Stopwatch.StartNew();
var load = File.ReadAllText("/proc/loadavg").Split(' ')[..3];
Console.WriteLine($"# portmapping: ours = PortMappingIsolator.IsolateAsync(pid) after PrepareAsync (isolate) and CleanupAsync (cleanup); " +
    $"commands = the same plan rendered as ip/tc/sysctl commands: mount --bind, ip link add (veth), one process per host-side step, one sh script in the container (Mesos's pre-exec script); " +
    "cleanup = tc filter show + tc filter del per filter naming the veth, ip link del, umount.");
Console.WriteLine($"# portmapping: per N a fresh host namespace; N containers (bare `unshare --net sleep`, started untimed) isolated one after another by ours, then {commandSample} more by commands " +
    $"(so the commands see >= N containers); cleanup: commands' first, then ours. Each container: 1 port + a {PerContainer}-port ephemeral block = 2 ranges. " +
    $"Two trials, N ascending then descending, samples pooled per N; N < {MinimumSamples} is repeated in fresh worlds to get >= {MinimumSamples} isolates per trial (commands: first world only). " +
    $"{System.Environment.ProcessorCount} CPUs, load average {string.Join(' ', load)} at start{(quick ? "; --quick" : "")}.");

// Warm-up (JIT, first netlink sockets): a few containers through ours, not recorded.
using (var warm = new World())
{
    await using var isolator = new PortMappingIsolator(warm.Options(Resources, PerContainer), (_, _) => { });
    var pids = warm.StartContainers(5);
    for (var i = 0; i < pids.Count; i++)
    {
        var id = new ContainerID { Value = $"warm{i}" };
        await isolator.PrepareAsync(id, Config(i));
        await isolator.IsolateAsync(id, pids[i]);
        await isolator.UsageAsync(id);
        await isolator.CleanupAsync(id);
    }

    problems.AddRange(warm.TearDown());
}

var hasEthtool = true;
// Two trials, the second in the opposite order (10, 100, 500, then 500, 100, 10), samples pooled per N: on a shared
// host whose load drifts during the run, no N is measured only at the start or only at the end.
var logs = sizes.ToDictionary(n => n, _ => new List<string>());
var gcs = sizes.ToDictionary(n => n, _ => new List<(int Collections, double PauseMs)>());
// A p95 needs samples: small N is repeated in fresh worlds until it has at least MinimumSamples per trial (the command
// side runs in the first world of each N and trial only; it is two orders of magnitude slower).
var order = sizes.Select(n => (n, trial: 0)).Concat(sizes.Reverse().Select(n => (n, trial: 1)))
    .SelectMany(x => Enumerable.Range(0, (MinimumSamples + x.n - 1) / x.n).Select(repeat => (x.n, x.trial, repeat)))
    .ToList();
foreach (var (n, trial, repeat) in order)
{
    var scenario = $"n{n}";
    using var world = new World();
    var withCommands = repeat == 0 ? commandSample : 0;
    var pids = world.StartContainers(n + withCommands);
    var log = logs[n];
    await using var isolator = new PortMappingIsolator(world.Options(Resources, PerContainer), (_, line) => { lock (log) { log.Add(line); } });
    var commands = new CommandPath(world, isolator);
    hasEthtool = commands.HasEthtool;
    var ids = Enumerable.Range(0, n).Select(i => new ContainerID { Value = $"c{i}" }).ToList();
    var (gcBefore, pauseBefore) = (GC.CollectionCount(0), GC.GetTotalPauseDuration());
    for (var i = 0; i < n; i++)
    {
        var clock = Stopwatch.StartNew();
        await isolator.PrepareAsync(ids[i], Config(i));
        samples.Add("ours", scenario, n, (trial * 100) + repeat, i, "prepare", clock.Elapsed.TotalMilliseconds);
        clock.Restart();
        await isolator.IsolateAsync(ids[i], pids[i]);
        samples.Add("ours", scenario, n, (trial * 100) + repeat, i, "isolate", clock.Elapsed.TotalMilliseconds);
    }

    gcs[n].Add((GC.CollectionCount(0) - gcBefore, (GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds));
    for (var k = 0; k < withCommands; k++)
    {
        var port = CommandPortBase + k;
        var block = PortRange.FromBeginEnd(CommandBlockBase + (k * PerContainer), CommandBlockBase + ((k + 1) * PerContainer) - 1);
        var ranges = PortRange.Decompose(PortSet.Parse(string.Create(CultureInfo.InvariantCulture, $"[{port}-{port}]")).Union(block.ToSet()));
        var clock = Stopwatch.StartNew();
        commands.Isolate(pids[n + k], ranges, block);
        samples.Add("cmd", scenario, n, (trial * 100) + repeat, k, "isolate", clock.Elapsed.TotalMilliseconds);
    }

    // Both sides built the same filters: two ranges (an IP filter each) and the ARP and ICMP mirrors per container.
    var eth0Filters = world.HostFilterCount("eth0");
    if (eth0Filters != 4 * (n + withCommands))
    {
        problems.Add($"N={n}: host eth0 holds {eth0Filters} filters, not {4 * (n + withCommands)}");
    }

    if (repeat == 0 && (n == UsageContainers || (quick && n == sizes[^1])))
    {
        for (var round = 0; round < UsageRounds; round++)
        {
            for (var i = 0; i < n; i++)
            {
                var clock = Stopwatch.StartNew();
                var usage = await isolator.UsageAsync(ids[i]);
                samples.Add("ours", "usage", n, (trial * UsageRounds) + round, i, "usage", clock.Elapsed.TotalMilliseconds);
                if (usage.NetEphemeralPorts is null)
                {
                    problems.Add($"usage of {ids[i].Value} has no ephemeral ports");
                }
            }
        }
    }

    for (var k = 0; k < withCommands; k++)
    {
        var clock = Stopwatch.StartNew();
        commands.Cleanup(pids[n + k]);
        samples.Add("cmd", scenario, n, (trial * 100) + repeat, k, "cleanup", clock.Elapsed.TotalMilliseconds);
    }

    for (var i = 0; i < n; i++)
    {
        var clock = Stopwatch.StartNew();
        await isolator.CleanupAsync(ids[i]);
        samples.Add("ours", scenario, n, (trial * 100) + repeat, i, "cleanup", clock.Elapsed.TotalMilliseconds);
    }

    if (world.HostFilterCount("eth0") + world.HostFilterCount("lo") is var left and > 0)
    {
        problems.Add($"N={n}: {left} host filter(s) left after cleanup");
    }

    problems.AddRange(world.TearDown().Select(p => $"N={n}: {p}"));
}

foreach (var n in sizes)
{
    var scenario = $"n{n}";
    var ours = samples.Of("ours", scenario, "isolate");
    var cmd = samples.Of("cmd", scenario, "isolate");
    Console.WriteLine(Line($"portmapping.n{n}.isolate_ms", Median(ours), "ms",
        $"ours p95={F(Percentile(ours, 95))} n={ours.Length}; commands {F(Median(cmd))} p95={F(Percentile(cmd, 95))} n={cmd.Length}"));
    Console.WriteLine($"# portmapping: N={n} where ours' isolate goes (median ms): {Phases(logs[n])}; " +
        $"garbage collections during its isolates: {gcs[n].Sum(g => g.Collections)} ({F(gcs[n].Sum(g => g.PauseMs))} ms paused in all)");
    var oursCleanup = samples.Of("ours", scenario, "cleanup");
    var cmdCleanup = samples.Of("cmd", scenario, "cleanup");
    Console.WriteLine(Line($"portmapping.n{n}.cleanup_ms", Median(oursCleanup), "ms",
        $"ours p95={F(Percentile(oursCleanup, 95))}; commands {F(Median(cmdCleanup))} p95={F(Percentile(cmdCleanup, 95))}"));
}

string[] scenarios = [.. sizes.Select(n => $"n{n}")];
var p50s = scenarios.Select(s => Median(samples.Of("ours", s, "isolate"))).ToList();
var p95s = scenarios.Select(s => Percentile(samples.Of("ours", s, "isolate"), 95)).ToList();
var worstP50 = p50s.Max();
var worstP95 = p95s.Max();
var growth = p95s[^1] / p95s[0];
var speedups = scenarios.Select(s => Median(samples.Of("cmd", s, "isolate")) / Median(samples.Of("ours", s, "isolate"))).ToList();
var usageSamples = samples.Of("ours", "usage", "usage");
string PerN(IEnumerable<double> values) => string.Join(" ", scenarios.Zip(values, (s, v) => $"{s}={F(v)}"));
string Met(bool met) => met ? "met" : "NOT-met";

Console.WriteLine(Line("portmapping.isolate_p50_ms", worstP50, "ms", $"worst N; {PerN(p50s)} target<=5 {Met(worstP50 <= 5)}"));
Console.WriteLine(Line("portmapping.isolate_p95_ms", worstP95, "ms", $"worst N; {PerN(p95s)} target<=10 {Met(worstP95 <= 10)}"));
Console.WriteLine(Line("portmapping.p95_growth", growth, "ratio", $"p95 {scenarios[^1]}/{scenarios[0]} target<=1.5 {Met(growth <= 1.5)}"));
Console.WriteLine(Line("portmapping.speedup_vs_commands", speedups.Min(), "x", $"min over N of commands p50 / ours p50; {PerN(speedups)} target>=5 {Met(speedups.Min() >= 5)}" +
    (hasEthtool ? "" : "; ethtool absent here, so the commands' script skips `ethtool -K eth0 rx off`")));
Console.WriteLine(Line("portmapping.usage_ms", Median(usageSamples), "ms",
    $"median per container, {(quick ? sizes[^1] : UsageContainers)} containers x {UsageRounds} rounds x 2 trials, p95={F(Percentile(usageSamples, 95))} target<=1 {Met(Median(usageSamples) <= 1)}"));

if (World.RootSnapshot() != rootBefore)
{
    problems.Add("the root namespace's links or qdiscs changed during the run");
}

Console.WriteLine($"portmapping.leaks {problems.Count} problems {(problems.Count == 0 ? "none: no mesos* links, pins, symlinks or host filters left; root namespace links and qdiscs unchanged" : string.Join("; ", problems))}");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"portmapping.run_s {wall.Elapsed.TotalSeconds:0.0} s (whole run; load average at end {string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3])})"));

Directory.CreateDirectory(resultsDir);
samples.WriteCsv(Path.Join(resultsDir, "portmapping.csv"));
Plot.Write(Path.GetFullPath(Path.Join(resultsDir, "portmapping.png")), samples, [.. scenarios.Select(s => (s, $"N={s[1..]}"))],
    [new("isolate", "isolate (per container)"), new("cleanup", "cleanup (per container)")],
    [new("ours", "ours: PortMappingIsolator (netlink in-process)", "#1f77b4"), new("cmd", "commands: the same plan as ip/tc/sh processes", "#ff7f0e")],
    $"network/port_mapping: ours vs the command-driven path\\n{System.Environment.ProcessorCount}-CPU VM, load {string.Join(' ', load)}, {DateTime.UtcNow:yyyy-MM-dd}{(quick ? ", --quick" : "")}",
    "containers N on one host namespace",
    logScale: true);
return problems.Count == 0 ? 0 : 1;

static ContainerConfig Config(int i)
{
    var config = new ContainerConfig { CommandInfo = new CommandInfo(), Directory = "/tmp" };
    var port = (ulong)(31000 + i);
    config.Resources.Add(new Resource
    {
        Name = "ports",
        Type = Value.Types.Type.Ranges,
        Ranges = new Value.Types.Ranges { Range = { new Value.Types.Range { Begin = port, End = port } } },
    });
    return config;
}

// The isolator logs each isolate's phases as "…; T ms: pin a, open b, veth c, host d, container e".
static string Phases(List<string> log)
{
    var phases = new Dictionary<string, List<double>>();
    foreach (var line in log.Where(l => l.Contains(" ms: pin ", StringComparison.Ordinal)))
    {
        foreach (var part in line[(line.LastIndexOf(" ms: ", StringComparison.Ordinal) + 5)..].Split(", "))
        {
            var words = part.Split(' ');
            phases.TryAdd(words[0], []);
            phases[words[0]].Add(double.Parse(words[1], CultureInfo.InvariantCulture));
        }
    }

    return string.Join(", ", phases.Select(p => $"{p.Key} {F(Median(p.Value))}"));
}

static string Line(string name, double value, string unit, string details) =>
    string.Create(CultureInfo.InvariantCulture, $"{name} {F(value)} {unit} {details}");
