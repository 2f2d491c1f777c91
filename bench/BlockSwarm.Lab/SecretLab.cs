using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using BlockSwarm.Testing;

namespace BlockSwarm.Lab;

/// <summary>
/// <c>blockswarm-lab secret</c>'s result: the scenario (<see cref="SecretSwarmScenario"/>) and the timed deployments
/// without and with the secret, interleaved, with their means and the ratio secret ÷ plain.
/// </summary>
public sealed record SecretLabResult(SecretScenarioResult Scenario, IReadOnlyList<RunResult> Runs)
{
    public const string PlainSystem = "BlockSwarm";
    public const string SecretSystem = "BlockSwarm [--secret-file]";

    public double PlainMeanSeconds => Mean(PlainSystem);

    public double SecretMeanSeconds => Mean(SecretSystem);

    public double SecretOverPlain => SecretMeanSeconds / PlainMeanSeconds;

    /// <summary>The scenario's outcome and the throughput comparison, as markdown.</summary>
    public string Markdown()
    {
        var s = Scenario;
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(inv, $"\n## blockswarm-lab secret: N = {s.Clients}, {s.Image} image, F = {s.Bytes / 1048576.0:0.#} MiB, links {s.RateMbit:0.###} Mbit/s, F/c = {s.FloorSeconds:0.00} s\n");
        sb.AppendLine(inv, $"Swarm secret {s.SecretId}; serve's key {s.ServerKey}; the rogue serve's key {s.RogueServerKey}; the outsider fetch's secret {s.WrongSecretId}.\n");
        sb.AppendLine("Rogue serve (same image, same secret, another signing key); every client runs `deploy --server-key` with serve's key against it:\n");
        sb.AppendLine("| client | deploy exit | event 1121 | target |").AppendLine("|---|---:|---:|---|");
        foreach (var r in s.Rogue) sb.AppendLine(inv, $"| {r.Client} | {r.ExitCode} | {r.ServerRefusedEvents} | {(r.TargetUnchanged ? "unchanged (SHA-256)" : "**changed**")} |");
        sb.AppendLine("\nOutsiders (the job's torrent, the tracker it names, the server and every client as peers) for the whole deployment:\n");
        sb.AppendLine("| outsider | address | payload bytes it reports | non-zero bytes it wrote | its last counters |").AppendLine("|---|---|---:|---:|---|");
        foreach (var o in s.Outsiders) sb.AppendLine(inv, $"| {o.Who} | {o.Address} | {o.ReportedPayloadBytes} | {o.NonZeroBytesWritten} | `{o.Report}` |");
        var e = s.Refusals;
        sb.AppendLine(inv, $"\nRefused: serve counted {e.ServeRefusedConnections} connections without the secret (event 11 ×{e.ServeEvent11}: one line a minute per address) "
            + $"and {e.ServeEvent2013} announces (event 2013); the clients logged event 11 ×{e.ClientsEvent11}; the outsider fetch gave up on peers (event 12) ×{e.OutsiderFetchEvent12} "
            + $"({e.FetchPeersReached.Count} addresses: {string.Join(' ', e.FetchPeersReached)}); libtorrent made {e.LibtorrentConnections} TCP connections "
            + $"({e.LibtorrentPeersReached.Count} addresses: {string.Join(' ', e.LibtorrentPeersReached)}), and got the tracker's refusal ×{e.LibtorrentTrackerRefusals}.\n");
        sb.AppendLine(inv, $"Deployment from serve with the outsiders at work: T = {s.Seconds:0.00} s, T ÷ (F/c) = {s.Ratio:0.00}; "
            + $"{s.Copies.Count(c => c.BitExact)}/{s.Copies.Count} copies bit-exact on the image's used data.\n");
        sb.AppendLine(s.Passed ? "Scenario: **passed**.\n" : $"Scenario: **FAILED**: {string.Join("; ", s.Failures)}\n");
        if (Runs.Count > 0)
        {
            sb.AppendLine("Throughput without outsiders, plain and secret interleaved (ABBA):\n");
            sb.AppendLine("| run | system | T (s) | T ÷ (F/c) | origin sent (×F) | peers sent (×F) |").AppendLine("|---:|---|---:|---:|---:|---:|");
            int i = 0;
            foreach (var r in Runs)
                sb.AppendLine(inv, $"| {++i} | {r.System} | {(double.IsNaN(r.Seconds) ? "failed" : r.Seconds.ToString("0.00", inv))} | {r.Ratio:0.00} | {r.OriginUploaded / (double)r.Bytes:0.00} | {r.PeerUploaded / (double)r.Bytes:0.00} |");
            double floor = s.FloorSeconds;
            sb.AppendLine(inv, $"\nMeans: plain T = {PlainMeanSeconds:0.00} s (T ÷ (F/c) = {PlainMeanSeconds / floor:0.00}), "
                + $"secret T = {SecretMeanSeconds:0.00} s ({SecretMeanSeconds / floor:0.00}); secret ÷ plain = {SecretOverPlain:0.000} (goal: within 3 %).");
        }
        return sb.ToString();
    }

    private double Mean(string system) =>
        Runs.Where(r => r.System == system && !double.IsNaN(r.Seconds)).Select(r => r.Seconds).DefaultIfEmpty(double.NaN).Average();
}

/// <summary>
/// <c>blockswarm-lab secret</c>: issue 18's lab acceptance. One lab of N clients plus an outsider and a rogue server;
/// the scenario (outsiders get no byte, the rogue is refused by every client, every copy bit-exact); then the same
/// deployment timed without and with the secret, interleaved ABBA (plain, secret, secret, plain, …), with no outsider.
/// Prints a markdown table and writes <c>secret-lab.json</c> into <c>--out</c>; exits 1 when the scenario failed.
/// </summary>
internal static class SecretLab
{
    public static async Task<int> RunAsync(Func<string, string, string> opt, Action<string> log)
    {
        if ((LabNetwork.Unavailable() ?? Requires.Why(Need.PythonLibtorrent)) is { } why) { Console.Error.WriteLine(why); return 1; }
        int clients = int.Parse(opt("clients", "4"), CultureInfo.InvariantCulture);
        double rate = double.Parse(opt("rate-mbit", "100"), CultureInfo.InvariantCulture);
        int imageMib = int.Parse(opt("image-mib", "128"), CultureInfo.InvariantCulture);
        int reps = int.Parse(opt("reps", "2"), CultureInfo.InvariantCulture);
        var outDir = Path.GetFullPath(opt("out", "docs"));
        if (clients < 1 || imageMib < 1 || reps < 0) { Console.Error.WriteLine("--clients and --image-mib must be at least 1, --reps at least 0"); return 2; }
        Directory.CreateDirectory(outDir);
        // On tmpfs, as the swarm lab: the box's disk would otherwise be what is measured.
        var root = Path.Combine("/dev/shm", $"bslab-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        try
        {
            var img = new LabImages(root, Path.GetFullPath(opt("cache", "/tmp/blockswarm-lab")), log).Make("random", imageMib, 0, 0);
            long need = (clients + 2L) * img.ImageBytes + (64L << 20);
            if (new DriveInfo(root).AvailableFreeSpace is var free && free < need)
                throw new IOException($"the clients' and outsiders' copies need {need >> 20} MiB on {root}'s tmpfs, {free >> 20} MiB free: a smaller image or fewer clients");
            using var net = LabNetwork.Create(clients, rate, log);
            var scenario = SecretSwarmScenario.Create(net, img, Path.Combine(root, "secret"), log);
            log($"== lab {net.Id}: server {net.Server.Ip}, {clients} clients, outsider {scenario.Outsider.Ip}, rogue server {scenario.Rogue.Ip}; links {rate} Mbit/s both ways");
            var timeout = TimeSpan.FromSeconds(90 + 3.0 * clients * img.PayloadBytes * 8.0 / (rate * 1e6));
            var outcome = await scenario.RunAsync(timeout);

            var work = Path.Combine(root, "targets");
            Directory.CreateDirectory(work);
            var runners = new Runners(net, work, log);
            var plain = new BlockSwarmVariant("", scenario.ServeIdentityArgs, []);
            var secret = new BlockSwarmVariant("--secret-file", [.. scenario.ServeIdentityArgs, "--secret-file", scenario.SecretFile], ["--secret-file", scenario.SecretFile]);
            var runs = new List<RunResult>();
            for (int r = 0; r < reps; r++)
                foreach (var v in r % 2 == 0 ? new[] { plain, secret } : [secret, plain])
                {
                    RunResult run;
                    try
                    {
                        run = await runners.BlockSwarmAsync(img, v);
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException)
                    {
                        log($"  {v.SystemName} rep {r + 1} FAILED: {ex.Message}");
                        run = runners.Failed(v.SystemName, img, ex.Message.Split('\n')[0]);
                    }
                    log($"  rep {r + 1}: " + Report.Line(run));
                    runs.Add(run);
                }

            var result = new SecretLabResult(outcome, runs);
            var json = Path.Combine(outDir, "secret-lab.json");
            File.WriteAllText(json, JsonSerializer.Serialize(result, new JsonSerializerOptions
            {
                WriteIndented = true,
                NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            }));
            Console.WriteLine(result.Markdown());
            log($"wrote {json}");
            return outcome.Passed ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }
}
