using System.Diagnostics;
using Mesos;
using NetIsolator.Bench;
using NetIsolator.Bench.Cni;
using static NetIsolator.Bench.Stats;

// The CNI isolator benchmark: ours (NetIsolator.Isolators.Cni.CniIsolator) against the reference path of
// /work/shared/reference/baselines.md §1/§1b, side by side in one run. Prints `name value unit details` lines and writes
// bench/results/cni.csv (every sample) and bench/results/cni.png. Root only; the machine's own network namespace is
// never changed (all bridges and veth host ends live in fake host namespaces this run creates and deletes).

var quick = args.Contains("--quick");
var resultsDir = args.SkipWhile(a => a != "--results").Skip(1).FirstOrDefault() ?? "bench/results";
if (!System.Environment.IsPrivilegedProcess)
{
    Console.Error.WriteLine("bench: the cni suite must run as root (it creates network namespaces and runs CNI plugins)");
    return 2;
}

var trials1 = quick ? 5 : 40;
int[] sequential = quick ? [10] : [50, 200];
var concurrent = quick ? 8 : 32;
var usageContainers = quick ? 20 : 100;
const int UsageRounds = 5;
const int WarmupTrials = 2;

var samples = new Samples();
var problems = new List<string>();
var rootBefore = Sandbox.RootNetworkSnapshot();
var wall = Stopwatch.StartNew();

Console.WriteLine($"# cni: ours = CniIsolator PrepareAsync+IsolateAsync(pid) (attach) and CleanupAsync (detach); the container process " +
    "(unshare --net --uts --mount sleep) is started BEFORE the timed attach (creating it is the agent's job, not the isolator's).");
Console.WriteLine("# cni: reference = `ip netns add` + bridge ADD (attach) and bridge DEL + `ip netns del` (detach), as baselines.md §1b: " +
    "`ip netns add` IS part of the reference's attach. Both sides exec /usr/lib/cni/bridge (+host-local) inside their own fake host namespace " +
    $"via ProcessPluginExecutor; ours on {OursSide.Subnet} (bridge nbo0), reference on {ReferenceSide.Subnet} (bridge nbr0); ipMasq false.");
Console.WriteLine($"# cni: N=1 is {trials1} trials each with fresh host namespaces (bridge creation included); N>1 = all attaches in sequence then all detaches " +
    $"(ours and reference alternate container by container, the order flipping each time); 300 ms settle before each N=1 operation and each N>1 trial; {WarmupTrials} warm-up trials per side are discarded{(quick ? "; --quick" : "")}.");

using (var sandbox = new Sandbox())
{
    OursSide.WriteConfig(sandbox);
    string? root = null;
    try
    {
        // N = 1: fresh host namespaces (and so a fresh bridge) per trial; warm-up trials first, not recorded.
        for (var trial = -WarmupTrials; trial < trials1; trial++)
        {
            var record = trial >= 0;
            var (ours, reference) = NewSides(sandbox);
            root ??= ours.Root;
            var pid = sandbox.StartContainers(1)[0];
            ContainerID? oursId = null;
            string? refName = null;
            for (var k = 0; k < 2; k++)
            {
                Settle();
                if ((k == 0) == (trial % 2 == 0))
                {
                    var (id, t) = await ours.AttachAsync(pid);
                    oursId = id;
                    if (record)
                    {
                        RecordOurs(samples, "n1", 1, trial, 0, t);
                    }
                }
                else
                {
                    var (name, t) = await reference.AttachAsync();
                    refName = name;
                    if (record)
                    {
                        RecordRefAttach(samples, "n1", 1, trial, 0, t);
                    }
                }
            }

            for (var k = 0; k < 2; k++)
            {
                Settle();
                if ((k == 0) == (trial % 2 == 0))
                {
                    var t = await ours.DetachAsync(oursId!);
                    if (record)
                    {
                        samples.Add("ours", "n1", 1, trial, 0, "detach", t.Ms);
                    }
                }
                else
                {
                    var t = await reference.DetachAsync(refName!);
                    if (record)
                    {
                        RecordRefDetach(samples, "n1", 1, trial, 0, t);
                    }
                }
            }

            Finish(sandbox, ours, reference, problems, "n1");
        }

        // N sequential: one host namespace (one bridge) per side; all attaches, then all detaches, interleaved.
        foreach (var n in sequential)
        {
            var scenario = $"n{n}";
            var (ours, reference) = NewSides(sandbox);
            var pids = sandbox.StartContainers(n);
            Settle();
            var oursIds = new ContainerID[n];
            var refNames = new string[n];
            for (var i = 0; i < n; i++)
            {
                for (var k = 0; k < 2; k++)
                {
                    if ((k == 0) == (i % 2 == 0))
                    {
                        var (id, t) = await ours.AttachAsync(pids[i]);
                        oursIds[i] = id;
                        RecordOurs(samples, scenario, n, 0, i, t);
                    }
                    else
                    {
                        var (name, t) = await reference.AttachAsync();
                        refNames[i] = name;
                        RecordRefAttach(samples, scenario, n, 0, i, t);
                    }
                }
            }

            for (var i = 0; i < n; i++)
            {
                for (var k = 0; k < 2; k++)
                {
                    if ((k == 0) == (i % 2 == 0))
                    {
                        samples.Add("ours", scenario, n, 0, i, "detach", (await ours.DetachAsync(oursIds[i])).Ms);
                    }
                    else
                    {
                        RecordRefDetach(samples, scenario, n, 0, i, await reference.DetachAsync(refNames[i]));
                    }
                }
            }

            Finish(sandbox, ours, reference, problems, scenario);
        }

        // Concurrent: all attaches at once (ours, then the reference), then all detaches at once.
        {
            var scenario = $"c{concurrent}";
            var (ours, reference) = NewSides(sandbox);
            var pids = sandbox.StartContainers(concurrent);
            Settle();
            var t0 = Stopwatch.GetTimestamp();
            var oursAttached = await Task.WhenAll(pids.Select(pid => Task.Run(() => ours.AttachAsync(pid))));
            samples.Add("ours", scenario, concurrent, 0, -1, "attach.wall", Clock.Ms(t0, Stopwatch.GetTimestamp()));
            t0 = Stopwatch.GetTimestamp();
            var refAttached = await Task.WhenAll(pids.Select(_ => Task.Run(reference.AttachAsync)));
            samples.Add("ref", scenario, concurrent, 0, -1, "attach.wall", Clock.Ms(t0, Stopwatch.GetTimestamp()));
            for (var i = 0; i < concurrent; i++)
            {
                RecordOurs(samples, scenario, concurrent, 0, i, oursAttached[i].Timing);
                RecordRefAttach(samples, scenario, concurrent, 0, i, refAttached[i].Timing);
            }

            t0 = Stopwatch.GetTimestamp();
            var oursDetached = await Task.WhenAll(oursAttached.Select(a => Task.Run(() => ours.DetachAsync(a.Id))));
            samples.Add("ours", scenario, concurrent, 0, -1, "detach.wall", Clock.Ms(t0, Stopwatch.GetTimestamp()));
            t0 = Stopwatch.GetTimestamp();
            var refDetached = await Task.WhenAll(refAttached.Select(a => Task.Run(() => reference.DetachAsync(a.Name))));
            samples.Add("ref", scenario, concurrent, 0, -1, "detach.wall", Clock.Ms(t0, Stopwatch.GetTimestamp()));
            for (var i = 0; i < concurrent; i++)
            {
                samples.Add("ours", scenario, concurrent, 0, i, "detach", oursDetached[i].Ms);
                RecordRefDetach(samples, scenario, concurrent, 0, i, refDetached[i]);
            }

            Finish(sandbox, ours, reference, problems, scenario);
        }

        // usage: ours only (the reference has no usage path), with `usageContainers` attached containers.
        var usageHasCounters = true;
        {
            var hostNs = sandbox.NewHostNamespace("o");
            var ours = new OursSide(sandbox, hostNs);
            var pids = sandbox.StartContainers(usageContainers);
            var ids = new List<ContainerID>();
            foreach (var pid in pids)
            {
                ids.Add((await ours.AttachAsync(pid)).Id);
            }

            _ = await ours.UsageAsync(ids[0]);
            for (var round = 0; round < UsageRounds; round++)
            {
                for (var i = 0; i < ids.Count; i++)
                {
                    var (ms, hasCounters) = await ours.UsageAsync(ids[i]);
                    usageHasCounters &= hasCounters;
                    samples.Add("ours", "usage", usageContainers, round, i, "usage", ms);
                }
            }

            foreach (var id in ids)
            {
                await ours.DetachAsync(id);
            }

            Finish(sandbox, ours, null, problems, "usage");
        }

        // ---- report ----
        List<(string Scenario, string Label)> scenarios = [("n1", "N=1"), .. sequential.Select(n => ($"n{n}", $"N={n}")), ($"c{concurrent}", $"{concurrent} concurrent")];
        foreach (var (scenario, _) in scenarios)
        {
            var suffix = scenario == $"c{concurrent}" ? $" (all {concurrent} at once; per-container latency)" : "";
            string Wall(string side, string op) =>
                samples.Of(side, scenario, $"{op}.wall") is [var w] ? $" wall={F(w)}ms" : "";
            Console.WriteLine($"cni.attach_ms.ours.{scenario} {Summary(samples.Of("ours", scenario, "attach"))} prepare={F(Median(samples.Of("ours", scenario, "attach.prepare")))} isolate={F(Median(samples.Of("ours", scenario, "attach.isolate")))}{Wall("ours", "attach")}{suffix}");
            Console.WriteLine($"cni.attach_ms.ref.{scenario} {Summary(samples.Of("ref", scenario, "attach"))} netns_add={F(Median(samples.Of("ref", scenario, "attach.netns_add")))} bridge_add={F(Median(samples.Of("ref", scenario, "attach.plugin")))}{Wall("ref", "attach")}{suffix}");
            Console.WriteLine($"cni.detach_ms.ours.{scenario} {Summary(samples.Of("ours", scenario, "detach"))}{Wall("ours", "detach")}{suffix}");
            Console.WriteLine($"cni.detach_ms.ref.{scenario} {Summary(samples.Of("ref", scenario, "detach"))} bridge_del={F(Median(samples.Of("ref", scenario, "detach.plugin")))} netns_del={F(Median(samples.Of("ref", scenario, "detach.netns_del")))}{Wall("ref", "detach")}{suffix}");
        }

        string RatioLine(string name, string op, double target)
        {
            var ratios = scenarios.Select(s => (s.Scenario, Ratio: Median(samples.Of("ours", s.Scenario, op)) / Median(samples.Of("ref", s.Scenario, op)))).ToList();
            var worst = ratios.MaxBy(r => r.Ratio);
            return $"{name} {R(worst.Ratio)} ratio=ours/reference median, worst of {string.Join(" ", ratios.Select(r => $"{r.Scenario}={R(r.Ratio)}"))} vs reference " +
                $"target<={target:0.0#} {(worst.Ratio <= target ? "met" : "NOT-met")}";
        }

        Console.WriteLine(RatioLine("cni.attach_ratio", "attach", 0.9));
        Console.WriteLine(RatioLine("cni.detach_ratio", "detach", 1.0));
        var last = $"n{sequential[^1]}";
        var growth = Median(samples.Of("ours", last, "attach")) / Median(samples.Of("ours", "n1", "attach"));
        var refGrowth = Median(samples.Of("ref", last, "attach")) / Median(samples.Of("ref", "n1", "attach"));
        Console.WriteLine($"cni.attach_growth {R(growth)} ratio=ours median attach {last}/n1 ({F(Median(samples.Of("ours", last, "attach")))}/{F(Median(samples.Of("ours", "n1", "attach")))} ms; " +
            $"reference {R(refGrowth)}) target<=1.2 {(growth <= 1.2 ? "met" : "NOT-met")}");
        var usage = samples.Of("ours", "usage", "usage");
        Console.WriteLine($"cni.usage_ms {F(Median(usage))} ms min={F(usage.Min())} p95={F(Percentile(usage, 95))} n={usage.Length} " +
            $"({usageContainers} attached containers x {UsageRounds} rounds; counters {(usageHasCounters ? "present" : "MISSING")}) target<=1 {(Median(usage) <= 1 ? "met" : "NOT-met")}");

        samples.WriteCsv(Path.Join(resultsDir, "cni.csv"));
        Plot.Write(Path.GetFullPath(Path.Join(resultsDir, "cni.png")), samples, scenarios,
            [new("attach", "attach: ours = prepare + isolate; reference = ip netns add + bridge ADD"),
             new("detach", "detach: ours = cleanup; reference = bridge DEL + ip netns del")],
            [new("ours", "ours (CniIsolator)", "#1f77b4"), new("ref", "reference (plugins run directly)", "#ff7f0e")],
            $"CNI isolator (ours) vs reference, bridge + host-local\\n{System.Environment.ProcessorCount}-CPU VM, {DateTime.UtcNow:yyyy-MM-dd}{(quick ? ", --quick" : "")}",
            $"containers N (sequential), or {concurrent} attached/detached concurrently",
            logScale: true);
    }
    finally
    {
        sandbox.KillContainers();
        if (sandbox.OurNetnsNames() is { Count: > 0 } left)
        {
            problems.Add($"namespaces left before teardown: {string.Join(' ', left)}");
        }

        if (sandbox.NsfsMounts() is { Count: > 0 } mounts)
        {
            problems.Add($"nsfs pins left: {mounts.Count}");
        }

        if (sandbox.Leases() is { Count: > 0 } leases)
        {
            problems.Add($"host-local leases left: {leases.Count}");
        }

        if (sandbox.ContainerDirectories(root) is { Count: > 0 } dirs)
        {
            problems.Add($"isolator container directories left: {dirs.Count}");
        }
    }

    var afterNames = sandbox.OurNetnsNames();
    if (afterNames.Count > 0)
    {
        problems.Add($"namespaces left: {string.Join(' ', afterNames)}");
    }
}

if (Sandbox.RootNetworkSnapshot() != rootBefore)
{
    problems.Add("the root network namespace's links/addresses/routes changed during the run (another job, or a leak)");
}

if (Sandbox.Run("ip", "netns", "list").Contains(Sandbox.NetnsPrefix, StringComparison.Ordinal))
{
    problems.Add("nibench-* namespaces still listed after teardown");
}

Console.WriteLine($"cni.leaks {problems.Count} problems {(problems.Count == 0 ? "none: no nibench netns, no nsfs pins, no leases, no isolator dirs, no veths left in the fake hosts, root netns unchanged" : string.Join("; ", problems))}");
Console.WriteLine($"cni.run_s {F(wall.Elapsed.TotalSeconds)} s (whole run, incl. container start-up and teardown)");
return problems.Count == 0 ? 0 : 1;

// Before timing anything: let the kernel finish tearing down the namespaces deleted before (cleanup_net runs
// asynchronously after `ip netns del` or a pin's unmount, RCU-heavy) and the container processes finish starting, so
// a timed operation does not pay for them (whichever side went first was ~20 ms slower without this; at N=1 the
// second detach of a trial also paid for the first's teardown).
static void Settle() => Thread.Sleep(300);

static string R(double ratio) => ratio.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);

static (OursSide, ReferenceSide) NewSides(Sandbox sandbox) =>
    (new OursSide(sandbox, sandbox.NewHostNamespace("o")), new ReferenceSide(sandbox, sandbox.NewHostNamespace("r")));

static void RecordOurs(Samples samples, string scenario, int n, int trial, int index, Timing t)
{
    samples.Add("ours", scenario, n, trial, index, "attach", t.Ms);
    samples.Add("ours", scenario, n, trial, index, "attach.prepare", t.PartA);
    samples.Add("ours", scenario, n, trial, index, "attach.isolate", t.PartB);
}

static void RecordRefAttach(Samples samples, string scenario, int n, int trial, int index, Timing t)
{
    samples.Add("ref", scenario, n, trial, index, "attach", t.Ms);
    samples.Add("ref", scenario, n, trial, index, "attach.netns_add", t.PartA);
    samples.Add("ref", scenario, n, trial, index, "attach.plugin", t.PartB);
}

static void RecordRefDetach(Samples samples, string scenario, int n, int trial, int index, Timing t)
{
    samples.Add("ref", scenario, n, trial, index, "detach", t.Ms);
    samples.Add("ref", scenario, n, trial, index, "detach.plugin", t.PartA);
    samples.Add("ref", scenario, n, trial, index, "detach.netns_del", t.PartB);
}

// After a scenario: nothing of the containers may be left in the fake hosts, the IPAM dirs or the isolator's root;
// then the fake hosts (and their bridges) are deleted and the container processes killed.
static void Finish(Sandbox sandbox, OursSide ours, ReferenceSide? reference, List<string> problems, string scenario)
{
    foreach (var host in new[] { ours.HostNamespace, reference?.HostNamespace })
    {
        if (host is not null)
        {
            if (Sandbox.VethCount(host) is var veths and > 0)
            {
                problems.Add($"{scenario}: {veths} veth(s) left in {host}");
            }

            sandbox.DeleteNamespace(host);
        }
    }

    if (sandbox.Leases() is { Count: > 0 } leases)
    {
        problems.Add($"{scenario}: {leases.Count} host-local lease(s) left");
    }

    if (sandbox.NsfsMounts() is { Count: > 0 } mounts)
    {
        problems.Add($"{scenario}: {mounts.Count} nsfs pin(s) left");
    }

    if (sandbox.ContainerDirectories(ours.Root) is { Count: > 0 } dirs)
    {
        problems.Add($"{scenario}: {dirs.Count} isolator container dir(s) left");
    }

    sandbox.KillContainers();
}
