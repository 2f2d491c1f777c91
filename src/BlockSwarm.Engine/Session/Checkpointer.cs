using System.Diagnostics;
using BlockSwarm.Devices;
using BlockSwarm.Engine.Storage;

namespace BlockSwarm.Engine.Session;

/// <summary>
/// Puts a torrent's progress on stable storage: while downloading, a resume checkpoint (flush, fsync, then the resume
/// file) every <see cref="TorrentOptions.CheckpointInterval"/>; when complete, the final flush that makes the torrent
/// done. A failed flush is a storage error: it stops the torrent.
/// </summary>
internal sealed class Checkpointer(TorrentSession session, TorrentOptions options)
{
    private long _last = session.Time.GetTimestamp();
    private int _finishing;

    /// <summary>Writes a checkpoint when one is due (called from the torrent's once-a-second tick).</summary>
    public async Task TickAsync(CancellationToken ct)
    {
        if (options.ResumePath is not { } path || !session.Storage.IsWritable || session.Swarm.IsComplete
            || session.Time.GetElapsedTime(_last) < options.CheckpointInterval) return;
        _last = session.Time.GetTimestamp();
        try
        {
            long started = Stopwatch.GetTimestamp();
            await ResumeFile.CheckpointAsync(session.Storage, path, session.Torrent, ct).ConfigureAwait(false);
            session.RecordFlush(Stopwatch.GetElapsedTime(started));
        }
        catch (StorageException ex)
        {
            session.Fail(ex);
        }
    }

    /// <summary>The last flush (and checkpoint) once every piece is verified; completes the torrent. Runs once.</summary>
    public async Task FinishAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _finishing, 1) == 1) return;
        try
        {
            long started = Stopwatch.GetTimestamp();
            await session.Storage.FlushAsync(ct).ConfigureAwait(false);
            if (options.ResumePath is { } path && session.Storage.IsWritable)
                await ResumeFile.CheckpointAsync(session.Storage, path, session.Torrent, ct).ConfigureAwait(false);
            session.RecordFlush(Stopwatch.GetElapsedTime(started));
            session.OnStable();
        }
        catch (StorageException ex)
        {
            session.Fail(ex);
        }
        catch (OperationCanceledException)
        {
            session.OnStopped();
        }
    }
}
