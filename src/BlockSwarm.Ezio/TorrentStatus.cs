namespace BlockSwarm.Ezio;

/// <summary>
/// One torrent's status in the terms of EZIO's API (and libtorrent's <c>torrent_status</c>, whose field names it
/// borrows): bytes, bytes per second and whole seconds.
/// </summary>
public sealed record TorrentStatus
{
    /// <summary>Info-hash, lowercase hex.</summary>
    public required string Hash { get; init; }
    public required string Name { get; init; }

    /// <summary>Verified bytes over total bytes; while checking, the share of the data checked so far.</summary>
    public required double Progress { get; init; }

    /// <summary>Payload bytes per second received (libtorrent's download_payload_rate, which EZIO reports).</summary>
    public required long DownloadRate { get; init; }
    public required long UploadRate { get; init; }

    /// <summary>Seconds the torrent has not been paused since it was added.</summary>
    public required long ActiveTime { get; init; }

    /// <summary>Every piece verified and on stable storage (fsynced), so the target can be used.</summary>
    public required bool IsFinished { get; init; }
    public required long NumPeers { get; init; }
    public required TorrentState State { get; init; }

    /// <summary>Bytes of the pieces verified (at the save path, or on their way there).</summary>
    public required long TotalDone { get; init; }
    public required long Total { get; init; }

    /// <summary>Pieces verified.</summary>
    public required long NumPieces { get; init; }

    /// <summary>Seconds active (not paused) while finished; the same as <see cref="SeedingTime"/>, every piece being wanted.</summary>
    public required long FinishedTime { get; init; }
    public required long SeedingTime { get; init; }
    public required long TotalPayloadDownload { get; init; }
    public required long TotalPayloadUpload { get; init; }

    /// <summary>Paused through the API, or stopped by an error (as libtorrent pauses a torrent that hit one).</summary>
    public required bool IsPaused { get; init; }
    public required string SavePath { get; init; }

    /// <summary>Seconds since payload was last sent; -1 if never.</summary>
    public required long LastUpload { get; init; }

    /// <summary>Seconds since payload was last received; -1 if never.</summary>
    public required long LastDownload { get; init; }

    /// <summary>Why the torrent stopped, if it did (not part of EZIO's API: logged, and shown by our own tools).</summary>
    public string? Error { get; init; }
}
