using System.Globalization;
using System.Text;
using System.Text.Json;
using BlockSwarm.Simulation;
using ScottPlot;

namespace BlockSwarm.Lab;

/// <summary>
/// <c>blockswarm-lab simulate</c>: the swarm simulator (<see cref="Simulator"/>, issue 19) over one or more client counts;
/// prints T ÷ (F/c), the origin's copies and each uplink's bytes ÷ F, writes the runs as JSON and a chart.
/// </summary>
public static class SimulateCommand
{
    public const string Usage = """
           blockswarm-lab simulate [--clients 100,500,2000] [--per-switch 0] [--access 1G] [--uplink 10G] [--origin-rate ACCESS]
                                   [--origin core|switch] [--image-mib 1024] [--piece-kib AUTO] [--seed 1] [--step-ms 10]
                                   [--start-spread-s 0] [--vanish 0] [--vanish-at-s 5] [--outage SWITCH@AT_S+DUR_S] [--out DIR]
                                   [--origin-max-peers 256] [--locality yes|no] [--dial-limit N] [--drop-seeds yes|no] [--pipeline-ms 250]
                              the engine's picker, choker, origin policy and tracker on virtual time over a modelled LAN
                              (--per-switch 0: one flat switch; rates take K, M, G suffixes, bits/s). Prints T ÷ (F/c), the
                              origin's copies of F, how full the clients' links were until the origin had sent every piece,
                              and every uplink's bytes ÷ F; writes simulate.json (with per-second series) and simulate.png
                              to --out
    """;

    public static int Run(Func<string, string, string> opt, Action<string> log)
    {
        var counts = opt("clients", "100,500,2000").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        int perSwitch = int.Parse(opt("per-switch", "0"), CultureInfo.InvariantCulture);
        double access = ParseRate(opt("access", "1G"));
        double uplink = ParseRate(opt("uplink", "10G"));
        string originRate = opt("origin-rate", "");
        var placement = opt("origin", "core") switch
        {
            "core" => OriginPlacement.Core,
            "switch" => OriginPlacement.FirstSwitch,
            var other => throw new ArgumentException($"--origin {other}: core or switch"),
        };
        long image = long.Parse(opt("image-mib", "1024"), CultureInfo.InvariantCulture) << 20;
        string piece = opt("piece-kib", "");
        var outages = opt("outage", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(ParseOutage).ToList();
        var results = new List<SimulationResult>();
        foreach (int n in counts)
        {
            var options = new SimulationOptions
            {
                Network = new NetworkShape
                {
                    Clients = n,
                    PerSwitch = perSwitch > 0 ? perSwitch : int.MaxValue,
                    AccessRate = access,
                    UplinkRate = uplink,
                    OriginRate = originRate.Length > 0 ? ParseRate(originRate) : null,
                    Origin = placement,
                },
                ImageBytes = image,
                PieceLength = piece.Length > 0 ? int.Parse(piece, CultureInfo.InvariantCulture) * 1024 : null,
                Seed = int.Parse(opt("seed", "1"), CultureInfo.InvariantCulture),
                Step = TimeSpan.FromMilliseconds(double.Parse(opt("step-ms", "10"), CultureInfo.InvariantCulture)),
                StartSpread = TimeSpan.FromSeconds(double.Parse(opt("start-spread-s", "0"), CultureInfo.InvariantCulture)),
                VanishFraction = double.Parse(opt("vanish", "0"), CultureInfo.InvariantCulture),
                VanishAt = TimeSpan.FromSeconds(double.Parse(opt("vanish-at-s", "5"), CultureInfo.InvariantCulture)),
                Outages = outages,
                DialLimit = opt("dial-limit", "") is { Length: > 0 } dial ? int.Parse(dial, CultureInfo.InvariantCulture) : null,
                DropSeeds = opt("drop-seeds", "yes") == "yes",
                Locality = opt("locality", "yes") == "yes",
                OriginMaxConnections = int.Parse(opt("origin-max-peers", "256"), CultureInfo.InvariantCulture),
            };
            if (opt("pipeline-ms", "") is { Length: > 0 } ms)
                options = options with
                {
                    Torrent = options.Torrent with
                    {
                        Swarm = options.Torrent.Swarm with
                        {
                            Pipeline = options.Torrent.Swarm.Pipeline with { TargetLatency = TimeSpan.FromMilliseconds(double.Parse(ms, CultureInfo.InvariantCulture)) },
                        },
                    },
                };
            var r = new Simulator(options).Run();
            results.Add(r);
            log(Line(r));
        }
        var outDir = Path.GetFullPath(opt("out", "."));
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "simulate.json"), JsonSerializer.Serialize(results.Select(Summary).ToList(), new JsonSerializerOptions { WriteIndented = true }));
        Chart(results, Path.Combine(outDir, "simulate.png"));
        log($"wrote {Path.Combine(outDir, "simulate.json")} and simulate.png");
        return results.All(r => r.AllCompleted) ? 0 : 1;
    }

    /// <summary>One run as a line: N, T, T ÷ (F/c), the origin's copies, uplink bytes, the simulation's own cost.</summary>
    public static string Line(SimulationResult r)
    {
        var o = r.Options;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"N={o.Network.Clients,5}");
        if (o.Network.IsTree) sb.Append(CultureInfo.InvariantCulture, $" ({o.Network.SwitchCount} switches × {o.Network.PerSwitch})");
        sb.Append(CultureInfo.InvariantCulture, $": T={r.T,8:0.00} s  F/c={r.Floor,7:0.00} s  T/(F/c)={r.TOverFloor,5:0.000}  origin {r.OriginCopies:0.00}×F (every piece once by {r.OriginSentAllAt:0.0} s)  peers {r.PeerCopies:0.0}×F");
        if (r.LinksUsedUntilOriginSentAll() is { } used) sb.Append(CultureInfo.InvariantCulture, $"  client links {used:P0} used until then");
        if (r.Uplinks.Count > 0)
            sb.Append(CultureInfo.InvariantCulture, $"  uplinks up max {r.Uplinks.Max(u => u.Up):0.00}×F (mean {r.Uplinks.Average(u => u.Up):0.00}), down max {r.Uplinks.Max(u => u.Down):0.00}×F (mean {r.Uplinks.Average(u => u.Down):0.00})");
        if (r.Vanished.Any(v => v)) sb.Append(CultureInfo.InvariantCulture, $"  {r.Vanished.Count(v => v)} vanished");
        if (!r.AllCompleted) sb.Append(CultureInfo.InvariantCulture, $"  NOT COMPLETE: {r.CompletedAt.Skip(1).Count(c => c != null)}/{o.Network.Clients} done at {o.MaxTime.TotalSeconds:0} s");
        sb.Append(CultureInfo.InvariantCulture, $"  [{r.PieceLength / 1024} KiB pieces, {r.Steps} steps, {r.WallSeconds:0.0} s wall]");
        return sb.ToString();
    }

    private static object Summary(SimulationResult r) => new
    {
        clients = r.Options.Network.Clients,
        perSwitch = r.Options.Network.IsTree ? r.Options.Network.PerSwitch : 0,
        accessBitsPerSecond = r.Options.Network.AccessRate,
        uplinkBitsPerSecond = r.Options.Network.UplinkRate,
        imageBytes = r.Options.ImageBytes,
        pieceLength = r.PieceLength,
        seed = r.Options.Seed,
        t = r.T,
        floor = r.Floor,
        tOverFloor = r.TOverFloor,
        originCopies = r.OriginCopies,
        peerCopies = r.PeerCopies,
        uplinks = r.Uplinks,
        vanished = r.Vanished.Count(v => v),
        completeBySecond = r.CompleteBySecond,
        utilisationBySecond = r.UtilisationBySecond,
        originRateBySecond = r.OriginRateBySecond,
        wallSeconds = r.WallSeconds,
    };

    private static void Chart(IReadOnlyList<SimulationResult> results, string png)
    {
        var plot = new Plot();
        foreach (var r in results)
        {
            double[] xs = [.. Enumerable.Range(0, r.CompleteBySecond.Length).Select(s => s / r.Floor)];
            var line = plot.Add.Scatter(xs, r.CompleteBySecond);
            line.LegendText = string.Create(CultureInfo.InvariantCulture, $"N = {r.Options.Network.Clients}: T = {r.TOverFloor:0.00} × F/c, origin {r.OriginCopies:0.00} × F");
            line.MarkerSize = 0;
        }
        plot.Title("Simulated deployment: clients complete over time");
        plot.XLabel("time ÷ (F/c)");
        plot.YLabel("share of clients complete");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(png, 900, 540);
    }

    /// <summary>"1G", "100M", "2.5G", "64K" or a plain number: bits per second.</summary>
    public static double ParseRate(string text)
    {
        double unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1e3, 'M' => 1e6, 'G' => 1e9, _ => 1 };
        var number = unit == 1 ? text : text[..^1];
        return double.Parse(number, CultureInfo.InvariantCulture) * unit;
    }

    /// <summary>"SWITCH@AT+DURATION", seconds: "3@4+30" = switch 3's uplink down from 4 s to 34 s.</summary>
    private static UplinkOutage ParseOutage(string text)
    {
        var at = text.Split('@', '+');
        if (at.Length != 3) throw new ArgumentException($"--outage {text}: SWITCH@AT_SECONDS+DURATION_SECONDS");
        return new UplinkOutage(int.Parse(at[0], CultureInfo.InvariantCulture),
            TimeSpan.FromSeconds(double.Parse(at[1], CultureInfo.InvariantCulture)), TimeSpan.FromSeconds(double.Parse(at[2], CultureInfo.InvariantCulture)));
    }
}
