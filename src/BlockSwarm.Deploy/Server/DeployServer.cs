using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;
using System.Text.Json;
using BlockSwarm.Bencode;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;
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
        Registry = new ClientRegistry(options.Time);
        Tracker = new Tracker.Tracker(new TrackerOptions(), null, options.Time);
        // The origin: an engine of its own on the BitTorrent port. Clients dial it directly (the job names its port), so
        // it announces nowhere; the embedded tracker below introduces the clients to each other.
        Engine = new TorrentEngine(new EngineOptions
        {
            Listen = [new IPEndPoint(options.Listen, options.BitTorrentPort)],
            UploadLimit = options.UploadLimit,
            SlowStart = options.SlowStart,
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
            RequiredTargetSize = BlockImageLayout.IsBlockImage(torrent) ? BlockImageLayout.Create(torrent).RequiredDeviceSize : torrent.TotalLength,
            SourceSize = sourceSize,
            TotalBytes = torrent.TotalLength,
            PieceLength = torrent.PieceLength,
            PieceCount = torrent.PieceCount,
            OriginPort = options.BitTorrentPort,
            Policy = options.Policy,
        };
    }

    public ClientRegistry Registry { get; }
    public Tracker.Tracker Tracker { get; }
    /// <summary>The engine the origin runs in (its meter feeds /metrics).</summary>
    public TorrentEngine Engine { get; }

    /// <summary>The origin seeder (after <see cref="StartAsync"/>).</summary>
    public TorrentSession Seeder => _seeder ?? throw new InvalidOperationException("the server is not started");

    private TorrentSession? _seeder;
    public JobInfo Job { get; private set; }

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
    }

    private void Map(WebApplication app)
    {
        app.MapTracker(Tracker);
        app.MapGet("/api/job", () => Results.Json(Job, DeployJson.Default.JobInfo));
        app.MapGet("/job.torrent", (HttpContext ctx) => Results.Bytes(TorrentWithAnnounce(ctx), "application/x-bittorrent", $"{_torrent.Name}.torrent"));
        app.MapPost("/api/clients/{id}/status", async (HttpContext ctx, string id) =>
        {
            if (id.Length is 0 or > 128 || id.Any(c => char.IsControl(c)))
                return BadRequest("client id must be 1-128 printable characters");
            ClientReport? report;
            try
            {
                report = await JsonSerializer.DeserializeAsync(ctx.Request.Body, DeployJson.Default.ClientReport, ctx.RequestAborted).ConfigureAwait(false);
            }
            catch (JsonException ex)
            {
                return BadRequest($"malformed status report: {ex.Message}");
            }
            if (report is null) return BadRequest("empty status report");
            var address = ctx.Connection.RemoteIpAddress?.ToString() ?? "?";
            if (!Registry.Report(id, address, report)) return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            CheckAllDone();
            return Results.Json(new ReportReply(KeepSeeding(report), IsAllDone(), Job.JobId), DeployJson.Default.ReportReply);
        });
        app.MapGet("/api/clients", () => Results.Json(Snapshot(), DeployJson.Default.Snapshot));
        app.MapGet("/api/events", StreamEventsAsync);
        app.MapGet("/metrics", () => Results.Text(Metrics(), "text/plain; version=0.0.4"));
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
        if (IsAllDone()) _allDone.TrySetResult();
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

    public string Metrics()
    {
        var snap = Snapshot();
        var seed = Seeder.GetStats();
        var sb = new StringBuilder();
        void Metric(string name, string type, string help, double value, string labels = "")
        {
            sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name}{labels} {value.ToString(CultureInfo.InvariantCulture)}\n");
        }
        Metric("blockswarm_origin_uploaded_bytes_total", "counter", "Payload bytes the origin seeder uploaded.", seed.PayloadUploaded);
        Metric("blockswarm_origin_wire_uploaded_bytes_total", "counter", "Bytes the origin seeder sent on the wire.", seed.WireUploaded);
        Metric("blockswarm_origin_upload_rate_bytes", "gauge", "Origin upload rate, bytes per second.", seed.UploadRate);
        Metric("blockswarm_origin_peers", "gauge", "Peers connected to the origin.", seed.Peers);
        Metric("blockswarm_pieces", "gauge", "Pieces in the job.", _torrent.PieceCount);
        Metric("blockswarm_job_bytes", "gauge", "Payload bytes in the job.", _torrent.TotalLength);
        Metric("blockswarm_clients_expected", "gauge", "Clients the operator expects.", snap.Totals.Expected);
        Metric("blockswarm_clients_done", "gauge", "Clients done (verified and on stable storage).", snap.Totals.Done);
        Metric("blockswarm_clients_failed", "gauge", "Clients failed or refused.", snap.Totals.Failed);
        Metric("blockswarm_peer_uploaded_bytes_total", "counter", "Payload bytes clients received from other clients.", snap.Totals.PeerUploaded);
        sb.Append("# HELP blockswarm_client_progress Fraction of the job a client has verified.\n# TYPE blockswarm_client_progress gauge\n");
        foreach (var c in snap.Clients)
            sb.Append(CultureInfo.InvariantCulture, $"blockswarm_client_progress{{client=\"{Escape(c.Id)}\",host=\"{Escape(c.Report.Hostname)}\",state=\"{Escape(c.Report.State)}\"}} {c.Report.Progress.ToString(CultureInfo.InvariantCulture)}\n");
        sb.Append("# HELP blockswarm_client_downloaded_bytes_total Payload bytes a client downloaded.\n# TYPE blockswarm_client_downloaded_bytes_total counter\n");
        foreach (var c in snap.Clients)
            sb.Append(CultureInfo.InvariantCulture, $"blockswarm_client_downloaded_bytes_total{{client=\"{Escape(c.Id)}\"}} {c.Report.Downloaded}\n");
        sb.Append("# HELP blockswarm_client_uploaded_bytes_total Payload bytes a client uploaded.\n# TYPE blockswarm_client_uploaded_bytes_total counter\n");
        foreach (var c in snap.Clients)
            sb.Append(CultureInfo.InvariantCulture, $"blockswarm_client_uploaded_bytes_total{{client=\"{Escape(c.Id)}\"}} {c.Report.Uploaded}\n");
        return sb.ToString();
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

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
        _stop.Dispose();
    }

    /// <summary>400 with <c>{"error": message}</c> (typed, so it serializes without reflection).</summary>
    private static IResult BadRequest(string message) => Results.Json(new ApiError(message), DeployJson.Default.ApiError, statusCode: StatusCodes.Status400BadRequest);
}
