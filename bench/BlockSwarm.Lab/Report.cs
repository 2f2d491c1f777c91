using System.Globalization;
using System.Text;
using ScottPlot;

namespace BlockSwarm.Lab;

/// <summary>The benchmark's log lines, table (markdown) and chart (PNG, ScottPlot).</summary>
public static class Report
{
    /// <summary>One run as the lab logs it when it ends.</summary>
    public static string Line(RunResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.System,-26} {r.Image,-7} N={r.Clients,2}: T={r.Seconds,7:0.00} s  F/c={r.FloorSeconds,6:0.00} s  T/(F/c)={r.Ratio,5:0.00}  T/(Z/c)={r.CompressedRatio,5:0.00}")
        + (r.SlowClient == null ? "" : string.Create(CultureInfo.InvariantCulture,
            $"  [{r.Room}]{(double.IsNaN(r.FastRatio) ? "" : $" fast clients {r.FastRatio:0.00}×F/c,")} {r.SlowClient} {r.SlowRatio:0.00}×F/(c/{r.SlowFactor:0.##})"))
        + (r.IsBlockSwarm && r.OriginUploaded > 0 ? $"  origin sent {r.OriginUploaded / (double)r.Bytes:0.00}×F, peers {r.PeerUploaded / (double)r.Bytes:0.00}×F" : "");

    public static string Table(IReadOnlyList<RunResult> results)
    {
        var sb = new StringBuilder();
        var ns = results.Select(r => r.Clients).Distinct().Order().ToList();
        var header = "| system | " + string.Join(" | ", ns.Select(n => $"N={n}")) + " |";
        var rule = "|---|" + string.Join("", ns.Select(_ => "---:|"));
        foreach (var image in results.Select(r => r.Image).Distinct())
        {
            var rs = results.Where(r => r.Image == image).ToList();
            var equal = rs.Where(r => r.SlowClient == null).ToList();
            var first = rs[0];
            if (equal.Count > 0)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"\nT(N) ÷ (F/c), image `{image}` ({Sizes(first)}; c = {first.RateMbit:0.###} Mbit/s)\n");
                sb.AppendLine(header + " T(max N)/T(1) |").AppendLine(rule + "---:|");
                foreach (var sys in equal.Select(r => r.System).Distinct())
                {
                    var row = Row(equal, ns, sys);
                    var one = row.FirstOrDefault(r => r is { Clients: 1 } && !double.IsNaN(r.Seconds));
                    var last = row.LastOrDefault(r => r != null && !double.IsNaN(r.Seconds));
                    var growth = one != null && last != null ? $"{last.Seconds / one.Seconds:0.00}" : "";
                    sb.AppendLine(CultureInfo.InvariantCulture, $"| {sys} | {Cells(row, r => r.Ratio, r => r.Seconds)} | {growth} |");
                }
                if (first.CompressedBytes > 0)
                {
                    sb.AppendLine(CultureInfo.InvariantCulture, $"\nT(N) ÷ (Z/c), the same runs (1 = the zstd -3 stream of the used data at line rate, Z/c = {first.CompressedFloorSeconds:0.0} s)\n");
                    sb.AppendLine(header).AppendLine(rule);
                    foreach (var sys in equal.Select(r => r.System).Distinct())
                        sb.AppendLine(CultureInfo.InvariantCulture, $"| {sys} | {Cells(Row(equal, ns, sys), r => r.CompressedRatio, r => r.Seconds)} |");
                }
            }
            var slow = rs.Where(r => r.SlowClient != null).ToList();
            if (slow.Count > 0)
            {
                var k = slow[0].SlowFactor;
                sb.AppendLine(CultureInfo.InvariantCulture, $"\nHeterogeneous room, image `{image}`: the last client's link at c/{k:0.##} = {first.RateMbit / k:0.###} Mbit/s. " +
                    $"Fast clients: the last of them ÷ (F/c); slow client ÷ its own floor F/(c/{k:0.##}) = {first.FloorSeconds * k:0.0} s\n");
                sb.AppendLine(header.Replace("| system |", "| system | clients |", StringComparison.Ordinal)).AppendLine(rule.Replace("|---|", "|---|---|", StringComparison.Ordinal));
                foreach (var sys in slow.Select(r => r.System).Distinct())
                {
                    var row = Row(slow, ns, sys);
                    sb.AppendLine(CultureInfo.InvariantCulture, $"| {sys} | fast | {Cells(row, r => r.FastRatio, r => r.FastRatio * r.FloorSeconds)} |");
                    sb.AppendLine(CultureInfo.InvariantCulture, $"| {sys} | slow | {Cells(row, r => r.SlowRatio, r => r.SlowRatio * r.FloorSeconds * r.SlowFactor)} |");
                }
            }
        }
        var ours = results.Where(r => r.IsBlockSwarm && r.PerClient.Count > 0).ToList();
        if (ours.Count > 0)
        {
            sb.AppendLine("\nBlockSwarm byte counts (from the server's /api/clients): origin upload and peer upload in units of F\n");
            sb.AppendLine("| system | image | room | N | origin sent | peers sent | slowest client (s) | fastest client (s) | last client up (s) | T ÷ (F/c) from then (slow room: ÷ F/(c/k)) |");
            sb.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in ours)
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.System} | {r.Image} | {r.Room} | {r.Clients} | {r.OriginUploaded / (double)r.Bytes:0.00} | {r.PeerUploaded / (double)r.Bytes:0.00} | {r.PerClient.Max(c => c.Seconds):0.0} | {r.PerClient.Min(c => c.Seconds):0.0} | {r.LastClientUpSeconds:0.0} | {(r.Seconds - r.LastClientUpSeconds) / (r.FloorSeconds * r.SlowFactor):0.00} |");
        }
        return sb.ToString();
    }

    private static string Sizes(RunResult r) => string.Create(CultureInfo.InvariantCulture, $"F = {r.Bytes / 1048576.0:0} MiB of used data")
        + (r.CompressedBytes > 0 ? string.Create(CultureInfo.InvariantCulture, $", Z = {r.CompressedBytes / 1048576.0:0} MiB with zstd -3, F/Z = {r.Bytes / (double)r.CompressedBytes:0.00}") : "");

    private static List<RunResult?> Row(List<RunResult> rs, List<int> ns, string system) =>
        [.. ns.Select(n => rs.FirstOrDefault(r => r.System == system && r.Clients == n))];

    /// <summary>"ratio (seconds s)" per N; blank where there is no run, "failed" where it failed, "–" where the ratio has no meaning (no fast client at N = 1).</summary>
    private static string Cells(List<RunResult?> row, Func<RunResult, double> ratio, Func<RunResult, double> seconds) =>
        string.Join(" | ", row.Select(r => r == null ? "" : double.IsNaN(r.Seconds) ? "failed"
            : double.IsNaN(ratio(r)) ? "–" : string.Create(CultureInfo.InvariantCulture, $"{ratio(r):0.00} ({seconds(r):0.0} s)")));

    /// <summary>
    /// One panel per image: T(N) ÷ (F/c) per system (solid); in the heterogeneous room the fast clients' (dashed) and the
    /// slow client's T ÷ its own floor (dotted); the goal, and Z/F: where a system sending the zstd -3 stream at line rate
    /// would sit.
    /// </summary>
    public static void Chart(IReadOnlyList<RunResult> results, string png)
    {
        var ok = results.Where(r => !double.IsNaN(r.Seconds)).ToList();
        var images = results.Select(r => r.Image).Distinct().ToList();
        var palette = new ScottPlot.Palettes.Category10();
        var colors = results.Select(r => r.System).Distinct().Select((s, i) => (s, i)).ToDictionary(x => x.s, x => palette.GetColor(x.i));
        var ticks = results.Select(r => r.Clients).Distinct().Order().Select(n => new ScottPlot.Tick(Math.Log2(n), n.ToString(CultureInfo.InvariantCulture))).ToArray();
        var multiplot = new ScottPlot.Multiplot();
        multiplot.AddPlots(Math.Max(1, images.Count));
        // With more lines than a panel's upper left corner holds, the legend goes beside the axes and the panels one under another.
        bool legendBeside = images.Any(image => ok.Where(r => r.Image == image).Select(r => (r.System, r.SlowClient != null)).Distinct().Sum(x => x.Item2 ? 2 : 1) > 5);
        int columns = images.Count <= 1 || legendBeside ? 1 : 2, rows = Math.Max(1, (images.Count + columns - 1) / columns);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
        for (int p = 0; p < images.Count; p++)
        {
            var plt = multiplot.GetPlot(p);
            var rs = ok.Where(r => r.Image == images[p]).ToList();
            double top = 2;
            void Series(IEnumerable<RunResult> runs, Func<RunResult, double> y, string system, string legend, ScottPlot.LinePattern pattern)
            {
                var pts = runs.Where(r => !double.IsNaN(y(r))).OrderBy(r => r.Clients).ToList();
                if (pts.Count == 0) return;
                var sc = plt.Add.Scatter(pts.Select(r => Math.Log2(r.Clients)).ToArray(), pts.Select(y).ToArray(), colors[system]);
                sc.LegendText = legend;
                sc.LinePattern = pattern;
                sc.LineWidth = 2;
                sc.MarkerSize = 7;
                top = Math.Max(top, pts.Max(y) * 1.1);
            }
            foreach (var g in rs.GroupBy(r => r.System))
            {
                Series(g.Where(r => r.SlowClient == null), r => r.Ratio, g.Key, g.Key, ScottPlot.LinePattern.Solid);
                var slow = g.Where(r => r.SlowClient != null).ToList();
                if (slow.Count == 0) continue;
                Series(slow, r => r.FastRatio, g.Key, $"{g.Key}, c/{slow[0].SlowFactor:0.##} room: fast clients", ScottPlot.LinePattern.Dashed);
                Series(slow, r => r.SlowRatio, g.Key, $"{g.Key}, c/{slow[0].SlowFactor:0.##} room: slow client ÷ F/(c/{slow[0].SlowFactor:0.##})", ScottPlot.LinePattern.Dotted);
            }
            var goal = plt.Add.HorizontalLine(1.15);
            goal.LinePattern = ScottPlot.LinePattern.Dashed;
            goal.Color = ScottPlot.Colors.Gray;
            goal.LegendText = "goal 1.15 × F/c";
            var any = results.First(r => r.Image == images[p]);
            if (any.CompressedBytes > 0)
            {
                var z = plt.Add.HorizontalLine(any.CompressedBytes / (double)any.Bytes);
                z.LinePattern = ScottPlot.LinePattern.DenselyDashed;
                z.Color = ScottPlot.Colors.Black;
                z.LegendText = "Z/c: the zstd -3 stream at line rate";
            }
            plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
            plt.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic();
            plt.XLabel("clients N");
            plt.YLabel("T(N) ÷ (F/c)   (1 = line rate)");
            plt.Title(string.Create(CultureInfo.InvariantCulture, $"{images[p]}: {Sizes(any)}; links {any.RateMbit:0.###} Mbit/s"), size: 13);
            if (legendBeside) plt.ShowLegend(Edge.Right);
            else plt.ShowLegend(Alignment.UpperLeft);
            plt.Axes.SetLimitsY(0, Math.Min(20, top));
        }
        multiplot.SavePng(png, (legendBeside ? 1200 : 900) * columns, 560 * rows);
    }
}
