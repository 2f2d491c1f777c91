using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Ezio;

/// <summary>
/// One torrent added through the API, from AddTorrent to shutdown: first checking its save path (no engine session yet),
/// then running in the engine. Keeps what the engine does not: the pause the API asked for, libtorrent-style active,
/// finished and seeding times, when payload last moved, and the error that stopped it. One lock guards all of it;
/// the session's own pause and resume are called under it, so the API's order is the engine's.
/// </summary>
internal sealed class DaemonTorrent
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly ActivityClock _active;
    private readonly ActivityClock _finished;
    private TorrentSession? _session;
    private bool _paused;
    private bool _complete;
    private string? _error;
    private long _checkedBytes;
    private long _uploadTotal, _downloadTotal;
    private long _lastUploadAt = -1, _lastDownloadAt = -1;

    public DaemonTorrent(long sequence, Torrent torrent, string savePath, MappedPieceStorage storage, bool seedingMode, string? resumePath, TimeProvider time)
    {
        Sequence = sequence;
        Torrent = torrent;
        SavePath = savePath;
        Storage = storage;
        SeedingMode = seedingMode;
        ResumePath = resumePath;
        Hash = torrent.InfoHash.ToHex();
        _time = time;
        _active = new ActivityClock(time);
        _finished = new ActivityClock(time);
        _active.Start();
    }

    /// <summary>Order of addition: status lists torrents in it, as EZIO lists them.</summary>
    public long Sequence { get; }
    public Torrent Torrent { get; }
    public string Hash { get; }
    public string SavePath { get; }
    public MappedPieceStorage Storage { get; }
    public bool SeedingMode { get; }

    /// <summary>Where checkpoints go (null for a source that is only read).</summary>
    public string? ResumePath { get; }

    /// <summary>The check of the save path and the engine add that follows it.</summary>
    public Task Startup { get; set; } = Task.CompletedTask;

    /// <summary>The engine's session, once the check is done.</summary>
    public TorrentSession? Session
    {
        get { lock (_gate) return _session; }
    }

    /// <summary>The state last logged (the daemon logs each change once).</summary>
    public TorrentState LoggedState { get; set; } = TorrentState.CheckingFiles;

    /// <summary>Bytes of the save path hashed so far while checking (from the hashing workers).</summary>
    public void OnChecked(long bytes) => Interlocked.Add(ref _checkedBytes, bytes);

    /// <summary>The check is done and the engine runs the torrent: pause it at once if the API asked while it was checking.</summary>
    public async ValueTask AttachAsync(TorrentSession session)
    {
        ValueTask pausing = default;
        lock (_gate)
        {
            _session = session;
            if (_paused) pausing = session.PauseAsync();
        }
        await pausing.ConfigureAwait(false);
        _ = session.Completion.ContinueWith(OnCompletion, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void OnCompletion(Task completion)
    {
        lock (_gate)
        {
            if (completion.IsCompletedSuccessfully)
            {
                _complete = true;
                if (!_paused && _error is null) _finished.Start();
            }
            else if (completion.IsFaulted)
            {
                StopWithError(completion.Exception!.InnerException?.Message ?? completion.Exception.Message);
            }
        }
    }

    /// <summary>The torrent stopped on an error (the check failed, or the storage did): reported as paused, as libtorrent does.</summary>
    public void Fail(string error)
    {
        lock (_gate) StopWithError(error);
    }

    private void StopWithError(string error)
    {
        _error ??= error;
        _active.Stop();
        _finished.Stop();
    }

    public string? Error
    {
        get { lock (_gate) return _error; }
    }

    /// <summary>Pauses (true) or resumes (false) as the API asked; false when it already was so.</summary>
    public async ValueTask<bool> SetPausedAsync(bool paused)
    {
        ValueTask pausing = default;
        lock (_gate)
        {
            if (_paused == paused) return false;
            _paused = paused;
            if (paused)
            {
                _active.Stop();
                _finished.Stop();
                if (_session is { } s) pausing = s.PauseAsync();
            }
            else
            {
                if (_error is null)
                {
                    _active.Start();
                    if (_complete) _finished.Start();
                }
                _session?.Resume();
            }
        }
        await pausing.ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// The status now, in EZIO's terms. Also samples the payload totals, which is how <c>last_upload</c> and
    /// <c>last_download</c> are known: the daemon calls this every second, so they are exact to about a second.
    /// </summary>
    public TorrentStatus Snapshot()
    {
        lock (_gate)
        {
            long now = _time.GetTimestamp();
            long total = Torrent.TotalLength;
            if (_session is not { } session)
            {
                long checkedBytes = Math.Min(total, Interlocked.Read(ref _checkedBytes));
                return Status(TorrentState.CheckingFiles, total == 0 ? 1 : (double)checkedBytes / total, 0, 0, 0, 0, 0, 0, 0, now);
            }
            var stats = session.GetStats();
            if (stats.PayloadUploaded != _uploadTotal)
            {
                _uploadTotal = stats.PayloadUploaded;
                _lastUploadAt = now;
            }
            if (stats.PayloadDownloaded != _downloadTotal)
            {
                _downloadTotal = stats.PayloadDownloaded;
                _lastDownloadAt = now;
            }
            var state = _complete ? TorrentState.Seeding : TorrentState.Downloading;
            return Status(state, stats.Progress, (long)stats.DownloadRate, (long)stats.UploadRate, stats.Peers, stats.BytesHave, stats.PiecesHave,
                stats.PayloadDownloaded, stats.PayloadUploaded, now);
        }
    }

    private TorrentStatus Status(TorrentState state, double progress, long downRate, long upRate, long peers, long done, long pieces,
        long downloaded, long uploaded, long now) => new()
        {
            Hash = Hash,
            Name = Torrent.Name,
            Progress = progress,
            DownloadRate = downRate,
            UploadRate = upRate,
            ActiveTime = _active.Seconds,
            IsFinished = _complete,
            NumPeers = peers,
            State = state,
            TotalDone = done,
            Total = Torrent.TotalLength,
            NumPieces = pieces,
            FinishedTime = _finished.Seconds,
            SeedingTime = _finished.Seconds,
            TotalPayloadDownload = downloaded,
            TotalPayloadUpload = uploaded,
            IsPaused = _paused || _error is not null,
            SavePath = SavePath,
            LastUpload = SecondsSince(_lastUploadAt, now),
            LastDownload = SecondsSince(_lastDownloadAt, now),
            Error = _error,
        };

    private long SecondsSince(long timestamp, long now) => timestamp < 0 ? -1 : (now - timestamp) / _time.TimestampFrequency;
}
