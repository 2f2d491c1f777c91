using BlockSwarm.Deploy.Client;
using BlockSwarm.Devices;
using BlockSwarm.Engine;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Ezio;

// A torrent's way in: its save path checked and opened, its data checked, then handed to the engine.
public sealed partial class EzioDaemon
{
    /// <summary>
    /// Opens the save path: with <c>-F</c> a directory holding <c>name/…</c>; otherwise a disk, partition or image file
    /// holding a block-image torrent's runs at their offsets. A target that will be written passes the deploy target
    /// guard first (not mounted, not swap, not held by LVM/RAID, not the system disk, large enough).
    /// </summary>
    private MappedPieceStorage OpenStorage(Torrent torrent, string savePath, bool seeding)
    {
        var storageOptions = new StorageOptions { Memory = Engine.Memory, WriteMode = _options.WriteMode, LoggerFactory = _options.LoggerFactory };
        if (_options.FileMode)
        {
            if (File.Exists(savePath))
                throw new DaemonException(DaemonError.FailedPrecondition, $"save_path {savePath} is a file; with -F the save path is a directory that holds {torrent.Name}/");
            if (!Directory.Exists(savePath))
                throw new DaemonException(DaemonError.NotFound, $"save_path {savePath} does not exist (with -F, a directory that holds {torrent.Name}/)");
            return Open(() => FileStorage.Open(savePath, torrent, storageOptions, writable: !seeding), savePath, seeding);
        }
        if (!BlockImageLayout.IsBlockImage(torrent))
            throw new DaemonException(DaemonError.InvalidArgument,
                $"{torrent.Name} is not a block-image torrent (its files are not named by 32-hex-digit disk offsets), so it has no place on a raw disk; start the daemon with -F to keep plain files in directories");
        if (Directory.Exists(savePath))
            throw new DaemonException(DaemonError.FailedPrecondition, $"save_path {savePath} is a directory; without -F the save path is a disk or partition (or an image file)");
        if (!File.Exists(savePath))
            throw new DaemonException(DaemonError.NotFound, $"save_path {savePath} does not exist (a disk or partition, e.g. /dev/sda1, or an image file)");
        if (!seeding)
        {
            try
            {
                // An image file is allowed as EZIO allows it (it opens whatever the path is); a block device gets every check.
                _options.Guard.Check(savePath, BlockImageLayout.Create(torrent).RequiredDeviceSize, allowFile: true);
            }
            catch (TargetRefusedException ex)
            {
                throw new DaemonException(DaemonError.FailedPrecondition, ex.Message, ex);
            }
        }
        return Open(() => DeviceStorage.Open(savePath, torrent, storageOptions, writable: !seeding), savePath, seeding);
    }

    private static MappedPieceStorage Open(Func<MappedPieceStorage> open, string savePath, bool seeding)
    {
        try
        {
            return open();
        }
        catch (Exception ex) when (ex is IOException or StorageException or UnauthorizedAccessException or ArgumentException)
        {
            var error = ex is FileNotFoundException or DirectoryNotFoundException ? DaemonError.NotFound : DaemonError.FailedPrecondition;
            throw new DaemonException(error, $"cannot open {savePath} {(seeding ? "to seed from" : "to write")}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Where a download's checkpoints go: with <c>-F</c> inside its save path, else in <see cref="EzioOptions.ResumeDirectory"/>
    /// (a disk has no place of its own for one), named by the info-hash so torrents never share one.
    /// </summary>
    private string ResumePathFor(Torrent torrent, string savePath) =>
        Path.Combine(_options.FileMode ? savePath : _options.ResumeDirectory ?? Path.GetTempPath(), $".{torrent.InfoHash.ToHex()}.blockswarm-resume");

    /// <summary>Checks the torrent's data (or spot-checks a seeding_mode source), then adds it to the engine.</summary>
    private async Task StartTorrentAsync(DaemonTorrent t, TorrentOptions torrentOptions, CancellationToken ct)
    {
        try
        {
            var have = t.SeedingMode ? TrustSource(t, ct) : Check(t, ct);
            TorrentSession session;
            lock (_gate)
            {
                // A shutdown cancels the token before it stops the engine: past this check the engine is still running.
                ct.ThrowIfCancellationRequested();
                session = Engine.Add(t.Torrent, t.Storage, have, torrentOptions);
            }
            await t.AttachAsync(session).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Whatever stopped it (a read error while checking, a storage fault, a bug), the torrent reports it, the
            // daemon goes on with the others, and shutdown still finds a completed task to await.
            t.Fail(ex.Message);
            EzioLog.TorrentError(_log, t.Torrent.Name, ex.Message);
        }
    }

    /// <summary>EZIO marks every piece of a seeding_mode source verified; a spot check first, a full hash when it fails.</summary>
    private Bitfield TrustSource(DaemonTorrent t, CancellationToken ct)
    {
        int bad = SourceSpotCheck.FirstMismatch(t.Storage, t.Torrent, SpotCheckPieces, ct);
        if (bad < 0)
        {
            t.OnChecked(t.Torrent.TotalLength);
            var trusted = PieceRecovery.TrustSeed(t.Storage).Pieces;
            EzioLog.Checked(_log, t.Torrent.Name, t.SavePath, $"seeding mode: {SpotCheckPieces} spread pieces match, every piece trusted");
            return trusted;
        }
        EzioLog.SpotCheckFailed(_log, t.Torrent.Name, t.SavePath, bad);
        var have = PieceRecovery.Rehash(t.Storage, t.Torrent, _hashThreads, t.OnChecked, ct);
        t.Storage.MarkDurable(have);
        EzioLog.Checked(_log, t.Torrent.Name, t.SavePath, $"seeding mode: {have.Count} of {have.Length} pieces match; seeding those");
        return have;
    }

    /// <summary>
    /// What a download target already holds: a matching resume file (spot-checked), else a sample of pieces and, when
    /// one of them is there, a full hash (as libtorrent's checking_files does); a blank or foreign disk starts at once.
    /// </summary>
    private Bitfield Check(DaemonTorrent t, CancellationToken ct)
    {
        var result = PieceRecovery.Recover(t.Storage, t.Torrent, t.ResumePath!,
            new RecoveryOptions { Progress = t.OnChecked, Parallelism = _hashThreads }, ct);
        EzioLog.Checked(_log, t.Torrent.Name, t.SavePath, result.Reason);
        return result.Pieces;
    }

    /// <summary>Once a second: samples every torrent (last upload/download times), logs state changes, and every few seconds each active torrent's status line.</summary>
    private async Task HousekeepingAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), _options.Time);
        long lastStatusLine = _options.Time.GetTimestamp();
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                bool statusDue = _options.Time.GetElapsedTime(lastStatusLine) >= _options.StatusLogInterval;
                if (statusDue) lastStatusLine = _options.Time.GetTimestamp();
                foreach (var t in _torrents.Values)
                {
                    var s = t.Snapshot();
                    if (s.State != t.LoggedState)
                    {
                        EzioLog.StateChanged(_log, s.Name, StateName(t.LoggedState), StateName(s.State));
                        t.LoggedState = s.State;
                    }
                    // EZIO logs every torrent every 5 s; idle ones (finished, nothing moving) stay quiet here.
                    if (statusDue && (s.DownloadRate > 0 || s.UploadRate > 0 || s.State == TorrentState.CheckingFiles))
                        EzioLog.Status(_log, s.SavePath, (int)(s.Progress * 100), s.DownloadRate / 1048576.0, s.UploadRate / 1048576.0,
                            s.IsPaused ? "P" : " ", s.IsFinished ? "F" : " ", s.ActiveTime, s.FinishedTime, s.SeedingTime, s.NumPeers);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>libtorrent's names for its state numbers, as Clonezilla's tools print them.</summary>
    internal static string StateName(TorrentState state) => state switch
    {
        TorrentState.CheckingFiles => "checking_files",
        TorrentState.DownloadingMetadata => "downloading_metadata",
        TorrentState.Downloading => "downloading",
        TorrentState.Finished => "finished",
        TorrentState.Seeding => "seeding",
        TorrentState.CheckingResumeData => "checking_resume_data",
        _ => state.ToString(),
    };

    /// <summary>
    /// Shutdown (the API's, a signal's, or dispose): refuses new requests, cancels checks still running, stops the engine
    /// (trackers told <c>stopped</c>, peers closed), then flushes and fsyncs every target and writes its resume file.
    /// Every caller gets the same task; it faults with a <see cref="StorageException"/> when a target could not be flushed.
    /// </summary>
    public Task ShutdownAsync(string source = "api")
    {
        lock (_gate)
        {
            if (_shutdown != null) return _shutdown;
            EzioLog.ShutdownRequested(_log, source, _torrents.Count);
            // Under the lock: no startup adds to the engine once the token is cancelled.
            _stop.Cancel();
            _shutdown = Task.Run(ShutdownCoreAsync);
            return _shutdown;
        }
    }

    private async Task ShutdownCoreAsync()
    {
        try
        {
            var torrents = _torrents.Values.ToList();
            await Task.WhenAll(torrents.Select(t => t.Startup)).ConfigureAwait(false);
            if (_housekeeping != null) await _housekeeping.ConfigureAwait(false);
            await Engine.DisposeAsync().ConfigureAwait(false);
            var errors = new List<string>();
            int flushed = 0;
            foreach (var t in torrents)
            {
                try
                {
                    if (t.Storage.IsWritable)
                    {
                        // Drains the queued writes, fsyncs, then records exactly the pieces now durable.
                        await ResumeFile.CheckpointAsync(t.Storage, t.ResumePath!, t.Torrent).ConfigureAwait(false);
                        flushed++;
                    }
                    await t.Storage.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is StorageException or IOException or UnauthorizedAccessException)
                {
                    EzioLog.FlushFailed(_log, t.SavePath, ex.Message);
                    errors.Add($"{t.SavePath}: {ex.Message}");
                }
            }
            if (errors.Count > 0) throw new StorageException($"shutdown: {errors.Count} target(s) could not be flushed: {string.Join("; ", errors)}");
            EzioLog.ShutdownComplete(_log, flushed);
            _stopped.TrySetResult();
        }
        catch (Exception ex)
        {
            _stopped.TrySetException(ex);
            throw;
        }
    }
}
