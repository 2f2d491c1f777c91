using BlockSwarm.Engine.Hosting;

namespace BlockSwarm.Engine.Session;

// Pause and resume (libtorrent's torrent_handle::pause/resume, which the EZIO daemon's API exposes): the torrent stays in
// its engine with its verified pieces, storage, counters and known addresses, but has no peers while paused.
public sealed partial class TorrentSession
{
    // Guards the announcer's swap between Start, PauseAsync, Resume and StopAsync (each may run on another thread).
    private readonly Lock _pauseGate = new();
    private int _paused;

    /// <summary>True between <see cref="PauseAsync"/> and <see cref="Resume"/>: no peers, no dials, no announces.</summary>
    public bool IsPaused => Volatile.Read(ref _paused) == 1;

    /// <summary>
    /// Pauses the torrent: its trackers are told <c>stopped</c>, every peer is closed and its task awaited; until
    /// <see cref="Resume"/>, incoming connections for it are refused (after the handshake, logged as <c>paused</c>) and
    /// nothing is dialed. Verified pieces, pieces still being written, the storage and the counters stay; a download
    /// picks up where it was. Pausing a paused torrent does nothing.
    /// </summary>
    public async ValueTask PauseAsync()
    {
        TrackerAnnouncer? announcer;
        lock (_pauseGate)
        {
            if (_paused == 1) return;
            Volatile.Write(ref _paused, 1);
            announcer = _announcer;
            _announcer = null;
        }
        EngineLog.Paused(_log, Name, Peers.Count);
        // Peers first: the tracker's "stopped" may take seconds to deliver and must not keep data flowing meanwhile.
        foreach (var p in Peers.All) p.Connection.Close();
        await _engine.Connections.WaitAsync(this).ConfigureAwait(false);
        if (announcer != null) await announcer.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Resumes a paused torrent: announces to its trackers again (<c>started</c>) and dials its known addresses as
    /// their backoff allows (the next housekeeping tick). Resuming a running or removed torrent does nothing.
    /// </summary>
    public void Resume()
    {
        lock (_pauseGate)
        {
            if (_paused == 0) return;
            Volatile.Write(ref _paused, 0);
            if (!IsAccepting) return;
            _announcer = StartAnnouncer();
        }
        EngineLog.Resumed(_log, Name);
    }

    /// <summary>The running announcer, taken out so that exactly one caller disposes it.</summary>
    private TrackerAnnouncer? TakeAnnouncer()
    {
        lock (_pauseGate)
        {
            var announcer = _announcer;
            _announcer = null;
            return announcer;
        }
    }
}
