using System.Globalization;
using System.Text;

namespace NetIsolator.Bench;

/// <summary>One measured value, as written to the CSV.</summary>
internal sealed record Sample(string Side, string Scenario, int N, int Trial, int Index, string Op, double Ms);

internal sealed class Samples
{
    private readonly List<Sample> _all = [];

    public void Add(string side, string scenario, int n, int trial, int index, string op, double ms)
    {
        lock (_all)
        {
            _all.Add(new Sample(side, scenario, n, trial, index, op, ms));
        }
    }

    public double[] Of(string side, string scenario, string op)
    {
        lock (_all)
        {
            return [.. _all.Where(s => s.Side == side && s.Scenario == scenario && s.Op == op).Select(s => s.Ms)];
        }
    }

    public void WriteCsv(string path)
    {
        var text = new StringBuilder("side,scenario,n,trial,index,op,ms\n");
        lock (_all)
        {
            foreach (var s in _all)
            {
                text.Append(CultureInfo.InvariantCulture, $"{s.Side},{s.Scenario},{s.N},{s.Trial},{s.Index},{s.Op},{s.Ms:0.####}\n");
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, text.ToString());
    }
}

internal static class Stats
{
    /// <summary>Linear-interpolated percentile (0..100) of the values.</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        var rank = p / 100.0 * (sorted.Length - 1);
        var low = (int)Math.Floor(rank);
        var high = (int)Math.Ceiling(rank);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }

    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);

    public static string F(double value) =>
        value.ToString(Math.Abs(value) >= 100 ? "0.0" : Math.Abs(value) >= 1 ? "0.00" : "0.000", CultureInfo.InvariantCulture);

    public static string Summary(IReadOnlyList<double> values) =>
        $"{F(Median(values))} ms min={F(values.Min())} p95={F(Percentile(values, 95))} n={values.Count}";
}
