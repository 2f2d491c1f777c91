using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Lab;

/// <summary>
/// Issue 18's lab acceptance (<c>blockswarm-lab secret</c>, and the lab test): a secret swarm deploys on the lab's LAN
/// while two hosts that must get nothing try. Two hosts join the lab's switch (<see cref="LabNetwork.AddHost"/>):
/// <list type="number">
/// <item><c>serve</c> runs on the server with <c>--secret-file</c> and its signing key; its fingerprint comes from its
/// start-up line, as an operator reads it.</item>
/// <item>Host "rogue" runs another <c>serve</c> of the same image with the same secret (an insider who has it) but
/// another signing key. Every client's <c>deploy --server-key FINGERPRINT --secret-file …</c> against it must exit 6
/// (event 1121) with its target's bytes unchanged (SHA-256 before and after; targets start patterned, as a disk
/// holding something does).</item>
/// <item>Host "outsider" takes the job's torrent from the server (<c>/job.torrent</c> is open to the LAN) and runs, for
/// the whole deployment, python3-libtorrent (lt.py) and a <c>blockswarm fetch</c> with another secret: both announce to
/// the tracker the torrent names and dial the server and every client, again every 2 s.</item>
/// <item>Every client deploys from the real server (pinned key, the secret) and must end bit-exact on the image's used
/// data. Then the outsiders are stopped (SIGTERM) and what they got is counted two ways: the payload counter each
/// reports (libtorrent's <c>total_payload_download</c>, fetch's stop line) and the non-zero bytes of what each wrote.
/// serve's refused-connections counter (reason secret) and the refusals in serve's, the clients' and the outsider's
/// logs (events 11, 2013, 12) show what was tried.</item>
/// </list>
/// </summary>
public sealed partial class SecretSwarmScenario
{
    private const int HttpPort = 8080, BtPort = 6881, LibtorrentPort = 6882, FetchPort = 6883;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RefusalTimeout = TimeSpan.FromSeconds(60);

    private readonly LabNetwork _net;
    private readonly LabImage _img;
    private readonly string _dir;
    private readonly Action<string> _log;

    private SecretSwarmScenario(LabNetwork net, LabImage img, string dir, Action<string> log, LanHost outsider, LanHost rogue)
    {
        _net = net;
        _img = img;
        _dir = dir;
        _log = log;
        Outsider = outsider;
        Rogue = rogue;
    }

    /// <summary>The host running libtorrent and the fetch with another secret.</summary>
    public LanHost Outsider { get; }

    /// <summary>The host running a serve with another signing key.</summary>
    public LanHost Rogue { get; }

    /// <summary>The swarm's secret (<c>blockswarm secret new</c>).</summary>
    public string SecretFile => Path.Combine(_dir, "swarm.secret");

    /// <summary>Another secret, the outsider fetch's.</summary>
    public string WrongSecretFile => Path.Combine(_dir, "other.secret");

    /// <summary>serve's signing key (made by serve on first use) and operator token: in the work directory, not root's state directory.</summary>
    public IReadOnlyList<string> ServeIdentityArgs => ["--signing-key", Path.Combine(_dir, "serve-signing-key.pem"), "--operator-token-file", Path.Combine(_dir, "operator-token")];

    private IReadOnlyList<string> RogueIdentityArgs => ["--signing-key", Path.Combine(_dir, "rogue-signing-key.pem"), "--operator-token-file", Path.Combine(_dir, "rogue-operator-token")];

    private static string Url(LanHost host) => $"http://{host.Ip}:{HttpPort}";

    /// <summary>Adds the outsider and the rogue to <paramref name="net"/> and makes both secrets in <paramref name="dir"/>.</summary>
    public static SecretSwarmScenario Create(LabNetwork net, LabImage img, string dir, Action<string> log)
    {
        Directory.CreateDirectory(dir);
        var scenario = new SecretSwarmScenario(net, img, dir, log, net.AddHost("outsider"), net.AddHost("rogue"));
        Cli(["secret", "new", scenario.SecretFile]);
        Cli(["secret", "new", scenario.WrongSecretFile]);
        return scenario;
    }

    private static string Cli(IEnumerable<string> args)
    {
        var (file, argv) = CliCommand.For(LabNetwork.Cli, args);
        return Tool.Run(file, argv).StdOut.Trim();
    }

    /// <summary>Where the libtorrent outsider saves (nothing, it must turn out).</summary>
    private string LibtorrentDir => Path.Combine(_dir, "outsider-libtorrent");

    /// <summary>The target of the outsider fetch (a new sparse image file: all zeros unless payload arrives).</summary>
    private string FetchTarget => Path.Combine(_dir, "outsider-fetch.img");

    /// <summary>Runs the scenario; <paramref name="deployTimeout"/> bounds the deployment from the real server.</summary>
    public async Task<SecretScenarioResult> RunAsync(TimeSpan deployTimeout, CancellationToken ct = default)
    {
        string secretId = Cli(["secret", "id", SecretFile]), wrongId = Cli(["secret", "id", WrongSecretFile]);
        var targets = _net.Clients.ToDictionary(c => c.Label, c => Path.Combine(_dir, c.Label + ".img"));
        var started = new List<RunningProcess>();
        try
        {
            var serve = await StartServeAsync(_net.Server, "serve", ServeIdentityArgs, started, ct);
            var rogue = await StartServeAsync(Rogue, "rogue serve", RogueIdentityArgs, started, ct);
            string fingerprint = Fingerprint(serve), rogueFingerprint = Fingerprint(rogue);
            if (fingerprint == rogueFingerprint) throw new InvalidOperationException($"serve and the rogue serve sign with the same key {fingerprint}");
            _log($"secret swarm {secretId}: serve at {Url(_net.Server)} signs with {fingerprint}; rogue serve at {Url(Rogue)} (same image, same secret) with {rogueFingerprint}");

            var attempts = await AgainstTheRogueAsync(fingerprint, targets, started, ct);
            var (lt, fetch) = await StartOutsidersAsync(wrongId, started, ct);
            var t0 = _net.Clock.Elapsed;
            var (complete, deploys) = await DeployAllAsync(fingerprint, targets, deployTimeout, started, ct);
            lt.Terminate(TimeSpan.FromSeconds(10));
            fetch.Terminate(TimeSpan.FromSeconds(10));

            var layout = BlockImageLayout.Create(Torrent.Load(_img.Torrent));
            var copies = _net.Clients.Select(c => new ClientCopy(c.Label, (complete[c.Label] - t0).TotalSeconds, layout.FirstDifference(_img.Path, targets[c.Label]))).ToList();
            _log($"  deployment from serve: {copies.Count(x => x.BitExact)}/{copies.Count} copies bit-exact on the image's used data, the last complete after {copies.Max(x => x.Seconds):0.00} s");
            var outsiders = CountOutsiders(lt, fetch, wrongId);
            var refusals = Refusals(serve, deploys.Values, lt, fetch);
            return new SecretScenarioResult(_net.Clients.Count, _img.Kind, _img.PayloadBytes, _net.RateMbit, secretId, wrongId, fingerprint, rogueFingerprint,
                attempts, outsiders, copies, refusals);
        }
        finally
        {
            foreach (var p in started) p.Kill();
        }
    }

    /// <summary>
    /// Every client, pinning serve's key, runs deploy against the rogue serve at once; each must be refused (exit 6, event
    /// 1121) and leave its target as it was: patterned bytes, the same SHA-256 before and after.
    /// </summary>
    private async Task<List<RogueAttempt>> AgainstTheRogueAsync(string fingerprint, Dictionary<string, string> targets, List<RunningProcess> started, CancellationToken ct)
    {
        var before = new Dictionary<string, string>();
        for (int i = 0; i < _net.Clients.Count; i++)
        {
            var target = targets[_net.Clients[i].Label];
            WritePattern(target, _img.ImageBytes, seed: i + 1);
            before[_net.Clients[i].Label] = Sha256(target);
        }
        var runs = _net.Clients.Select(c => (c, p: Deploy(c, Rogue, fingerprint, targets[c.Label], "deploy from the rogue " + c.Label, started))).ToList();
        var attempts = new List<RogueAttempt>();
        foreach (var (c, p) in runs)
        {
            int rc = await p.WaitForExitAsync(RefusalTimeout, ct);
            var refusals = EventLines(p.StdErr, 1121);
            var attempt = new RogueAttempt(c.Label, rc, refusals.Count, Sha256(targets[c.Label]) == before[c.Label], refusals.FirstOrDefault());
            _log($"  {c.Label} against the rogue: exit {rc}, event 1121 ×{attempt.ServerRefusedEvents}, target {(attempt.TargetUnchanged ? "unchanged" : "CHANGED")}"
                + (attempt.Refusal is null ? "" : $": {MessageOf(attempt.Refusal)}"));
            attempts.Add(attempt);
        }
        return attempts;
    }

    /// <summary>
    /// The outsiders take the job's torrent as anyone on the LAN can and dial the server and every client (again every
    /// 2 s: clients listen only once their deploy runs), from before the first deploy starts; both listen when this returns.
    /// </summary>
    private async Task<(RunningProcess Libtorrent, RunningProcess Fetch)> StartOutsidersAsync(string wrongId, List<RunningProcess> started, CancellationToken ct)
    {
        var torrent = Path.Combine(_dir, "job.torrent");
        _net.Run(Outsider, "curl", ["-sSf", "-o", torrent, Url(_net.Server) + "/job.torrent"]);
        Directory.CreateDirectory(LibtorrentDir);
        var swarm = new[] { _net.Server }.Concat(_net.Clients).Select(h => $"{h.Ip}:{BtPort}").ToList();
        var lt = _net.Start(Outsider, "libtorrent outsider", Tool.SystemPython, [LtScript.Path, "fetch", torrent, LibtorrentDir, "--listen", $"{Outsider.Ip}:{LibtorrentPort}",
            .. swarm.SelectMany(p => new[] { "--connect", p }), "--redial", "2", "--timeout", "3600", "--progress", "--alerts", "error,tracker,connect"]);
        started.Add(lt);
        var fetch = _net.StartBlockSwarm(Outsider, "fetch outsider (another secret)", ["fetch", "--torrent", torrent, "--target", FetchTarget,
            "--listen", $"{Outsider.Ip}:{FetchPort}", .. swarm.SelectMany(p => new[] { "--peer", p }), "--secret-file", WrongSecretFile]);
        started.Add(fetch);
        await _net.WaitListeningAsync(Outsider, LibtorrentPort, lt, StartTimeout, ct);
        await _net.WaitListeningAsync(Outsider, FetchPort, fetch, StartTimeout, ct);
        _log($"outsiders on {Outsider.Ip}: libtorrent and a fetch with secret {wrongId}, dialling {string.Join(' ', swarm)} and announcing to the torrent's tracker");
        return (lt, fetch);
    }

    /// <summary>What each stopped outsider reports it downloaded and the non-zero bytes of what it wrote.</summary>
    private OutsiderResult[] CountOutsiders(RunningProcess lt, RunningProcess fetch, string wrongId)
    {
        OutsiderResult[] outsiders =
        [
            new("python3-libtorrent", $"{Outsider.Ip}:{LibtorrentPort}", ExitCode(lt), LibtorrentPayload(lt.StdOut), NonZeroBytes(LibtorrentDir),
                LastLine(lt.StdOut, "final") ?? "(no final counters)"),
            new($"blockswarm fetch, secret {wrongId}", $"{Outsider.Ip}:{FetchPort}", ExitCode(fetch), FetchPayload(fetch.StdOut), NonZeroBytes(FetchTarget),
                LastLine(fetch.StdOut, "stopped before complete") ?? "(no stop line)"),
        ];
        foreach (var o in outsiders)
            _log($"  {o.Who}: {o.ReportedPayloadBytes} payload bytes reported, {o.NonZeroBytesWritten} non-zero bytes written; {o.Report}");
        return outsiders;
    }

    /// <summary>The refusals serve, the clients and the outsiders logged, and serve's counter of connections refused for the secret.</summary>
    private RefusalEvidence Refusals(RunningProcess serve, IEnumerable<RunningProcess> deploys, RunningProcess lt, RunningProcess fetch)
    {
        var refusals = new RefusalEvidence(
            ServeRefusedConnections: RefusedBySecret(_net.HttpGet(_net.Server, Url(_net.Server) + "/metrics")),
            ServeEvent11: EventLines(serve.StdErr, 11).Count,
            ServeEvent2013: EventLines(serve.StdErr, 2013).Count,
            ClientsEvent11: deploys.Sum(d => EventLines(d.StdErr, 11).Count),
            OutsiderFetchEvent12: EventLines(fetch.StdErr, 12).Count,
            FetchPeersReached: [.. EventLines(fetch.StdErr, 12).Select(l => FetchGaveUpOn().Match(l).Groups[1].Value).Distinct().Order(StringComparer.Ordinal)],
            LibtorrentConnections: LtConnected().Count(lt.StdOut),
            LibtorrentPeersReached: [.. LtConnected().Matches(lt.StdOut).Select(m => m.Groups[1].Value).Distinct().Order(StringComparer.Ordinal)],
            LibtorrentTrackerRefusals: lt.StdOut.Split('\n').Count(l => l.Contains("tracker_error_alert", StringComparison.Ordinal) && l.Contains("swarm secret", StringComparison.Ordinal)));
        _log($"  refusals: serve refused {refusals.ServeRefusedConnections} connections for want of the secret (event 11 ×{refusals.ServeEvent11}) and {refusals.ServeEvent2013} announces (event 2013); "
            + $"clients event 11 ×{refusals.ClientsEvent11}; the outsider fetch gave up (event 12) ×{refusals.OutsiderFetchEvent12} on {string.Join(' ', refusals.FetchPeersReached)}; "
            + $"libtorrent connected {refusals.LibtorrentConnections}× to {string.Join(' ', refusals.LibtorrentPeersReached)}, refused by the tracker ×{refusals.LibtorrentTrackerRefusals}");
        return refusals;
    }

    private async Task<RunningProcess> StartServeAsync(LanHost host, string label, IReadOnlyList<string> identity, List<RunningProcess> started, CancellationToken ct)
    {
        var serve = _net.StartBlockSwarm(host, label, ["serve", "--source", _img.Path, "--torrent", _img.Torrent, "--listen", host.Ip,
            "--http-port", HttpPort.ToString(CultureInfo.InvariantCulture), "--bt-port", BtPort.ToString(CultureInfo.InvariantCulture),
            "--expect", _net.Clients.Count.ToString(CultureInfo.InvariantCulture), "--secret-file", SecretFile, .. identity]);
        started.Add(serve);
        await _net.WaitListeningAsync(host, HttpPort, serve, StartTimeout, ct);
        await _net.WaitListeningAsync(host, BtPort, serve, StartTimeout, ct);
        await serve.WaitForOutputAsync("server key sha256:", StartTimeout, ct);
        return serve;
    }

    /// <summary>serve's fingerprint from its start-up line <c>server key sha256:…</c>.</summary>
    private static string Fingerprint(RunningProcess serve) =>
        ServerKeyLine().Match(serve.StdOut) is { Success: true } m ? m.Groups[1].Value
        : throw new InvalidOperationException($"{serve.Label} printed no server key line\n{serve.Tail()}");

    private RunningProcess Deploy(LanHost c, LanHost server, string fingerprint, string target, string label, List<RunningProcess> started)
    {
        var p = _net.StartBlockSwarm(c, label, ["deploy", "--server", Url(server), "--server-key", fingerprint, "--secret-file", SecretFile,
            "--target", target, "--allow-file", "--yes", "--json", "--listen", $"{c.Ip}:{BtPort}", "--id", c.Label, "--hostname", c.Label, "--max-seed", "600"]);
        started.Add(p);
        return p;
    }

    /// <summary>Every client deploys from the real server until it exits 0; when each had every piece (its "complete" event), on the lab's clock.</summary>
    private async Task<(Dictionary<string, TimeSpan> Complete, Dictionary<string, RunningProcess> Deploys)> DeployAllAsync(string fingerprint,
        Dictionary<string, string> targets, TimeSpan timeout, List<RunningProcess> started, CancellationToken ct)
    {
        var done = new Dictionary<string, TimeSpan>();
        var deploys = _net.Clients.ToDictionary(c => c.Label, c =>
        {
            var p = Deploy(c, _net.Server, fingerprint, targets[c.Label], "deploy " + c.Label, started);
            p.LineReceived += (line, t) =>
            {
                if (line.Contains("\"event\":\"complete\"", StringComparison.Ordinal)) lock (done) done.TryAdd(c.Label, t);
            };
            return p;
        });
        foreach (var (label, p) in deploys)
        {
            int rc = await p.WaitForExitAsync(timeout, ct);
            if (rc != 0) throw new InvalidOperationException($"{p.Label} exited {rc}\n{p.Tail(30)}");
        }
        lock (done)
        {
            if (done.Count < deploys.Count) throw new InvalidOperationException($"{string.Join(", ", deploys.Keys.Except(done.Keys))} exited 0 without a complete event");
            return (new Dictionary<string, TimeSpan>(done), deploys);
        }
    }

    /// <summary>A target holding something (pseudo-random bytes): a refused deploy must leave every one of them.</summary>
    private static void WritePattern(string path, long length, int seed)
    {
        var block = new byte[1 << 20];
        new Random(seed).NextBytes(block);
        using var f = new FileStream(path, FileMode.Create);
        for (long left = length; left > 0; left -= block.Length) f.Write(block, 0, (int)Math.Min(block.Length, left));
    }

    private static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    /// <summary>Non-zero bytes in a file or in every file under a directory (0 when nothing is there): payload that arrived, whatever a counter says.</summary>
    internal static long NonZeroBytes(string path)
    {
        var files = Directory.Exists(path) ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories) : File.Exists(path) ? [path] : [];
        long count = 0;
        var buf = new byte[1 << 20];
        foreach (var file in files)
        {
            using var f = File.OpenRead(file);
            for (int n; (n = f.Read(buf)) > 0;)
                count += n - buf.AsSpan(0, n).Count((byte)0);
        }
        return count;
    }

    /// <summary>The exit code of a process stopped with SIGTERM (or that ended by itself), -1 if it still runs.</summary>
    private static int ExitCode(RunningProcess p) => p.HasExited ? p.ExitCode : -1;

    /// <summary>lt.py's final counters: the sum of "down N" over its torrents, -1 when it printed none.</summary>
    internal static long LibtorrentPayload(string stdout) =>
        LastLine(stdout, "final") is { } line ? LtDown().Matches(line).Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)) : -1;

    /// <summary>fetch's "stopped before complete: … N bytes of payload downloaded …", -1 when it printed none.</summary>
    internal static long FetchPayload(string stdout) =>
        LastLine(stdout, "stopped before complete") is { } line && FetchDownloaded().Match(line) is { Success: true } m
            ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;

    private static string? LastLine(string output, string containing) =>
        output.Split('\n').LastOrDefault(l => l.Contains(containing, StringComparison.Ordinal))?.Trim();

    /// <summary>Log lines (text format: <c>TIME LEVEL Category[ID] Name: message</c>) with event id <paramref name="id"/>.</summary>
    internal static List<string> EventLines(string log, int id) =>
        [.. log.Split('\n').Where(l => EventIdOf().Match(l) is { Success: true } m && m.Groups[1].Value == id.ToString(CultureInfo.InvariantCulture))];

    private static string MessageOf(string logLine) => logLine[(logLine.IndexOf("]", StringComparison.Ordinal) + 1)..].Trim();

    /// <summary>serve's <c>connections_refused</c> counter for reason secret, from its /metrics; -1 when it is not there.</summary>
    internal static long RefusedBySecret(string? metrics) =>
        metrics is null ? -1 : metrics.Split('\n').Where(l => !l.StartsWith('#') && l.Contains("connections_refused", StringComparison.Ordinal) && l.Contains("reason=\"secret\"", StringComparison.Ordinal))
            .Select(l => (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)).DefaultIfEmpty(-1).Sum();

    [GeneratedRegex(@"^server key (sha256:[A-Za-z0-9_-]+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ServerKeyLine();

    [GeneratedRegex(@"\bdown (\d+)")]
    private static partial Regex LtDown();

    [GeneratedRegex(@"(\d+) bytes of payload downloaded")]
    private static partial Regex FetchDownloaded();

    [GeneratedRegex(@"gave up on (\S+):")]
    private static partial Regex FetchGaveUpOn();

    /// <summary>lt.py's <c>peer_connect_alert … peer [ IP:PORT client: … ] outgoing connection</c>: a TCP connection made.</summary>
    [GeneratedRegex(@"peer_connect_alert .*?\[ (\S+) client")]
    private static partial Regex LtConnected();

    [GeneratedRegex(@"^\S+ \w+ +[\w.]+\[(\d+)\]")]
    private static partial Regex EventIdOf();
}
