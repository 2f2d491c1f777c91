using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Deploy.Server;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;
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

    /// <summary>Exchange peer lists with peers (BEP 11); on by default.</summary>
    public bool Pex { get; init; } = true;

    /// <summary>Local Service Discovery on the LAN multicast group (BEP 14); off by default.</summary>
    public bool Lsd { get; init; }

    /// <summary>Re-read and re-hash the whole target after the final fsync.</summary>
    public bool VerifyAfter { get; init; }


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
    public const int Interrupted = 130;
}

/// <summary>
/// One machine being imaged: fetch the job, check the target before writing a byte, download
/// through the engine, fsync, report to the server, keep seeding as its policy says.
/// </summary>
public sealed class DeployClient(DeployOptions options, IDeployReporter reporter, HttpClient? http = null)
{
    private readonly HttpClient _http = http ?? new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
    private readonly ILogger _log = options.LoggerFactory.CreateLogger<DeployClient>();
    private string _state = "checking";
    private string? _error;
    private bool _reportsFailing;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var o = options;
        JobInfo? job = await FetchJobAsync(cancellationToken).ConfigureAwait(false);
        if (job is null) return DeployExitCodes.ServerUnreachable;
        ClientLog.JobFetched(_log, job.JobId, o.Server, job.Name, job.InfoHash, job.TotalBytes, job.PieceCount, job.RequiredTargetSize, job.Policy);
        reporter.Event("job", $"job {job.Name} ({job.InfoHash}), {job.TotalBytes} bytes in {job.PieceCount} pieces; needs a target of at least {job.RequiredTargetSize} bytes",
            new Dictionary<string, object?> { ["infoHash"] = job.InfoHash, ["totalBytes"] = job.TotalBytes });

        Torrent torrent;
        try
        {
            var bytes = await _http.GetByteArrayAsync(new Uri(o.Server, job.TorrentUrl), cancellationToken).ConfigureAwait(false);
            torrent = Torrent.Parse(bytes);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            ClientLog.TorrentUnavailable(_log, o.Server, ex.Message);
            reporter.Event("error", $"cannot download the torrent from {o.Server}: {ex.Message}");
            return DeployExitCodes.ServerUnreachable;
        }
        catch (TorrentException ex)
        {
            ClientLog.TorrentUnavailable(_log, o.Server, $"the server's torrent is invalid: {ex.Message}");
            reporter.Event("error", $"the server's torrent is invalid: {ex.Message}");
            return DeployExitCodes.Error;
        }
        if (torrent.InfoHash.ToHex() != job.InfoHash)
        {
            ClientLog.JobChangedWhileFetching(_log, o.Server, torrent.InfoHash.ToHex(), job.InfoHash);
            reporter.Event("error", $"the job changed while it was being fetched (info-hash {torrent.InfoHash.ToHex()} ≠ {job.InfoHash}); run deploy again");
            return DeployExitCodes.Error;
        }

        string clientId = o.ClientId ?? DefaultClientId(o.Hostname, o.Target);
        TargetInfo target;
        try
        {
            var guard = new TargetGuard();
            if (o.Target == TargetGuard.Auto)
            {
                options = o = o with { Target = guard.FindInternalDisk() };
                ClientLog.TargetChosen(_log, o.Target);
            }
            target = guard.Check(o.Target, job.RequiredTargetSize, o.AllowFile);
        }
        catch (TargetRefusedException ex)
        {
            _state = "refused";
            _error = ex.Message;
            ClientLog.TargetRefused(_log, o.Target, ex.Message);
            reporter.Event("refused", ex.Message);
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
                reporter.Event("refused", _error);
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
            reporter.Event("error", ex.Message);
            return DeployExitCodes.Error;
        }
        await using (storage.ConfigureAwait(false))
        {
            string resume = o.ResumePath ?? DefaultResumePath(target, torrent);
            _state = "checking";
            var recovered = await Task.Run(() => PieceRecovery.Recover(storage, torrent, resume, new RecoveryOptions(), cancellationToken), cancellationToken).ConfigureAwait(false);
            ClientLog.Recovered(_log, o.Target, recovered.Pieces.Count, torrent.PieceCount, recovered.Reason);
            reporter.Event("recovered", recovered.Reason, new Dictionary<string, object?> { ["pieces"] = recovered.Pieces.Count });

            var serverAddresses = await ResolveServerAsync(cancellationToken).ConfigureAwait(false);
            await using var engine = new TorrentEngine(new EngineOptions
            {
                Listen = [o.Listen],
                LocalAddress = o.Listen.Address.Equals(IPAddress.Any) ? null : o.Listen.Address,
                Memory = memory,
                CompressionLevel = o.CompressionLevel ?? job.CompressionLevel ?? EngineOptions.DefaultCompressionLevel,
                Time = o.Time,
                LoggerFactory = o.LoggerFactory,
                // On one host (demo, tests) clients share an HTTP source address; the engine tells the tracker which address we listen on.
                Discovery = new DiscoveryOptions { Pex = o.Pex, Lsd = o.Lsd, Http = _http },
            });
            engine.Start();
            var session = engine.Add(torrent, storage, recovered.Pieces, new TorrentOptions
            {
                ResumePath = resume,
                MaxConnections = o.MaxPeers,
                Peers = [.. serverAddresses.Select(a => new IPEndPoint(a, job.OriginPort))],
                Trackers = [[new Uri(o.Server, job.AnnounceUrl)]],
            });
            var originKeys = serverAddresses.Select(a => a.ToString()).ToHashSet();

            _state = session.IsComplete ? "seeding" : "downloading";
            ClientLog.DownloadStarted(_log, o.Target, o.Server, session.LocalEndPoint);
            reporter.Event("start", $"downloading into {o.Target} from {o.Server}");
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
                    reporter.Event("verifying", "re-reading the target to verify every piece");
                    var good = await Task.Run(() => PieceRecovery.Rehash(storage, torrent, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
                    if (!good.IsComplete)
                    {
                        _state = "failed";
                        _error = $"{good.Length - good.Count} pieces read back wrong from the target after writing: the device may be failing";
                        ClientLog.VerifyAfterFailed(_log, o.Target, good.Length - good.Count, good.Length);
                        reporter.Event("error", _error);
                        await ReportAsync(clientId, session, originKeys, torrent, cancellationToken).ConfigureAwait(false);
                        return DeployExitCodes.VerifyFailed;
                    }
                    ClientLog.VerifyAfterPassed(_log, o.Target);
                }
                _state = "seeding";
                var st = session.GetStats();
                long fromOrigin = st.DownloadedFrom.Where(kv => originKeys.Contains(kv.Key)).Sum(kv => kv.Value);
                ClientLog.Complete(_log, o.Target, st.PayloadDownloaded, fromOrigin);
                reporter.Event("complete", $"every piece verified and on stable storage ({st.PayloadDownloaded} bytes downloaded)");
                await SeedPerPolicyAsync(job, clientId, session, originKeys, torrent, reply, cancellationToken).ConfigureAwait(false);
                _state = "done";
                await ReportAsync(clientId, session, originKeys, torrent, CancellationToken.None).ConfigureAwait(false);
                ClientLog.Done(_log, o.Target);
                reporter.Event("done", "deployment finished");
                return DeployExitCodes.Ok;
            }
            catch (OperationCanceledException)
            {
                _state = "interrupted";
                ClientLog.Interrupted(_log, session.GetStats().Progress * 100, o.Target);
                await TryReportAsync(clientId, session, torrent, CancellationToken.None, originKeys).ConfigureAwait(false);
                reporter.Event("interrupted", "interrupted; verified pieces are kept and a rerun resumes");
                return DeployExitCodes.Interrupted;
            }
            catch (Exception ex) when (ex is StorageException or JobChangedException)
            {
                _state = "failed";
                _error = ex.Message;
                if (ex is not JobChangedException) ClientLog.Failed(_log, o.Target, ex.Message); // a changed job was logged where it was seen
                reporter.Event("error", ex.Message);
                await TryReportAsync(clientId, session, torrent, CancellationToken.None, originKeys).ConfigureAwait(false);
                return DeployExitCodes.Error;
            }
        }
    }

    private async Task SeedPerPolicyAsync(JobInfo job, string clientId, TorrentSession session, HashSet<string> originKeys, Torrent torrent, ReportReply reply, CancellationToken ct)
    {
        var started = options.Time.GetTimestamp();
        long lastUploaded = session.GetStats().PayloadUploaded;
        var lastUploadAt = options.Time.GetTimestamp();
        while (true)
        {
            reply = await ReportAsync(clientId, session, originKeys, torrent, ct).ConfigureAwait(false) ?? reply;
            var st = session.GetStats();
            if (st.PayloadUploaded != lastUploaded)
            {
                lastUploaded = st.PayloadUploaded;
                lastUploadAt = options.Time.GetTimestamp();
            }
            bool idle = options.Time.GetElapsedTime(lastUploadAt) >= TimeSpan.FromSeconds(job.Policy.IdleSeconds);
            if (!reply.KeepSeeding || job.Policy.Mode == "none" || idle || options.Time.GetElapsedTime(started) >= options.MaxSeeding)
            {
                var reason = reply.AllDone ? "every expected client is done"
                    : idle ? "no peer asked for data for a while"
                    : reply.KeepSeeding && job.Policy.Mode != "none" ? $"--max-seed ({options.MaxSeeding.TotalSeconds:0} s) reached"
                    : "the server's policy says stop";
                var seeded = options.Time.GetElapsedTime(started);
                ClientLog.SeedingStopped(_log, seeded.TotalSeconds, reason, st.PayloadUploaded);
                reporter.Event("seeding-done", reason);
                return;
            }
            await Task.Delay(options.ReportInterval, options.Time, ct).ConfigureAwait(false);
        }
    }

    private async Task<IPAddress[]> ResolveServerAsync(CancellationToken ct)
    {
        if (IPAddress.TryParse(options.Server.Host.Trim('[', ']'), out var ip)) return [ip];
        try
        {
            return await Dns.GetHostAddressesAsync(options.Server.Host, ct).ConfigureAwait(false);
        }
        catch (System.Net.Sockets.SocketException)
        {
            return [];
        }
    }

    private async Task<JobInfo?> FetchJobAsync(CancellationToken ct)
    {
        var delay = TimeSpan.FromSeconds(1);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                var job = await _http.GetFromJsonAsync(new Uri(options.Server, "/api/job"), DeployJson.Default.JobInfo, ct).ConfigureAwait(false);
                if (job != null) return job;
                ClientLog.ServerUnreachable(_log, options.Server, attempt, "the server answered an empty job");
                reporter.Event("error", $"{options.Server}: empty job");
                return null;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException && !ct.IsCancellationRequested)
            {
                if (attempt >= 4)
                {
                    ClientLog.ServerUnreachable(_log, options.Server, attempt, ex.Message);
                    reporter.Event("error", $"server {options.Server} unreachable or not a BlockSwarm server: {ex.Message}");
                    return null;
                }
                ClientLog.ServerRetry(_log, options.Server, attempt, ex.Message, delay.TotalSeconds);
                reporter.Event("retry", $"server {options.Server} not reachable ({ex.Message}); retrying in {delay.TotalSeconds:0} s");
                await Task.Delay(delay, options.Time, ct).ConfigureAwait(false);
                delay *= 2;
            }
        }
    }

    private async Task<ReportReply?> ReportAsync(string clientId, TorrentSession session, HashSet<string> originKeys, Torrent torrent, CancellationToken ct)
    {
        var st = session.GetStats();
        reporter.Progress(st, _state);
        var report = new ClientReport
        {
            Hostname = options.Hostname,
            State = _state,
            Target = options.Target,
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

    /// <summary>Posts one status report; null when the server is away (the deployment goes on, reports resume when it is back).</summary>
    private async Task<ReportReply?> PostReportAsync(string clientId, ClientReport report, CancellationToken ct)
    {
        try
        {
            using var resp = await _http.PostAsJsonAsync(new Uri(options.Server, $"/api/clients/{Uri.EscapeDataString(clientId)}/status"), report, DeployJson.Default.ClientReport, ct).ConfigureAwait(false);
            if (!resp.IsSuccessStatusCode)
            {
                ReportFailed($"HTTP {(int)resp.StatusCode} {resp.ReasonPhrase}");
                return null;
            }
            var reply = await resp.Content.ReadFromJsonAsync(DeployJson.Default.ReportReply, ct).ConfigureAwait(false);
            if (_reportsFailing)
            {
                _reportsFailing = false;
                ClientLog.ReportRecovered(_log, options.Server);
            }
            return reply;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException && !ct.IsCancellationRequested)
        {
            ReportFailed(ex.Message);
            return null;
        }
    }

    /// <summary>Reports go every 1.5 s: a server that is away is logged once when it goes and once when it is back.</summary>
    private void ReportFailed(string error)
    {
        if (_reportsFailing) return;
        _reportsFailing = true;
        ClientLog.ReportFailed(_log, options.Server, error);
    }

    private async Task TryReportAsync(string clientId, TorrentSession? session, Torrent torrent, CancellationToken ct, HashSet<string>? originKeys = null)
    {
        if (session != null)
        {
            await ReportAsync(clientId, session, originKeys ?? [], torrent, ct).ConfigureAwait(false);
            return;
        }
        var report = new ClientReport { Hostname = options.Hostname, State = _state, Target = options.Target, Error = _error, InfoHash = torrent.InfoHash.ToHex(), TotalBytes = torrent.TotalLength };
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
