using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using BlockSwarm.Bencode;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;
using BlockSwarm.Observability.Metrics;
using BlockSwarm.Tracker;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Deploy.Server;

/// <summary>
/// The image server: seeds the torrent (origin), hosts the embedded tracker, and serves the
/// deployment API, the live dashboard and Prometheus metrics from one Kestrel server.
/// </summary>
public sealed class DeployServer : IAsyncDisposable
{
    /// <summary>JSON options of the API (camelCase web defaults, the source-generated <see cref="DeployJson"/> contract).</summary>
    public static JsonSerializerOptions Json => DeployJson.Default.Options;

    private readonly Torrent _torrent;
    private readonly IPieceStorage _storage;
    private readonly ServeOptions _options;
    private readonly long _sourceSize;
    private readonly DateTimeOffset _started;
    private readonly TaskCompletionSource _allDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _log;
    private readonly DeployMetrics _metrics;
    private readonly PrometheusExporter _exporter;
    /// <summary>The last seeding decision told to each finished client: a decision is logged when it changes, not every report.</summary>
    private readonly ConcurrentDictionary<string, bool> _seedingDecisions = new(StringComparer.Ordinal);
    private WebApplication? _app;
    private Task? _expiry;

    public DeployServer(Torrent torrent, IPieceStorage storage, long sourceSize, ServeOptions options)
    {
        ArgumentNullException.ThrowIfNull(torrent);
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(options);
        _torrent = torrent;
        _storage = storage;
        _options = options;
        _sourceSize = sourceSize;
        _started = options.Time.GetUtcNow();
        _log = options.LoggerFactory.CreateLogger<DeployServer>();
        Registry = new ClientRegistry(options.Time);
        Tracker = new Tracker.Tracker(new TrackerOptions { LoggerFactory = options.LoggerFactory }, null, options.Time);
        // The origin: an engine of its own on the BitTorrent port. Clients dial it directly (the job names its port), so
        // it announces nowhere; the embedded tracker below introduces the clients to each other.
        Engine = new TorrentEngine(new EngineOptions
        {
            Listen = [new IPEndPoint(options.Listen, options.BitTorrentPort)],
            UploadLimit = options.UploadLimit,
            SlowStart = options.SlowStart,
            CompressionLevel = options.CompressionLevel,
            Time = options.Time,
            LoggerFactory = options.LoggerFactory,
            Discovery = new DiscoveryOptions { Trackers = false },
        });
        Job = new JobInfo
        {
            JobId = torrent.InfoHash.ToHex()[..12],
            Name = torrent.Name,
            InfoHash = torrent.InfoHash.ToHex(),
            TorrentUrl = "/job.torrent",
            AnnounceUrl = "/announce",
            RequiredTargetSize = Math.Max(options.RequiredTargetSize ?? 0, BlockImageLayout.IsBlockImage(torrent) ? BlockImageLayout.Create(torrent).RequiredDeviceSize : torrent.TotalLength),
            SourceSize = sourceSize,
            TotalBytes = torrent.TotalLength,
            PieceLength = torrent.PieceLength,
            PieceCount = torrent.PieceCount,
            OriginPort = options.BitTorrentPort,
            Policy = options.Policy,
            CompressionLevel = options.CompressionLevel,
        };
        _metrics = new DeployMetrics(Snapshot, () => Seeder.GetStats());
        // The origin engine's own instruments (connections by reason, memory, piece times) beside the job's.
        _exporter = new PrometheusExporter([_metrics.Meter, Engine.Meter, .. options.Meters]);
    }

    public ClientRegistry Registry { get; }
    public Tracker.Tracker Tracker { get; }
    /// <summary>The engine the origin runs in (its meter feeds /metrics).</summary>
    public TorrentEngine Engine { get; }

    /// <summary>The origin seeder (after <see cref="StartAsync"/>).</summary>
    public TorrentSession Seeder => _seeder ?? throw new InvalidOperationException("the server is not started");

    private TorrentSession? _seeder;
    public JobInfo Job { get; private set; }

    /// <summary>Exports <paramref name="meter"/>'s instruments on <c>/metrics</c> too (an engine's meter; several may be added).</summary>
    public void AddMeter(Meter meter) => _exporter.AddMeter(meter);

    /// <summary>Stops exporting a meter given to <see cref="AddMeter"/> or <see cref="ServeOptions.Meters"/>.</summary>
    public bool RemoveMeter(Meter meter) => _exporter.RemoveMeter(meter);

    /// <summary>Completes when every expected client reported done (never when none are expected).</summary>
    public Task AllDone => _allDone.Task;

    /// <summary>The HTTP base address actually bound (port 0 resolved).</summary>
    public Uri? HttpAddress { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Engine.Start();
        var have = new BlockSwarm.Engine.Bitfield(_torrent.PieceCount);
        have.SetAll();
        _seeder = Engine.Add(_torrent, _storage, have, new TorrentOptions { MaxConnections = _options.MaxPeers });
        if (Engine.LocalEndPoint is { } bt && bt.Port != Job.OriginPort) Job = Job with { OriginPort = bt.Port };
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Kestrel and the hosting layer log through the server's factory (their warnings and errors: an exception in a handler).
        builder.Services.AddSingleton(_options.LoggerFactory);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(_options.Listen, _options.HttpPort);
            k.Limits.MaxRequestBodySize = 64 * 1024;
            k.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
        });
        var app = builder.Build();
        Map(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        // The bound address (port 0 resolved) comes from the server feature, not from app.Urls.
        var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        var addr = bound ?? $"http://{_options.Listen}:{_options.HttpPort}";
        HttpAddress = new Uri(addr.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "[::1]", StringComparison.Ordinal));
        _expiry = Tracker.RunExpiryAsync(_stop.Token);
        ServerLog.JobPublished(_log, Job.JobId, Job.Name, Job.InfoHash, Job.TotalBytes, Job.PieceCount, Job.OriginPort, HttpAddress, Job.Policy, Job.Policy.Expected);
    }

    private void Map(WebApplication app)
    {
        app.MapTracker(Tracker);
        if (_options.NetbootDirectory is { } netboot) app.MapNetboot(netboot, _options.NetbootKernelArgs, _torrent.Name, Registry.IsFinished);
        app.MapGet("/api/job", () => Results.Json(Job, DeployJson.Default.JobInfo));
        app.MapGet("/job.torrent", (HttpContext ctx) => Results.Bytes(TorrentWithAnnounce(ctx), "application/x-bittorrent", $"{_torrent.Name}.torrent"));
        app.MapPost("/api/clients/{id}/status", async (HttpContext ctx, string id) =>
        {
            var address = ctx.Connection.RemoteIpAddress?.ToString() ?? "?";
            if (id.Length is 0 or > 128 || id.Any(c => char.IsControl(c)))
                return Reject(address, id, "client id must be 1-128 printable characters");
            ClientReport? report;
            try
            {
                report = await JsonSerializer.DeserializeAsync(ctx.Request.Body, DeployJson.Default.ClientReport, ctx.RequestAborted).ConfigureAwait(false);
            }
            catch (JsonException ex)
            {
                return Reject(address, id, $"malformed status report: {ex.Message}");
            }
            if (report is null) return Reject(address, id, "empty status report");
            if (!Registry.Report(id, address, report, out var previous))
            {
                _metrics.StatusReports.Add(1, new KeyValuePair<string, object?>("result", "registry_full"));
                ServerLog.RegistryFull(_log, address, id, Registry.Count);
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            }
            _metrics.StatusReports.Add(1, new KeyValuePair<string, object?>("result", "accepted"));
            LogReport(id, address, previous, report);
            CheckAllDone();
            bool keepSeeding = KeepSeeding(report);
            LogSeedingDecision(id, report, keepSeeding);
            return Results.Json(new ReportReply(keepSeeding, IsAllDone(), Job.JobId), DeployJson.Default.ReportReply);
        });
        app.MapGet("/api/clients", () => Results.Json(Snapshot(), DeployJson.Default.Snapshot));
        app.MapGet("/api/events", StreamEventsAsync);
        app.MapGet("/metrics", () => Results.Text(Metrics(), PrometheusExporter.ContentType));
        app.MapGet("/", () => Asset("index.html", "text/html; charset=utf-8"));
        app.MapGet("/app.js", () => Asset("app.js", "text/javascript; charset=utf-8"));
        app.MapGet("/style.css", () => Asset("style.css", "text/css; charset=utf-8"));
    }

    private byte[] TorrentWithAnnounce(HttpContext ctx)
    {
        // The info dictionary is copied as is (the info-hash never changes); only announce follows the Host the client used.
        var root = new BDictionary();
        foreach (var (k, v) in _torrent.Root) root[k] = v;
        root["announce"] = new BString($"{ctx.Request.Scheme}://{ctx.Request.Host}/announce");
        root.Remove("announce-list");
        var bytes = BencodeEncoder.Encode(root);
        if (!Metainfo.Torrent.Parse(bytes).InfoHash.Equals(_torrent.InfoHash))
            throw new InvalidOperationException("re-encoding the torrent changed its info-hash");
        return bytes;
    }

    private bool IsAllDone() => Job.Policy.Expected > 0 && Registry.DoneCount >= Job.Policy.Expected;

    private void CheckAllDone()
    {
        if (IsAllDone() && _allDone.TrySetResult()) ServerLog.AllClientsDone(_log, Job.Policy.Expected);
    }

    private IResult Reject(string address, string id, string reason)
    {
        _metrics.StatusReports.Add(1, new KeyValuePair<string, object?>("result", "rejected"));
        ServerLog.ReportRejected(_log, address, Printable(id), reason);
        return BadRequest(reason);
    }

    /// <summary>One line per change an operator cares about: a new client, a finished, failed, refused or interrupted one.</summary>
    private void LogReport(string id, string address, ClientReport? previous, ClientReport report)
    {
        var host = report.Hostname;
        if (previous is null) ServerLog.ClientRegistered(_log, id, host, address, report.Target, report.State);
        if (report.InfoHash is { } reported && reported != Job.InfoHash && previous?.InfoHash != reported)
            ServerLog.WrongJob(_log, id, address, reported, Job.InfoHash);
        if (previous is not null && previous.State == report.State) return;
        if (previous is not null) ServerLog.ClientStateChanged(_log, id, host, address, previous.State, report.State);
        switch (report.State)
        {
            case "done" or "seeding" when previous?.State is not ("done" or "seeding"):
                ServerLog.ClientDone(_log, id, host, address, report.BytesHave, Registry.DoneCount, Job.Policy.Expected);
                break;
            case "failed":
                ServerLog.ClientFailed(_log, id, host, address, report.Target, report.Error ?? "no reason given");
                break;
            case "refused":
                ServerLog.ClientRefused(_log, id, host, address, report.Target, report.Error ?? "no reason given");
                break;
            case "interrupted":
                ServerLog.ClientInterrupted(_log, id, host, address, report.Progress * 100);
                break;
        }
    }

    /// <summary>The policy's answer to a finished client, logged when it first applies and when it changes.</summary>
    private void LogSeedingDecision(string id, ClientReport report, bool keepSeeding)
    {
        if (report.State != "seeding") return;
        if (_seedingDecisions.TryGetValue(id, out var last) && last == keepSeeding) return;
        _seedingDecisions[id] = keepSeeding;
        var p = Job.Policy;
        string reason = (p.Mode, keepSeeding) switch
        {
            ("none", _) => "clients leave as soon as they are done",
            (_, false) when IsAllDone() => "every expected client is done",
            ("ratio", false) => $"uploaded {(report.TotalBytes > 0 ? (double)report.Uploaded / report.TotalBytes : 0):0.00} × the job, ratio {p.Ratio} reached",
            ("ratio", true) => $"uploaded {(report.TotalBytes > 0 ? (double)report.Uploaded / report.TotalBytes : 0):0.00} × the job, below ratio {p.Ratio}",
            ("idle", true) => $"until every expected client is done or no peer asks for {p.IdleSeconds} s",
            (_, true) => p.Expected > 0 ? $"{Registry.DoneCount} of {p.Expected} expected clients done" : "no client count expected: until the client's own limit",
            _ => "the policy says stop",
        };
        if (keepSeeding) ServerLog.PolicyKeepSeeding(_log, p, id, reason);
        else ServerLog.PolicyStopSeeding(_log, p, id, reason);
    }

    /// <summary>A client id fit for a log line: control characters shown as '?', at most 64 characters.</summary>
    private static string Printable(string id)
    {
        var clean = new string([.. id.Select(c => char.IsControl(c) ? '?' : c)]);
        return clean.Length <= 64 ? clean : clean[..64] + "…";
    }

    private bool KeepSeeding(ClientReport r) => Job.Policy.Mode switch
    {
        "none" => false,
        "until-all-done" => !IsAllDone(),
        "ratio" => r.TotalBytes > 0 && (double)r.Uploaded / r.TotalBytes < Job.Policy.Ratio && !IsAllDone(),
        "idle" => !IsAllDone(),
        _ => !IsAllDone(),
    };

    public Snapshot Snapshot()
    {
        var clients = Registry.List();
        var seed = Seeder.GetStats();
        long clientsDown = clients.Sum(c => c.Report.Downloaded);
        var totals = new Totals
        {
            Clients = clients.Count,
            Done = clients.Count(c => c.Report.State is "done" or "seeding"),
            Failed = clients.Count(c => c.Report.State is "failed" or "refused"),
            Expected = Job.Policy.Expected,
            AllDone = IsAllDone(),
            OriginUploaded = seed.PayloadUploaded,
            PeerUploaded = Math.Max(0, clientsDown - seed.PayloadUploaded),
            ClientsDownloaded = clientsDown,
            // Only clients still downloading: a finished client's last report keeps its final rate forever.
            AggregateDownloadRate = clients.Where(c => !c.Stale && c.Report.State == "downloading").Sum(c => c.Report.DownloadRate),
            OriginUploadRate = seed.UploadRate,
            TotalBytes = _torrent.TotalLength,
            ElapsedSeconds = (_options.Time.GetUtcNow() - _started).TotalSeconds,
        };
        return new Snapshot(Job, totals, clients);
    }

    private async Task StreamEventsAsync(HttpContext ctx)
    {
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        var ct = ctx.RequestAborted;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var changed = Registry.Changed;
                var json = JsonSerializer.Serialize(Snapshot(), DeployJson.Default.Snapshot);
                await ctx.Response.WriteAsync($"data: {json}\n\n", ct).ConfigureAwait(false);
                await ctx.Response.Body.FlushAsync(ct).ConfigureAwait(false);
                // At most two updates a second; at least one a second so rates and totals move.
                await Task.WhenAny(changed, Task.Delay(TimeSpan.FromSeconds(1), _options.Time, ct)).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromMilliseconds(500), _options.Time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The Prometheus text of <c>/metrics</c>: the server's instruments and those of every added meter.</summary>
    public string Metrics()
    {
        _metrics.Refresh();
        return _exporter.Collect();
    }

    private static IResult Asset(string name, string contentType)
    {
        using var s = typeof(DeployServer).Assembly.GetManifestResourceStream("wwwroot/" + name)
            ?? throw new InvalidOperationException($"embedded asset {name} missing");
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return Results.Bytes(ms.ToArray(), contentType);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_app != null)
        {
            await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
        }
        if (_expiry != null)
        {
            try { await _expiry.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        await Engine.DisposeAsync().ConfigureAwait(false);
        _exporter.Dispose();
        _metrics.Dispose();
        _stop.Dispose();
    }

    /// <summary>400 with <c>{"error": message}</c> (typed, so it serializes without reflection).</summary>
    private static IResult BadRequest(string message) => Results.Json(new ApiError(message), DeployJson.Default.ApiError, statusCode: StatusCodes.Status400BadRequest);
}
