using System.Diagnostics;
using System.Globalization;
using NetIsolator.Bench;
using NetIsolator.Bench.PortMapper;
using static NetIsolator.Bench.Stats;

// The port-mapper benchmark: ours (build/bin/mesos-cni-port-mapper wrapping bridge + host-local) against the
// reference chain of baselines.md §1c (bridge + host-local, then portmap with the bridge result as prevResult),
// side by side in one run, both driven by the CNI runtime (a conflist per side, as libcni runs it). 4 mapped TCP
// ports per container, snat (hairpin + loopback) on for both. Root only; all in namespaces this run creates.

var quick = args.Contains("--quick");
var resultsDir = args.SkipWhile(a => a != "--results").Skip(1).FirstOrDefault() ?? "bench/results";
var binary = args.SkipWhile(a => a != "--plugin").Skip(1).FirstOrDefault() ?? "build/bin/mesos-cni-port-mapper";
if (!Environment.IsPrivilegedProcess)
{
    Console.Error.WriteLine("bench: the portmapper suite must run as root (it creates network namespaces and runs CNI plugins)");
    return 2;
}

if (!File.Exists(binary))
{
    Console.Error.WriteLine($"bench: {binary} is missing; build it first (./scripts/setup.sh)");
    return 2;
}

var trials1 = quick ? 4 : 15;
int[] sequential = quick ? [10] : [50, 200];
const int Ports = 4;
const int Warmup = 2;
var samples = new Samples();
var wall = Stopwatch.StartNew();
var rootBefore = World.RootSnapshot();
var problems = new List<string>();

Console.WriteLine($"# portmapper: ours = one conflist [mesos-cni-port-mapper(delegate: bridge + host-local)]; reference = conflist [bridge + host-local, portmap] " +
    $"(baselines.md §1c). Both run by NetIsolator.Cni's CniRuntime (libcni's behaviour: prevResult chaining, cache, DEL in reverse) inside their own " +
    $"fake host namespace; {Ports} mapped TCP ports per container; snat on for both (hairpin + host loopback); bridge ipMasq false.");
Console.WriteLine($"# portmapper: timed = the CNI ADD or DEL of the network list only; each container's netns is created before its ADD and deleted after its DEL, untimed. " +
    $"N=1 = {trials1} trials with fresh host namespaces (bridge and chains created in the ADD); N>1 = all ADDs then all DELs, ours and reference alternating " +
    $"container by container; {Warmup} warm-up trials discarded{(quick ? "; --quick" : "")}.");

using (var world = new World(Path.GetFullPath(binary)))
{
    try
    {
        for (var trial = -Warmup; trial < trials1; trial++)
        {
            var sides = world.NewSides();
            RunSequence(sides, 1, "n1", trial, record: trial >= 0);
            Finish(world, sides, "n1");
        }

        foreach (var n in sequential)
        {
            var sides = world.NewSides();
            RunSequence(sides, n, $"n{n}", 0, record: true);
            Finish(world, sides, $"n{n}");
        }
    }
    catch (Exception e)
    {
        problems.Add($"run aborted: {e.Message}");
        Console.Error.WriteLine($"bench: {e}");
    }
}

var rootAfter = World.RootSnapshot();
if (rootAfter != rootBefore)
{
    problems.Add("the root network namespace changed");
}

string[] scenarios = ["n1", .. sequential.Select(n => $"n{n}")];
foreach (var scenario in scenarios)
{
    foreach (var op in new[] { "add", "del" })
    {
        foreach (var side in new[] { "ours", "ref" })
        {
            var values = samples.Of(side, scenario, op);
            if (values.Length > 0)
            {
                Console.WriteLine($"portmapper.{op}_ms.{side}.{scenario} {Summary(values)}");
            }
        }
    }
}

string Ratio(string op, double target)
{
    var parts = scenarios.Select(s => (s, r: Median(samples.Of("ours", s, op)) / Median(samples.Of("ref", s, op)))).ToList();
    var worst = parts.Max(p => p.r);
    var met = worst <= target ? "met" : "NOT-met";
    return $"portmapper.{op}_ratio {worst.ToString("0.000", CultureInfo.InvariantCulture)} ratio=ours/reference median, worst of " +
        string.Join(' ', parts.Select(p => $"{p.s}={p.r.ToString("0.000", CultureInfo.InvariantCulture)}")) + $" target<={target} {met}";
}

Console.WriteLine(Ratio("add", 0.5));
Console.WriteLine(Ratio("del", 0.5));
var last = scenarios[^1];
var growth = Median(samples.Of("ours", last, "add")) / Median(samples.Of("ours", "n1", "add"));
var refGrowth = Median(samples.Of("ref", last, "add")) / Median(samples.Of("ref", "n1", "add"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"portmapper.add_growth {growth:0.000} ratio=ours median ADD {last}/n1 ({F(Median(samples.Of("ours", last, "add")))}/{F(Median(samples.Of("ours", "n1", "add")))} ms; reference {refGrowth:0.000}) target<=1.2 {(growth <= 1.2 ? "met" : "NOT-met")}"));
Console.WriteLine($"portmapper.leaks {problems.Count} problems {(problems.Count == 0 ? "none: no pmbench netns, no leases, no veths, no rules or chains left in the fake hosts, root netns and its iptables unchanged" : string.Join("; ", problems))}");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"portmapper.run_s {wall.Elapsed.TotalSeconds:0.00} s (whole run, incl. namespace set-up and teardown)"));

Directory.CreateDirectory(resultsDir);
samples.WriteCsv(Path.Join(resultsDir, "portmapper.csv"));
Plot.Write(Path.GetFullPath(Path.Join(resultsDir, "portmapper.png")), samples, [.. scenarios.Select(s => (s, $"N={s[1..]}"))],
    [new("add", "ADD"), new("del", "DEL")],
    [new("ours", "ours: mesos-cni-port-mapper(bridge)", "#1f77b4"), new("ref", "reference: bridge, portmap", "#ff7f0e")],
    "mesos-cni-port-mapper (ours, wrapping bridge) vs bridge + portmap (reference), both run as a conflist by the CNI runtime",
    "containers N on one host (sequential ADDs, then DELs); 4 mapped TCP ports each",
    logScale: false);
return problems.Count == 0 ? 0 : 1;

void RunSequence((Side Ours, Side Ref) sides, int n, string scenario, int trial, bool record)
{
    var ids = new string[n];
    for (var i = 0; i < n; i++)
    {
        ids[i] = $"c{i}";
        foreach (var side in Order(i, sides))
        {
            var ms = side.Add(ids[i], 10000 + i * Ports, Ports);
            if (record)
            {
                samples.Add(side.Name, scenario, n, trial, i, "add", ms);
            }
        }
    }

    for (var i = 0; i < n; i++)
    {
        foreach (var side in Order(i, sides))
        {
            var ms = side.Del(ids[i]);
            if (record)
            {
                samples.Add(side.Name, scenario, n, trial, i, "del", ms);
            }
        }
    }
}

static IEnumerable<Side> Order(int i, (Side Ours, Side Ref) sides) => i % 2 == 0 ? [sides.Ours, sides.Ref] : [sides.Ref, sides.Ours];

void Finish(World world, (Side Ours, Side Ref) sides, string scenario)
{
    foreach (var side in new[] { sides.Ours, sides.Ref })
    {
        problems.AddRange(side.Leftovers().Select(p => $"{scenario} {side.Name}: {p}"));
        world.DeleteHost(side);
    }
}
