using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BlockSwarm.Bencode;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;
using BlockSwarm.Observability.Metrics;
using BlockSwarm.Security;
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
/// deployment API, the live dashboard and Prometheus metrics from one Kestrel server. Every job it hands out is signed
/// by its <see cref="ServerIdentity"/>; status reports need the token the client got when it enrolled; operator actions
/// need the operator token.
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
    /// <summary>The torrent as served to each announce URL (the Host clients use): a handful, so a bounded cache.</summary>
    private readonly ConcurrentDictionary<string, ServedTorrent> _served = new(StringComparer.Ordinal);
    private readonly ServerIdentity _identity;
    private readonly bool _ownsIdentity;
    private readonly OperatorToken _operatorToken;
    private readonly ClientTokens _tokens = new();
    private readonly TaskCompletionSource _stopRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
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
        _ownsIdentity = options.Identity is null;
        _identity = options.Identity ?? ServerIdentity.Generate();
        _operatorToken = options.OperatorToken ?? OperatorToken.Random();
        Registry = new ClientRegistry(options.Time);
        Tracker = new Tracker.Tracker(new TrackerOptions { LoggerFactory = options.LoggerFactory, SwarmSecret = options.SwarmSecret }, null, options.Time);
        // The origin: an engine of its own on the BitTorrent port. Clients dial it directly (the job names its port), so
        // it announces nowhere; the embedded tracker below introduces the clients to each other.
        Engine = new TorrentEngine(new EngineOptions
        {
            Listen = [new IPEndPoint(options.Listen, options.BitTorrentPort)],
            UploadLimit = options.UploadLimit,
            SlowStart = options.SlowStart,
            CompressionLevel = options.CompressionLevel,
            SwarmSecret = options.SwarmSecret,
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
            SwitchPrefixLength = options.SwitchPrefixLength,
            SecretId = options.SwarmSecret?.Id,
            ServerKey = _identity.Fingerprint,
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

    /// <summary>The HTTP base address actually bound (port 0 resolved; <c>https://</c> with TLS).</summary>
    public Uri? HttpAddress { get; private set; }

    /// <summary>With TLS and network boot: the plain-HTTP address that serves <c>/netboot/</c> only; else null.</summary>
    public Uri? NetbootAddress { get; private set; }

    /// <summary>The key that signs the jobs.</summary>
    public ServerIdentity Identity => _identity;

    /// <summary>Completes when an operator asked the server to stop (<c>POST /api/stop</c>).</summary>
    public Task StopRequested => _stopRequested.Task;

    /// <summary>The token client <paramref name="clientId"/> gets when it enrols (tests).</summary>
    internal string ClientToken(string clientId) => _tokens.Issue(clientId);

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
        var tls = _options.TlsCertificate;
        bool plainNetboot = tls is not null && _options.NetbootDirectory is not null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            if (tls is null) k.Listen(_options.Listen, _options.HttpPort);
            else k.Listen(_options.Listen, _options.HttpPort, l => l.UseHttps(tls));
            // iPXE cannot check a self-signed certificate: the boot files get a plain port of their own, and only they.
            if (plainNetboot) k.Listen(_options.Listen, _options.NetbootPort ?? (_options.HttpPort == 0 ? 0 : _options.HttpPort + 1));
            k.Limits.MaxRequestBodySize = 64 * 1024;
            k.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
        });
        var app = builder.Build();
        Map(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        // The bound addresses (port 0 resolved) come from the server feature, not from app.Urls.
        var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses.ToList() ?? [];
        string scheme = tls is null ? "http" : "https";
        var addr = bound.FirstOrDefault(a => a.StartsWith(scheme + "://", StringComparison.Ordinal)) ?? $"{scheme}://{_options.Listen}:{_options.HttpPort}";
        HttpAddress = Reachable(addr);
        if (plainNetboot && bound.FirstOrDefault(a => a.StartsWith("http://", StringComparison.Ordinal)) is { } nb) NetbootAddress = Reachable(nb);
        _expiry = Tracker.RunExpiryAsync(_stop.Token);
        LogIdentity();
        if (tls is not null)
        {
            string tlsKey = ServerTrust.CertificateFingerprint(tls);
            ServerLog.TlsOn(_log, HttpAddress, tlsKey, tlsKey == _identity.Fingerprint ? "self-signed on the signing key: the same pin covers both" : "a certificate of its own: clients trust it through the system's CAs",
                NetbootAddress is null ? "" : $"; network boot files over plain HTTP on {NetbootAddress}netboot/");
        }
        ServerLog.JobPublished(_log, Job.JobId, Job.Name, Job.InfoHash, Job.TotalBytes, Job.PieceCount, Job.OriginPort, HttpAddress, Job.Policy, Job.Policy.Expected);
    }

    private static Uri Reachable(string address) =>
        new(address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "[::1]", StringComparison.Ordinal));

    /// <summary>Where the keys came from, once at start: what to pin, what was created, a key file others can read.</summary>
    private void LogIdentity()
    {
        if (_identity.Created) ServerLog.SigningKeyCreated(_log, _identity.Source, _identity.Fingerprint);
        if (_identity.FileModeWarning is { } w) ServerLog.KeyFileReadable(_log, w);
        ServerLog.SigningKey(_log, _identity.Fingerprint, _identity.Source);
        string dashboard = _options.Dashboard == DashboardAccess.Token ? " and reading the dashboard" : "";
        if (_operatorToken.Created) ServerLog.OperatorTokenCreated(_log, _operatorToken.Source, dashboard);
        if (_operatorToken.FileModeWarning is { } t) ServerLog.KeyFileReadable(_log, t);
        ServerLog.Access(_log, _operatorToken.Source, _options.Dashboard == DashboardAccess.Token ? "for the operator token's holders only (--dashboard token)" : "open to the LAN (--dashboard open)");
    }

    private void Map(WebApplication app)
    {
        if (_options.TlsCertificate is not null && _options.NetbootDirectory is not null)
        {
            // The plain listener exists for iPXE only: everything but /netboot/ is served over TLS alone.
            app.Use((ctx, next) =>
            {
                if (ctx.Request.IsHttps || ctx.Request.Path.StartsWithSegments("/netboot")) return next(ctx);
                ctx.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            });
        }
        app.MapTracker(Tracker);
        if (_options.NetbootDirectory is { } netboot)
            app.MapNetboot(netboot, _options.NetbootKernelArgs, _torrent.Name, Registry.IsFinished, DeployUrlFor, _identity.Fingerprint);
        app.MapGet("/api/job", SignedJob);
        app.MapGet("/job.torrent", (HttpContext ctx) => Results.Bytes(TorrentFor(ctx).Bytes, "application/x-bittorrent", $"{_torrent.Name}.torrent"));
        app.MapPost("/api/clients/{id}/enrol", (HttpContext ctx, string id) =>
        {
            var address = ctx.Connection.RemoteIpAddress?.ToString() ?? "?";
            if (!ValidClientId(id)) return BadRequest("client id must be 1-128 printable characters");
            if (_options.SwarmSecret is { } secret
                && EnrolProof.Check(secret, id, ctx.Request.Headers[EnrolProof.Header], _options.Time.GetUtcNow()) is { } noProof)
            {
                // A secret swarm's outsiders may not claim ids nor put rows on the dashboard.
                ServerLog.EnrolRefused(_log, Printable(id), address, noProof);
                return Results.Json(new ApiError(noProof), DeployJson.Default.ApiError, statusCode: StatusCodes.Status403Forbidden);
            }
            var enrolled = Registry.Enrol(id, address);
            switch (enrolled.Outcome)
            {
                case EnrolOutcome.BoundElsewhere:
                    string reason = $"client id {Printable(id)} enrolled from {enrolled.BoundAddress} first; give this machine another --id, or forget that client (DELETE /api/clients/{{id}} with the operator token)";
                    ServerLog.EnrolRefused(_log, Printable(id), address, reason);
                    return Results.Json(new ApiError(reason), DeployJson.Default.ApiError, statusCode: StatusCodes.Status403Forbidden);
                case EnrolOutcome.Full:
                    ServerLog.RegistryFull(_log, address, Printable(id), Registry.Count);
                    return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            }
            string how = enrolled.Outcome == EnrolOutcome.New ? "first time" : "again, from the same address";
            ServerLog.ClientEnrolled(_log, id, address, how);
            return Results.Json(new EnrolReply(id, _tokens.Issue(id), Job.JobId), DeployJson.Default.EnrolReply);
        });
        app.MapPost("/api/clients/{id}/status", async (HttpContext ctx, string id) =>
        {
            var address = ctx.Connection.RemoteIpAddress?.ToString() ?? "?";
            if (!ValidClientId(id))
                return Reject(address, id, "client id must be 1-128 printable characters");
            if (AuthenticateClient(ctx, id, address) is { } refused) return refused;
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
        // Operator actions: the only requests besides status reports that change anything.
        app.MapDelete("/api/clients/{id}", (HttpContext ctx, string id) =>
        {
            if (AuthorizeOperator(ctx, $"forget client {Printable(id)}") is { } refused) return refused;
            return Registry.Forget(id) ? Results.NoContent() : Results.NotFound();
        });
        app.MapPost("/api/stop", (HttpContext ctx) =>
        {
            if (AuthorizeOperator(ctx, "stop the server") is { } refused) return refused;
            _stopRequested.TrySetResult();
            return Results.Accepted();
        });
        app.MapGet("/api/clients", (HttpContext ctx) => Read(ctx, () => Results.Json(Snapshot(), DeployJson.Default.Snapshot)));
        app.MapGet("/api/events", async (HttpContext ctx) =>
        {
            if (AuthorizeRead(ctx) is { } refused) await refused.ExecuteAsync(ctx).ConfigureAwait(false);
            else await StreamEventsAsync(ctx).ConfigureAwait(false);
        });
        app.MapGet("/metrics", (HttpContext ctx) => Read(ctx, () => Results.Text(Metrics(), PrometheusExporter.ContentType)));
        app.MapGet("/", (HttpContext ctx) => Read(ctx, () => Asset("index.html", "text/html; charset=utf-8")));
        app.MapGet("/app.js", (HttpContext ctx) => Read(ctx, () => Asset("app.js", "text/javascript; charset=utf-8")));
        app.MapGet("/style.css", (HttpContext ctx) => Read(ctx, () => Asset("style.css", "text/css; charset=utf-8")));
    }

    /// <summary>A dashboard read: the answer, or the refusal when <c>--dashboard token</c> wants a token this request lacks.</summary>
    private IResult Read(HttpContext ctx, Func<IResult> answer) => AuthorizeRead(ctx) ?? answer();

    private static bool ValidClientId(string id) => id.Length is > 0 and <= 128 && !id.Any(char.IsControl);

    /// <summary>
    /// <c>GET /api/job</c>: the job as JSON, signed. The body names this answer's time and the SHA-256 of the torrent as
    /// it is served to this client's Host; <see cref="SignedMessage"/>'s two headers carry the key and the signature of
    /// the body's exact bytes.
    /// </summary>
    private IResult SignedJob(HttpContext ctx)
    {
        var torrent = TorrentFor(ctx);
        var job = Job with { IssuedAt = _options.Time.GetUtcNow(), TorrentSha256 = torrent.Sha256 };
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(job, DeployJson.Default.JobInfo);
        ctx.Response.Headers[SignedMessage.KeyHeader] = _identity.PublicKey.ToHeader();
        ctx.Response.Headers[SignedMessage.SignatureHeader] = SignedMessage.Sign(_identity, JobSignature.Purpose, body);
        ctx.Response.Headers.CacheControl = "no-store";
        return Results.Bytes(body, "application/json; charset=utf-8");
    }

    /// <summary>The deploy URL a network-booted client gets on its kernel command line: this server as it reached it, over TLS when it is on.</summary>
    private string DeployUrlFor(HttpContext ctx)
    {
        if (_options.TlsCertificate is null || HttpAddress is null) return NetbootEndpoints.ServerUrl(ctx).TrimEnd('/');
        var host = new UriBuilder("http://" + ctx.Request.Host.Value) { Scheme = "https", Port = HttpAddress.Port };
        return host.Uri.GetLeftPart(UriPartial.Authority);
    }

    private ServedTorrent TorrentFor(HttpContext ctx)
    {
        string announce = $"{ctx.Request.Scheme}://{ctx.Request.Host}/announce";
        if (_served.TryGetValue(announce, out var served)) return served;
        var bytes = TorrentWithAnnounce(announce);
        served = new ServedTorrent(bytes, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        // The Host header is the client's to choose: keep a few, not one per made-up name.
        if (_served.Count < 32) _served.TryAdd(announce, served);
        return served;
    }

    private byte[] TorrentWithAnnounce(string announce)
    {
        // The info dictionary is copied as is (the info-hash never changes); only announce follows the Host the client used.
        var root = new BDictionary();
        foreach (var (k, v) in _torrent.Root) root[k] = v;
        root["announce"] = new BString(announce);
        root.Remove("announce-list");
        var bytes = BencodeEncoder.Encode(root);
        if (!Metainfo.Torrent.Parse(bytes).InfoHash.Equals(_torrent.InfoHash))
            throw new InvalidOperationException("re-encoding the torrent changed its info-hash");
        return bytes;
    }

    private sealed record ServedTorrent(byte[] Bytes, string Sha256);

    /// <summary>
    /// A status report must carry its client's token (<c>Authorization: Bearer TOKEN</c>, from enrolling): null when it
    /// does, else the refusal (401 without a token, 403 with a wrong one), logged with the client, the address and why.
    /// </summary>
    private IResult? AuthenticateClient(HttpContext ctx, string id, string address)
    {
        string? token = Credentials(ctx);
        string? reason = null;
        int status = StatusCodes.Status403Forbidden;
        if (token is null)
        {
            reason = "no client token (a deploy enrols first, POST /api/clients/{id}/enrol, and sends Authorization: Bearer TOKEN; an older deploy does not)";
            status = StatusCodes.Status401Unauthorized;
        }
        else if (!_tokens.Verify(id, token))
            reason = "the token is not this client's (another client's token, or one from before this server started)";
        else if (!Registry.IsEnrolled(id))
            reason = "the client was forgotten by the operator; it enrols again";
        if (reason is null) return null;
        _metrics.StatusReports.Add(1, new KeyValuePair<string, object?>("result", "unauthorized"));
        ServerLog.StatusRefused(_log, address, Printable(id), reason);
        return Results.Json(new ApiError($"status report refused: {reason}"), DeployJson.Default.ApiError, statusCode: status);
    }

    /// <summary>An operator action needs the operator token: null when given, else 401 (none) or 403 (wrong), logged.</summary>
    private IResult? AuthorizeOperator(HttpContext ctx, string action)
    {
        var address = ctx.Connection.RemoteIpAddress?.ToString() ?? "?";
        string? token = Credentials(ctx);
        if (token is not null && _operatorToken.Matches(token))
        {
            ServerLog.OperatorAction(_log, address, action);
            return null;
        }
        bool missing = token is null;
        string reason = missing ? "no operator token (Authorization: Bearer TOKEN, the contents of serve's --operator-token-file)" : "wrong operator token";
        ServerLog.OperatorRefused(_log, action, address, reason);
        if (missing) ctx.Response.Headers.WWWAuthenticate = "Bearer realm=\"BlockSwarm\"";
        return Results.Json(new ApiError($"{action}: {reason}"), DeployJson.Default.ApiError,
            statusCode: missing ? StatusCodes.Status401Unauthorized : StatusCodes.Status403Forbidden);
    }

    /// <summary>
    /// Reading the dashboard: open, or (<c>--dashboard token</c>) with the operator token — a browser asks for it as the
    /// password of HTTP Basic authentication (any user name), scripts and Prometheus send it as a Bearer token.
    /// </summary>
    private IResult? AuthorizeRead(HttpContext ctx)
    {
        if (_options.Dashboard == DashboardAccess.Open) return null;
        string? token = Credentials(ctx);
        if (token is not null && _operatorToken.Matches(token)) return null;
        // A browser's first request never carries the password: that challenge is not worth a warning, a wrong token is.
        string address = ctx.Connection.RemoteIpAddress?.ToString() ?? "?";
        string path = ctx.Request.Path.Value ?? "/";
        if (token is not null) ServerLog.DashboardRefused(_log, path, address, "wrong operator token");
        else ServerLog.DashboardChallenge(_log, path, address);
        ctx.Response.Headers.WWWAuthenticate = "Basic realm=\"BlockSwarm dashboard\", charset=\"UTF-8\"";
        return Results.StatusCode(StatusCodes.Status401Unauthorized);
    }

    /// <summary>The token of an <c>Authorization</c> header: <c>Bearer TOKEN</c>, or HTTP Basic with the token as the password.</summary>
    private static string? Credentials(HttpContext ctx)
    {
        string? header = ctx.Request.Headers.Authorization;
        if (string.IsNullOrWhiteSpace(header)) return null;
        int space = header.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0) return null;
        string scheme = header[..space];
        string value = header[(space + 1)..].Trim();
        if (scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase)) return value.Length > 0 ? value : null;
        if (!scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)) return null;
        byte[] decoded = new byte[value.Length];
        if (!Convert.TryFromBase64String(value, decoded, out int n)) return "";
        string pair = Encoding.UTF8.GetString(decoded, 0, n);
        int colon = pair.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? "" : pair[(colon + 1)..];
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
        if (_ownsIdentity) _identity.Dispose();
        _exporter.Dispose();
        _metrics.Dispose();
        _stop.Dispose();
    }

    /// <summary>400 with <c>{"error": message}</c> (typed, so it serializes without reflection).</summary>
    private static IResult BadRequest(string message) => Results.Json(new ApiError(message), DeployJson.Default.ApiError, statusCode: StatusCodes.Status400BadRequest);
}
