using System.Globalization;
using System.Text;

namespace BlockSwarm.Lab;

/// <summary>The benchmark's table (markdown) and chart (PNG, ScottPlot).</summary>
public static class Report
{
    public static string Table(IReadOnlyList<RunResult> results)
    {
        var sb = new StringBuilder();
        var ns = results.Select(r => r.Clients).Distinct().Order().ToList();
        foreach (var image in results.Select(r => r.Image).Distinct())
        {
            var rs = results.Where(r => r.Image == image).ToList();
            sb.AppendLine(CultureInfo.InvariantCulture, $"\nT(N) ÷ (F/c), image `{image}` (F = {rs[0].Bytes / 1048576.0:0} MiB payload for BlockSwarm; c = {rs[0].RateMbit:0} Mbit/s)\n");
            sb.AppendLine("| system | " + string.Join(" | ", ns.Select(n => $"N={n}")) + " | T(max N)/T(1) |");
            sb.AppendLine("|---|" + string.Join("", ns.Select(_ => "---:|")) + "---:|");
            foreach (var sys in rs.Select(r => r.System).Distinct())
            {
                var row = ns.Select(n => rs.FirstOrDefault(r => r.System == sys && r.Clients == n)).ToList();
                var cells = row.Select(r => r == null ? "" : double.IsNaN(r.Seconds) ? "failed" : $"{r.Ratio:0.00} ({r.Seconds:0.0} s)");
                var first = row.FirstOrDefault(r => r is { Clients: 1 } && !double.IsNaN(r.Seconds));
                var last = row.LastOrDefault(r => r != null && !double.IsNaN(r.Seconds));
                var growth = first != null && last != null ? $"{last.Seconds / first.Seconds:0.00}" : "";
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {sys} | {string.Join(" | ", cells)} | {growth} |");
            }
        }
        var ours = results.Where(r => r.System == "BlockSwarm" && r.PerClient.Count > 0).ToList();
        if (ours.Count > 0)
        {
            sb.AppendLine("\nBlockSwarm byte counts (from the server's /api/clients): origin upload and peer upload in units of F\n");
            sb.AppendLine("| image | N | origin sent | peers sent | slowest client (s) | fastest client (s) | last client up (s) | T ÷ (F/c) from then |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in ours)
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Image} | {r.Clients} | {r.OriginUploaded / (double)r.Bytes:0.00} | {r.PeerUploaded / (double)r.Bytes:0.00} | {r.PerClient.Max(c => c.Seconds):0.0} | {r.PerClient.Min(c => c.Seconds):0.0} | {r.LastClientUpSeconds:0.0} | {(r.Seconds - r.LastClientUpSeconds) / r.FloorSeconds:0.00} |");
        }
        return sb.ToString();
    }

    public static void Chart(IReadOnlyList<RunResult> results, string png)
    {
        var plt = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        foreach (var g in results.Where(r => !double.IsNaN(r.Seconds)).GroupBy(r => (r.System, r.Image)))
        {
            var pts = g.OrderBy(r => r.Clients).ToList();
            var xs = pts.Select(r => Math.Log2(r.Clients)).ToArray();
            var ys = pts.Select(r => r.Ratio).ToArray();
            var sc = plt.Add.Scatter(xs, ys, palette.GetColor(i++));
            sc.LegendText = g.Key.Image == "random" ? g.Key.System : $"{g.Key.System} ({g.Key.Image})";
            sc.LineWidth = 2;
            sc.MarkerSize = 7;
        }
        var goal = plt.Add.HorizontalLine(1.15);
        goal.LinePattern = ScottPlot.LinePattern.Dashed;
        goal.Color = ScottPlot.Colors.Gray;
        goal.LegendText = "goal 1.15 × F/c";
        var ticks = results.Select(r => r.Clients).Distinct().Order().Select(n => new ScottPlot.Tick(Math.Log2(n), n.ToString(CultureInfo.InvariantCulture))).ToArray();
        plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plt.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic();
        plt.XLabel("clients N");
        plt.YLabel("T(N) ÷ (F/c)   (1 = line rate)");
        var rate = results.Count > 0 ? results[0].RateMbit : 0;
        plt.Title($"Swarm lab: time to deliver F to N clients, links {rate:0} Mbit/s");
        plt.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plt.Axes.SetLimitsY(0, Math.Min(20, Math.Max(2, results.Where(r => !double.IsNaN(r.Seconds)).Select(r => r.Ratio).DefaultIfEmpty(2).Max() * 1.1)));
        plt.SavePng(png, 900, 560);
    }
}
