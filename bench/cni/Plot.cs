using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace NetIsolator.Bench.Cni;

/// <summary>
/// The PNG: median attach and detach latency per container against N, ours beside the reference (a clustered bar per
/// scenario, whiskers p25..p75), drawn by gnuplot (fed on stdin, no shell, no temp files).
/// </summary>
internal static class Plot
{
    public static void Write(string path, Samples samples, IReadOnlyList<(string Scenario, string Label)> scenarios, int concurrent, string subtitle)
    {
        var script = new StringBuilder();
        script.AppendLine(CultureInfo.InvariantCulture, $"set terminal png size 1300,560 font \"DejaVuSans,11\"");
        script.AppendLine(CultureInfo.InvariantCulture, $"set output \"{path}\"");
        foreach (var op in new[] { "attach", "detach" })
        {
            script.AppendLine(CultureInfo.InvariantCulture, $"${op} << EOD");
            foreach (var (scenario, label) in scenarios)
            {
                var ours = samples.Of("ours", scenario, op);
                var reference = samples.Of("ref", scenario, op);
                script.AppendLine(CultureInfo.InvariantCulture,
                    $"\"{label}\" {Triple(ours)} {Triple(reference)}");
            }

            script.AppendLine("EOD");
        }

        script.AppendLine("""
            set style data histogram
            set style histogram errorbars gap 1.5 lw 1.5
            set style fill solid 0.75 border -1
            set boxwidth 0.9
            set grid ytics
            set logscale y
            set yrange [10:*]
            set mytics 10
            set key top left box opaque
            set ylabel "latency per container, median (ms, log scale)"
            """);
        script.AppendLine(CultureInfo.InvariantCulture, $"set xlabel \"containers N (sequential), or {concurrent} attached/detached concurrently\"");
        script.AppendLine(CultureInfo.InvariantCulture,
            $"set multiplot layout 1,2 title \"CNI isolator (ours) vs reference, bridge + host-local; bars = median, whiskers = p25..p75\\n{subtitle}\"");
        script.AppendLine("""
            set title "attach: ours = prepare + isolate; reference = ip netns add + bridge ADD"
            plot $attach using 2:3:4:xtic(1) title "ours (CniIsolator)" lc rgb "#1f77b4", $attach using 5:6:7 title "reference (plugins run directly)" lc rgb "#ff7f0e"
            set title "detach: ours = cleanup; reference = bridge DEL + ip netns del"
            plot $detach using 2:3:4:xtic(1) title "ours (CniIsolator)" lc rgb "#1f77b4", $detach using 5:6:7 title "reference (plugins run directly)" lc rgb "#ff7f0e"
            unset multiplot
            """);

        try
        {
            using var process = Process.Start(new ProcessStartInfo("gnuplot")
            {
                RedirectStandardInput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardInput.Write(script.ToString());
            process.StandardInput.Close();
            process.WaitForExit();
            if (process.ExitCode != 0 || stderr.Result.Contains("error", StringComparison.OrdinalIgnoreCase))
            {
                Console.Error.WriteLine($"bench: gnuplot exited {process.ExitCode}: {stderr.Result.Trim()}");
            }
        }
        catch (Win32Exception e)
        {
            Console.Error.WriteLine($"bench: no plot ({e.Message}); install gnuplot-nox");
        }
    }

    private static string Triple(double[] values) => values.Length == 0
        ? "NaN NaN NaN"
        : string.Create(CultureInfo.InvariantCulture, $"{Stats.Median(values):0.###} {Stats.Percentile(values, 25):0.###} {Stats.Percentile(values, 75):0.###}");
}
