using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace NetIsolator.Bench;

/// <summary>One panel of a plot: the samples of operation <paramref name="Op"/>, under <paramref name="Title"/>.</summary>
internal sealed record PlotPanel(string Op, string Title);

/// <summary>One side of the comparison: the samples of side <paramref name="Side"/>, in the key as <paramref name="Label"/>.</summary>
internal sealed record PlotSide(string Side, string Label, string Color);

/// <summary>
/// The suites' PNG: per panel (operation), the median latency per scenario (usually N), one clustered bar per
/// side with whiskers p25..p75, drawn by gnuplot fed on stdin (no shell, no temp files). A missing gnuplot or a
/// gnuplot error is reported on stderr and does not fail the run.
/// </summary>
internal static class Plot
{
    public static void Write(
        string path,
        Samples samples,
        IReadOnlyList<(string Scenario, string Label)> scenarios,
        IReadOnlyList<PlotPanel> panels,
        IReadOnlyList<PlotSide> sides,
        string title,
        string xlabel,
        bool logScale)
    {
        var script = new StringBuilder();
        script.AppendLine(CultureInfo.InvariantCulture, $"set terminal png size {Math.Max(700, 650 * panels.Count)},560 font \"DejaVuSans,11\"");
        script.AppendLine(CultureInfo.InvariantCulture, $"set output \"{path}\"");
        // Labels are plain text: names like network/port_mapping must not turn '_' into a subscript.
        script.AppendLine("set termoption noenhanced");
        for (var p = 0; p < panels.Count; p++)
        {
            script.AppendLine(CultureInfo.InvariantCulture, $"$panel{p} << EOD");
            foreach (var (scenario, label) in scenarios)
            {
                script.AppendLine(CultureInfo.InvariantCulture,
                    $"\"{label}\" {string.Join(' ', sides.Select(s => Triple(samples.Of(s.Side, scenario, panels[p].Op))))}");
            }

            script.AppendLine("EOD");
        }

        script.AppendLine("""
            set style data histogram
            set style histogram errorbars gap 1.5 lw 1.5
            set style fill solid 0.75 border -1
            set boxwidth 0.9
            set grid ytics
            set key below box
            """);
        script.AppendLine(logScale
            ? "set logscale y\nset mytics 10\nset ylabel \"latency per container, median (ms, log scale)\""
            : "set yrange [0:*]\nset ylabel \"latency per container, median (ms)\"");
        script.AppendLine(CultureInfo.InvariantCulture, $"set xlabel \"{xlabel}\"");
        script.AppendLine(CultureInfo.InvariantCulture, $"set multiplot layout 1,{panels.Count} title \"{title}\\nbars = median, whiskers = p25..p75\"");
        for (var p = 0; p < panels.Count; p++)
        {
            script.AppendLine(CultureInfo.InvariantCulture, $"set title \"{panels[p].Title}\"");
            var series = sides.Select((s, i) =>
                $"$panel{p} using {2 + (3 * i)}:{3 + (3 * i)}:{4 + (3 * i)}{(i == 0 ? ":xtic(1)" : "")} title \"{s.Label}\" lc rgb \"{s.Color}\"");
            script.AppendLine("plot " + string.Join(", ", series));
        }

        script.AppendLine("unset multiplot");
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
