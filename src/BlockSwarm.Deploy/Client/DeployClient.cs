using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Deploy.Server;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;
using BlockSwarm.Security;
using BlockSwarm.Tracker;
using BlockSwarm.Tracker.Client.Lsd;
using BlockSwarm.Devices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Deploy.Client;

/// <summary>How a client deploys.</summary>
public sealed record DeployOptions
{
    public required Uri Server { get; init; }
    public required string Target { get; init; }

    /// <summary>Skip the confirmation question.</summary>
    public bool Yes { get; init; }

    /// <summary>Accept a regular file as the target (image files, tests, demos).</summary>
    public bool AllowFile { get; init; }

    /// <summary>Where to accept peers; its address is also used for outgoing connections. Port 0 = any.</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Any, 0);

    public string Hostname { get; init; } = Environment.MachineName;
    public string? ClientId { get; init; }
    /// <summary>All the piece data the client may hold (assembling, write-back, read cache): <see cref="PieceMemory.Split"/>.</summary>
    public long CacheBytes { get; init; } = StorageOptions.DefaultCacheBytes;
    public string? ResumePath { get; init; }

    /// <summary>How the target is written (<see cref="StorageOptions.WriteMode"/>): by default O_DIRECT where it takes it.</summary>
    public WriteMode WriteMode { get; init; } = WriteMode.Auto;

    public TimeSpan ReportInterval { get; init; } = TimeSpan.FromSeconds(1.5);

    /// <summary>Longest time to keep seeding after finishing, whatever the policy says.</summary>
    public TimeSpan MaxSeeding { get; init; } = TimeSpan.FromHours(2);

    /// <summary>Most simultaneous peer connections (modest, but above ln N so the swarm stays connected).</summary>
    public int MaxPeers { get; init; } = 48;

    /// <summary>zstd level of runs sent to other BlockSwarm clients (0 = off); null = the job's, else the default.</summary>
    public int? CompressionLevel { get; init; }

    /// <summary>
    /// Whether <see cref="SwitchPrefixLength"/> was given (<c>deploy --switch-prefix</c>); if not, the job's
    /// <see cref="Api.JobInfo.SwitchPrefixLength"/> is used.
    /// </summary>
    public bool SwitchPrefixGiven { get; init; }

    /// <summary>Which peers are behind another switch: null = another subnet by our netmask, 0 = none (off), N = another /N.</summary>
    public int? SwitchPrefixLength { get; init; }

    /// <summary>The swarm secret (<c>--secret-file</c>, <c>blockswarm.secret=</c>); must be the one the job names, if any.</summary>
    public Security.SwarmSecret? SwarmSecret { get; init; }

    /// <summary>Exchange peer lists with peers (BEP 11); on by default.</summary>
    public bool Pex { get; init; } = true;

    /// <summary>Local Service Discovery on the LAN multicast group (BEP 14); off by default.</summary>
    public bool Lsd { get; init; }

    /// <summary>Re-read and re-hash the whole target after the final fsync.</summary>
    public bool VerifyAfter { get; init; }

    /// <summary>
    /// Which server key to accept (<c>--server-key</c>): the job must be signed by it, and over https the certificate's
    /// key must be it (or the system's CAs vouch for the certificate). <see cref="ServerTrust.None"/>: not authenticated,
    /// one warning.
    /// </summary>
    public ServerTrust ServerTrust { get; init; } = ServerTrust.None;

    /// <summary>Asks the operator to confirm; null = non-interactive (then <see cref="Yes"/> is required).</summary>
    public Func<string, bool>? Confirm { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// Loggers of the client and of its tracker announces and LSD: one line for each failure an operator can meet
    /// (server unreachable, target refused and why, job changed, verify-after failure), besides the reporter's events.
    /// </summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
}

/// <summary>Where the client's progress goes: terminal, plain log lines or JSON events.</summary>
public interface IDeployReporter
{
    void Event(string name, string message, IReadOnlyDictionary<string, object?>? data = null);
    void Progress(SessionStats stats, string state);
}

/// <summary>Exit codes of <c>blockswarm deploy</c> (same values as the CLI's).</summary>
public static class DeployExitCodes
{
    public const int Ok = 0;
    public const int Error = 1;
    public const int VerifyFailed = 3;
    public const int TargetRefused = 4;
    public const int ServerUnreachable = 5;
    /// <summary>The server is not the one <c>--server-key</c> names, or what it sent was changed on the way.</summary>
    public const int ServerNotTrusted = 6;
    public const int Interrupted = 130;
}

/// <summary>
/// One machine being imaged: fetch the job, check the target before writing a byte, download
/// through the engine, fsync, report to the server, keep seeding as its policy says.
/// </summary>
public sealed class DeployClient
{
    private DeployOptions _options;
    private readonly IDeployReporter _reporter;
    private readonly HttpClient _http;
    private readonly ILogger _log;
    private string _state = "checking";
    private string? _error;
    private bool _reportsFailing;
    /// <summary>Why the TLS certificate was refused (set by the validation callback, read where the request fails).</summary>
    private volatile TlsRefusal? _tlsRefusal;
    private string? _clientToken;
    private long _lastEnrolAttempt;

    /// <param name="http">An HTTP client of the caller's (its own TLS rules); null: one that checks https against <see cref="DeployOptions.ServerTrust"/>.</param>
    public DeployClient(DeployOptions options, IDeployReporter reporter, HttpClient? http = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(reporter);
        _options = options;
        _reporter = reporter;
        _log = options.LoggerFactory.CreateLogger<DeployClient>();
        _http = http ?? CreateHttpClient();
    }

    /// <summary>An HTTP client whose https connections accept only a certificate <see cref="DeployOptions.ServerTrust"/> accepts.</summary>
    private HttpClient CreateHttpClient()
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (_options.ServerTrust.AcceptsCertificate(certificate, errors, out var offered, out var reason)) return true;
                    _tlsRefusal = new TlsRefusal(offered, reason);
                    return false;
                },
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
    }

    private sealed record TlsRefusal(string Offered, string Reason);

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var o = _options;
        var (job, fetchFailure) = await FetchJobAsync(cancellationToken).ConfigureAwait(false);
        if (job is null) return fetchFailure;
        ClientLog.JobFetched(_log, job.JobId, o.Server, job.Name, job.InfoHash, job.TotalBytes, job.PieceCount, job.RequiredTargetSize, job.Policy);
        _reporter.Event("job", $"job {job.Name} ({job.InfoHash}), {job.TotalBytes} bytes in {job.PieceCount} pieces; needs a target of at least {job.RequiredTargetSize} bytes",
            new Dictionary<string, object?> { ["infoHash"] = job.InfoHash, ["totalBytes"] = job.TotalBytes });

        Torrent torrent;
        try
        {
            var bytes = await _http.GetByteArrayAsync(new Uri(o.Server, job.TorrentUrl), cancellationToken).ConfigureAwait(false);
            // The signed job names the SHA-256 of the torrent it points to: a torrent changed on the way is refused here,
            // before it is even parsed.
            string sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (job.TorrentSha256 is { } signed && !string.Equals(signed, sha256, StringComparison.OrdinalIgnoreCase))
            {
                ClientLog.TorrentRefused(_log, new Uri(o.Server, job.TorrentUrl), sha256, signed, o.Target);
                _reporter.Event("refused", $"the torrent from {o.Server} is not the one the signed job names (SHA-256 {sha256}, job says {signed}): changed on the way; nothing was written to {o.Target}");
                return DeployExitCodes.ServerNotTrusted;
            }
            torrent = Torrent.Parse(bytes);
        }
        catch (HttpRequestException) when (_tlsRefusal is { } tls)
        {
            return RefuseServer(o.ServerTrust.Expected, tls.Offered, tls.Reason);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            ClientLog.TorrentUnavailable(_log, o.Server, ex.Message);
            _reporter.Event("error", $"cannot download the torrent from {o.Server}: {ex.Message}");
            return DeployExitCodes.ServerUnreachable;
        }
        catch (TorrentException ex)
        {
            ClientLog.TorrentUnavailable(_log, o.Server, $"the server's torrent is invalid: {ex.Message}");
            _reporter.Event("error", $"the server's torrent is invalid: {ex.Message}");
            return DeployExitCodes.Error;
        }
        if (torrent.InfoHash.ToHex() != job.InfoHash)
        {
            ClientLog.JobChangedWhileFetching(_log, o.Server, torrent.InfoHash.ToHex(), job.InfoHash);
            _reporter.Event("error", $"the job changed while it was being fetched (info-hash {torrent.InfoHash.ToHex()} ≠ {job.InfoHash}); run deploy again");
            return DeployExitCodes.Error;
        }

        if (SecretMismatch(job, o.SwarmSecret) is { } secretProblem)
        {
            ClientLog.SecretMismatch(_log, o.Server, secretProblem, o.Target);
            _reporter.Event("error", $"{secretProblem}; nothing was written to {o.Target}");
            return DeployExitCodes.Error;
        }

        string clientId = o.ClientId ?? DefaultClientId(o.Hostname, o.Target);
        if (!await EnrolAsync(clientId, cancellationToken).ConfigureAwait(false)) return DeployExitCodes.Error;
        TargetInfo target;
        try
        {
            var guard = new TargetGuard();
            if (o.Target == TargetGuard.Auto)
            {
                _options = o = o with { Target = guard.FindInternalDisk() };
                ClientLog.TargetChosen(_log, o.Target);
            }
            target = guard.Check(o.Target, job.RequiredTargetSize, o.AllowFile);
        }
        catch (TargetRefusedException ex)
        {
            _state = "refused";
            _error = ex.Message;
            ClientLog.TargetRefused(_log, o.Target, ex.Message);
            _reporter.Event("refused", ex.Message);
            await TryReportAsync(clientId, null, torrent, cancellationToken).ConfigureAwait(false);
            return DeployExitCodes.TargetRefused;
        }
        if (!o.Yes)
        {
            string question = $"Overwrite {(target.IsBlockDevice ? "block device" : "image file")} {o.Target} ({target.Size} bytes) with '{job.Name}'? Everything on it is lost.";
            if (o.Confirm is null || !o.Confirm(question))
            {
                _state = "refused";
                _error = o.Confirm is null ? "not confirmed: pass --yes to deploy without a question" : "not confirmed by the operator";
                ClientLog.TargetRefused(_log, o.Target, _error);
                _reporter.Event("refused", _error);
                await TryReportAsync(clientId, null, torrent, cancellationToken).ConfigureAwait(false);
                return DeployExitCodes.TargetRefused;
            }
        }

        ClientLog.TargetAccepted(_log, o.Target, target.IsBlockDevice ? "block device" : "image file", target.Size, clientId);
        // --cache bounds all the piece data the client holds: pieces being assembled, written and read for uploads.
        var memory = PieceMemory.Split(StorageOptions.ClampCacheBytes(o.CacheBytes, torrent.PieceLength), torrent.PieceLength);
        var storageOptions = new StorageOptions { Memory = memory, WriteMode = o.WriteMode, LoggerFactory = o.LoggerFactory };
        MappedPieceStorage storage;
        try
        {
            storage = DeviceStorage.Open(target.ResolvedPath, torrent, storageOptions, writable: true);
        }
        catch (StorageException ex)
        {
            ClientLog.TargetOpenFailed(_log, o.Target, ex.Message);
            _reporter.Event("error", ex.Message);
            return DeployExitCodes.Error;
        }
        await using (storage.ConfigureAwait(false))
        {
            string resume = o.ResumePath ?? DefaultResumePath(target, torrent);
            _state = "checking";
            var recovered = await Task.Run(() => PieceRecovery.Recover(storage, torrent, resume, new RecoveryOptions(), cancellationToken), cancellationToken).ConfigureAwait(false);
            ClientLog.Recovered(_log, o.Target, recovered.Pieces.Count, torrent.PieceCount, recovered.Reason);
            _reporter.Event("recovered", recovered.Reason, new Dictionary<string, object?> { ["pieces"] = recovered.Pieces.Count });

            var serverAddresses = await ResolveServerAsync(cancellationToken).ConfigureAwait(false);
            await using var engine = new TorrentEngine(new EngineOptions
            {
                Listen = [o.Listen],
                LocalAddress = o.Listen.Address.Equals(IPAddress.Any) ? null : o.Listen.Address,
                Memory = memory,
                CompressionLevel = o.CompressionLevel ?? job.CompressionLevel ?? EngineOptions.DefaultCompressionLevel,
                SwarmSecret = o.SwarmSecret,
                Time = o.Time,
                LoggerFactory = o.LoggerFactory,
                // On one host (demo, tests) clients share an HTTP source address; the engine tells the tracker which address we listen on.
                Discovery = new DiscoveryOptions { Pex = o.Pex, Lsd = o.Lsd, Http = _http },
            });
            engine.Start();
            int? switchPrefix = o.SwitchPrefixGiven ? o.SwitchPrefixLength : job.SwitchPrefixLength;
            var session = engine.Add(torrent, storage, recovered.Pieces, new TorrentOptions
            {
                ResumePath = resume,
                MaxConnections = o.MaxPeers,
                Peers = [.. serverAddresses.Select(a => new IPEndPoint(a, job.OriginPort))],
                Trackers = [[new Uri(o.Server, job.AnnounceUrl)]],
            }.WithSwitchPrefix(switchPrefix));
            var originKeys = serverAddresses.Select(a => a.ToString()).ToHashSet();

            _state = session.IsComplete ? "seeding" : "downloading";
            ClientLog.DownloadStarted(_log, o.Target, o.Server, session.LocalEndPoint);
            _reporter.Event("start", $"downloading into {o.Target} from {o.Server}");
            var reply = new ReportReply(true, false, job.JobId);
            try
            {
                while (!session.Completion.IsCompleted)
                {
                    await Task.WhenAny(session.Completion, Task.Delay(o.ReportInterval, o.Time, cancellationToken)).ConfigureAwait(false);
                    reply = await ReportAsync(clientId, session, originKeys, torrent, cancellationToken).ConfigureAwait(false) ?? reply;
                    if (reply.JobId != job.JobId)
                    {
                        ClientLog.JobChanged(_log, job.JobId, reply.JobId, o.Target);
                        throw new JobChangedException($"the server's job changed mid-run ({job.JobId} → {reply.JobId}); this target is incomplete, run deploy again");
                    }
                }
                await session.Completion.ConfigureAwait(false); // throws the storage error, if any
                if (o.VerifyAfter)
                {
                    _state = "verifying";
                    _reporter.Event("verifying", "re-reading the target to verify every piece");
                    var good = await Task.Run(() => PieceRecovery.Rehash(storage, torrent, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
                    if (!good.IsComplete)
                    {
                        _state = "failed";
                        _error = $"{good.Length - good.Count} pieces read back wrong from the target after writing: the device may be failing";
                        ClientLog.VerifyAfterFailed(_log, o.Target, good.Length - good.Count, good.Length);
                        _reporter.Event("error", _error);
                        await ReportAsync(clientId, session, originKeys, torrent, cancellationToken).ConfigureAwait(false);
                        return DeployExitCodes.VerifyFailed;
                    }
                    ClientLog.VerifyAfterPassed(_log, o.Target);
                }
                _state = "seeding";
                var st = session.GetStats();
                long fromOrigin = st.DownloadedFrom.Where(kv => originKeys.Contains(kv.Key)).Sum(kv => kv.Value);
                ClientLog.Complete(_log, o.Target, st.PayloadDownloaded, fromOrigin);
                _reporter.Event("complete", $"every piece verified and on stable storage ({st.PayloadDownloaded} bytes downloaded)");
                await SeedPerPolicyAsync(job, clientId, session, originKeys, torrent, reply, cancellationToken).ConfigureAwait(false);
                _state = "done";
                await ReportAsync(clientId, session, originKeys, torrent, CancellationToken.None).ConfigureAwait(false);
                ClientLog.Done(_log, o.Target);
                _reporter.Event("done", "deployment finished");
                return DeployExitCodes.Ok;
            }
            catch (OperationCanceledException)
            {
                _state = "interrupted";
                ClientLog.Interrupted(_log, session.GetStats().Progress * 100, o.Target);
                await TryReportAsync(clientId, session, torrent, CancellationToken.None, originKeys).ConfigureAwait(false);
                _reporter.Event("interrupted", "interrupted; verified pieces are kept and a rerun resumes");
                return DeployExitCodes.Interrupted;
            }
            catch (Exception ex) when (ex is StorageException or JobChangedException)
            {
                _state = "failed";
                _error = ex.Message;
                if (ex is not JobChangedException) ClientLog.Failed(_log, o.Target, ex.Message); // a changed job was logged where it was seen
                _reporter.Event("error", ex.Message);
                await TryReportAsync(clientId, session, torrent, CancellationToken.None, originKeys).ConfigureAwait(false);
                return DeployExitCodes.Error;
            }
        }
    }

    private async Task SeedPerPolicyAsync(JobInfo job, string clientId, TorrentSession session, HashSet<string> originKeys, Torrent torrent, ReportReply reply, CancellationToken ct)
    {
        var started = _options.Time.GetTimestamp();
        long lastUploaded = session.GetStats().PayloadUploaded;
        var lastUploadAt = _options.Time.GetTimestamp();
        while (true)
        {
            reply = await ReportAsync(clientId, session, originKeys, torrent, ct).ConfigureAwait(false) ?? reply;
            var st = session.GetStats();
            if (st.PayloadUploaded != lastUploaded)
            {
                lastUploaded = st.PayloadUploaded;
                lastUploadAt = _options.Time.GetTimestamp();
            }
            bool idle = _options.Time.GetElapsedTime(lastUploadAt) >= TimeSpan.FromSeconds(job.Policy.IdleSeconds);
            if (!reply.KeepSeeding || job.Policy.Mode == "none" || idle || _options.Time.GetElapsedTime(started) >= _options.MaxSeeding)
            {
                var reason = reply.AllDone ? "every expected client is done"
                    : idle ? "no peer asked for data for a while"
                    : reply.KeepSeeding && job.Policy.Mode != "none" ? $"--max-seed ({_options.MaxSeeding.TotalSeconds:0} s) reached"
                    : "the server's policy says stop";
                var seeded = _options.Time.GetElapsedTime(started);
                ClientLog.SeedingStopped(_log, seeded.TotalSeconds, reason, st.PayloadUploaded);
                _reporter.Event("seeding-done", reason);
                return;
            }
            await Task.Delay(_options.ReportInterval, _options.Time, ct).ConfigureAwait(false);
        }
    }

    private async Task<IPAddress[]> ResolveServerAsync(CancellationToken ct)
    {
        if (IPAddress.TryParse(_options.Server.Host.Trim('[', ']'), out var ip)) return [ip];
        try
        {
            return await Dns.GetHostAddressesAsync(_options.Server.Host, ct).ConfigureAwait(false);
        }
        catch (System.Net.Sockets.SocketException)
        {
            return [];
        }
    }

    /// <summary>
    /// Why this client cannot join the job's swarm with the secret it has (null: it can): the job needs a secret and we
    /// have none or another (compared by public id), or we have one and the swarm is open (our connections would all be
    /// refused). Said before the target is touched, instead of as a connection refused per peer.
    /// </summary>
    internal static string? SecretMismatch(JobInfo job, Security.SwarmSecret? ours) => (job.SecretId, ours) switch
    {
        (null, null) => null,
        ({ } needed, null) => $"the server's swarm needs swarm secret {needed}: give it with --secret-file (blockswarm.secret= on a netboot kernel line)",
        (null, { } have) => $"we have swarm secret {have.Id} ({have.Source}) but the server's swarm is open: drop --secret-file, or start serve with it",
        ({ } needed, { } have) when needed != have.Id => $"the server's swarm needs swarm secret {needed}, ours ({have.Source}) is {have.Id}: a different secret",
        _ => null,
    };

    /// <summary>
    /// Fetches the job and checks who signed it (<see cref="SignedMessage"/> over the body's exact bytes, the key against
    /// <see cref="DeployOptions.ServerTrust"/>) before anything else is read from it. The job, or null and the exit code.
    /// </summary>
    private async Task<(JobInfo? Job, int ExitCode)> FetchJobAsync(CancellationToken ct)
    {
        var delay = TimeSpan.FromSeconds(1);
        var url = new Uri(_options.Server, "/api/job");
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                using var response = await _http.GetAsync(url, ct).ConfigureAwait(false);
                response.EnsureSuccessStatusCode();
                byte[] body = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
                string? keyHeader = Header(response, SignedMessage.KeyHeader);
                string? signatureHeader = Header(response, SignedMessage.SignatureHeader);
                var trust = _options.ServerTrust;
                ServerPublicKey? key = null;
                if (keyHeader is not null || signatureHeader is not null || trust.Mode != ServerTrustMode.None)
                {
                    try
                    {
                        key = SignedMessage.Verify(JobSignature.Purpose, body, keyHeader, signatureHeader);
                    }
                    catch (SecretException ex)
                    {
                        string? offered = null;
                        try { offered = ServerPublicKey.FromHeader(keyHeader).Fingerprint; } catch (SecretException) { }
                        return (null, RefuseServer(trust.Expected, offered ?? "(none)", ex.Message));
                    }
                }
                var job = JsonSerializer.Deserialize(body, DeployJson.Default.JobInfo);
                if (job is null)
                {
                    ClientLog.ServerUnreachable(_log, _options.Server, attempt, "the server answered an empty job");
                    _reporter.Event("error", $"{_options.Server}: empty job");
                    return (null, DeployExitCodes.ServerUnreachable);
                }
                if (key is null)
                {
                    ClientLog.ServerNotAuthenticated(_log, _options.Server, "it does not sign its jobs");
                    return (job, 0);
                }
                var decision = trust.Check(key.Fingerprint);
                if (!decision.Accepted) return (null, RefuseServer(decision.Expected, key.Fingerprint, decision.Reason));
                if (trust.Mode == ServerTrustMode.None)
                    ClientLog.ServerNotAuthenticated(_log, _options.Server, $"it offered key {key.Fingerprint}; pin it with --server-key {key.Fingerprint}");
                else
                {
                    string issuedAt = job.IssuedAt?.ToString("u", System.Globalization.CultureInfo.InvariantCulture) ?? "(no time)";
                    ClientLog.ServerAuthenticated(_log, job.JobId, _options.Server, key.Fingerprint, decision.Reason, issuedAt);
                }
                if (decision.Recorded) ClientLog.ServerKeyRecorded(_log, key.Fingerprint, _options.Server, trust.File!);
                if (job.IssuedAt is { } issued && (_options.Time.GetUtcNow() - issued).Duration() > TimeSpan.FromMinutes(10))
                    ClientLog.JobIssuedLongAgo(_log, job.JobId, _options.Server, issued, (_options.Time.GetUtcNow() - issued).TotalMinutes);
                return (job, 0);
            }
            catch (HttpRequestException) when (_tlsRefusal is { } tls)
            {
                return (null, RefuseServer(_options.ServerTrust.Expected, tls.Offered, tls.Reason));
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException && !ct.IsCancellationRequested)
            {
                if (attempt >= 4)
                {
                    ClientLog.ServerUnreachable(_log, _options.Server, attempt, ex.Message);
                    _reporter.Event("error", $"server {_options.Server} unreachable or not a BlockSwarm server: {ex.Message}");
                    return (null, DeployExitCodes.ServerUnreachable);
                }
                ClientLog.ServerRetry(_log, _options.Server, attempt, ex.Message, delay.TotalSeconds);
                _reporter.Event("retry", $"server {_options.Server} not reachable ({ex.Message}); retrying in {delay.TotalSeconds:0} s");
                await Task.Delay(delay, _options.Time, ct).ConfigureAwait(false);
                delay *= 2;
            }
        }
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    /// <summary>The one line of a refused server: which URL, the key expected and the key offered, why; nothing written.</summary>
    private int RefuseServer(string? expected, string offered, string reason)
    {
        var o = _options;
        string wanted = expected ?? (o.ServerTrust.Mode == ServerTrustMode.None ? "(none pinned)" : "(nothing recorded yet)");
        ClientLog.ServerRefused(_log, o.Server, reason, wanted, offered, o.Target);
        _reporter.Event("refused", $"server {o.Server} refused: {reason} (expected key {wanted}, offered {offered}); nothing was written to {o.Target}");
        return DeployExitCodes.ServerNotTrusted;
    }

    /// <summary>
    /// Enrols <paramref name="clientId"/> with the server for the token its status reports carry. False only when the
    /// server refuses the id (bound to another machine): then nothing is written. A server that cannot be asked, or one
    /// from before tokens, leaves the deployment going without a token (its reports are then refused or accepted as it says).
    /// </summary>
    private async Task<bool> EnrolAsync(string clientId, CancellationToken ct)
    {
        _lastEnrolAttempt = _options.Time.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_options.Server, $"/api/clients/{Uri.EscapeDataString(clientId)}/enrol"));
            if (_options.SwarmSecret is { } secret) request.Headers.Add(EnrolProof.Header, EnrolProof.Create(secret, clientId, _options.Time.GetUtcNow()));
            using var resp = await _http.SendAsync(request, ct).ConfigureAwait(false);
            if (resp.StatusCode == HttpStatusCode.Forbidden)
            {
                string why = await ErrorOf(resp, ct).ConfigureAwait(false);
                ClientLog.EnrolRefused(_log, _options.Server, clientId, why, _options.Target);
                _reporter.Event("refused", $"the server refused client id {clientId}: {why}; nothing was written to {_options.Target}");
                return false;
            }
            if (!resp.IsSuccessStatusCode)
            {
                ClientLog.EnrolFailed(_log, _options.Server, clientId, $"HTTP {(int)resp.StatusCode} {resp.ReasonPhrase}");
                return true;
            }
            var reply = await resp.Content.ReadFromJsonAsync(DeployJson.Default.EnrolReply, ct).ConfigureAwait(false);
            _clientToken = reply?.Token;
            return true;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException && !ct.IsCancellationRequested)
        {
            ClientLog.EnrolFailed(_log, _options.Server, clientId, ex.Message);
            return true;
        }
    }

    private static async Task<string> ErrorOf(HttpResponseMessage resp, CancellationToken ct)
    {
        try
        {
            var error = await resp.Content.ReadFromJsonAsync(DeployJson.Default.ApiError, ct).ConfigureAwait(false);
            if (error?.Error is { Length: > 0 } e) return e;
        }
        catch (JsonException)
        {
        }
        return $"HTTP {(int)resp.StatusCode} {resp.ReasonPhrase}";
    }

    private async Task<ReportReply?> ReportAsync(string clientId, TorrentSession session, HashSet<string> originKeys, Torrent torrent, CancellationToken ct)
    {
        var st = session.GetStats();
        _reporter.Progress(st, _state);
        var report = new ClientReport
        {
            Hostname = _options.Hostname,
            State = _state,
            Target = _options.Target,
            Progress = st.Progress,
            BytesHave = st.BytesHave,
            TotalBytes = st.TotalBytes,
            DownloadRate = st.DownloadRate,
            UploadRate = st.UploadRate,
            Downloaded = st.PayloadDownloaded,
            Uploaded = st.PayloadUploaded,
            FromOrigin = st.DownloadedFrom.Where(kv => originKeys.Contains(kv.Key)).Sum(kv => kv.Value),
            Peers = st.Peers,
            Error = _error ?? st.Error,
            InfoHash = torrent.InfoHash.ToHex(),
            Endpoint = session.LocalEndPoint?.ToString(),
        };
        return await PostReportAsync(clientId, report, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Posts one status report with the client's token; null when the server is away (the deployment goes on, reports
    /// resume when it is back). A report refused for its token (a restarted server has a new token key) enrols again,
    /// at most every 30 s, and is sent once more.
    /// </summary>
    private async Task<ReportReply?> PostReportAsync(string clientId, ClientReport report, CancellationToken ct)
    {
        try
        {
            using var resp = await SendReportAsync(clientId, report, ct).ConfigureAwait(false);
            if (resp.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
                && _options.Time.GetElapsedTime(_lastEnrolAttempt) >= TimeSpan.FromSeconds(30))
            {
                string why = await ErrorOf(resp, ct).ConfigureAwait(false);
                ClientLog.ReportUnauthorized(_log, _options.Server, clientId, why);
                if (await EnrolAsync(clientId, ct).ConfigureAwait(false))
                {
                    using var again = await SendReportAsync(clientId, report, ct).ConfigureAwait(false);
                    return await ReplyOf(again, ct).ConfigureAwait(false);
                }
            }
            return await ReplyOf(resp, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException && !ct.IsCancellationRequested)
        {
            ReportFailed(ex.Message);
            return null;
        }
    }

    private async Task<HttpResponseMessage> SendReportAsync(string clientId, ClientReport report, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_options.Server, $"/api/clients/{Uri.EscapeDataString(clientId)}/status"))
        {
            Content = JsonContent.Create(report, DeployJson.Default.ClientReport),
        };
        if (_clientToken is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _clientToken);
        return await _http.SendAsync(request, ct).ConfigureAwait(false);
    }

    private async Task<ReportReply?> ReplyOf(HttpResponseMessage resp, CancellationToken ct)
    {
        if (!resp.IsSuccessStatusCode)
        {
            ReportFailed($"HTTP {(int)resp.StatusCode} {resp.ReasonPhrase}");
            return null;
        }
        var reply = await resp.Content.ReadFromJsonAsync(DeployJson.Default.ReportReply, ct).ConfigureAwait(false);
        if (_reportsFailing)
        {
            _reportsFailing = false;
            ClientLog.ReportRecovered(_log, _options.Server);
        }
        return reply;
    }

    /// <summary>Reports go every 1.5 s: a server that is away is logged once when it goes and once when it is back.</summary>
    private void ReportFailed(string error)
    {
        if (_reportsFailing) return;
        _reportsFailing = true;
        ClientLog.ReportFailed(_log, _options.Server, error);
    }

    private async Task TryReportAsync(string clientId, TorrentSession? session, Torrent torrent, CancellationToken ct, HashSet<string>? originKeys = null)
    {
        if (session != null)
        {
            await ReportAsync(clientId, session, originKeys ?? [], torrent, ct).ConfigureAwait(false);
            return;
        }
        var report = new ClientReport { Hostname = _options.Hostname, State = _state, Target = _options.Target, Error = _error, InfoHash = torrent.InfoHash.ToHex(), TotalBytes = torrent.TotalLength };
        await PostReportAsync(clientId, report, ct).ConfigureAwait(false);
    }

    /// <summary>A stable id per machine and target: hostname plus a short hash of the target path.</summary>
    public static string DefaultClientId(string hostname, string target) =>
        $"{hostname}-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(target))))[..8]}";

    private static string DefaultResumePath(TargetInfo target, Torrent torrent)
    {
        if (!target.IsBlockDevice) return ResumeFile.DefaultPathFor(target.ResolvedPath);
        // /dev is not persistent; keep device resume state on the live system's disk.
        var dir = Path.Combine(Path.GetTempPath(), "blockswarm");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, $"{target.DeviceName}-{torrent.InfoHash.ToHex()[..16]}{ResumeFile.Extension}");
    }

    private sealed class JobChangedException(string message) : Exception(message);
}
