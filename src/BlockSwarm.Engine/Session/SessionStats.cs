namespace BlockSwarm.Engine.Session;

/// <summary>A snapshot of a session's progress and traffic. Payload = piece data; wire = everything on the socket.</summary>
public sealed record SessionStats
{
    public required int PieceCount { get; init; }
    public required int PiecesHave { get; init; }
    public required long TotalBytes { get; init; }
    public required long BytesHave { get; init; }
    public required long PayloadDownloaded { get; init; }
    public required long PayloadUploaded { get; init; }

    /// <summary>Of <see cref="PayloadUploaded"/>, the bytes sent straight from the device's page cache (sendfile; over a secret swarm, read into the encrypted record).</summary>
    public long PayloadUploadedFromFile { get; init; }
    public required long WireDownloaded { get; init; }
    public required long WireUploaded { get; init; }
    public required double DownloadRate { get; init; }
    public required double UploadRate { get; init; }
    public required int Peers { get; init; }
    public required int Seeds { get; init; }
    public required long HashFailures { get; init; }
    public required int BannedPeers { get; init; }
    public required bool Complete { get; init; }
    public string? Error { get; init; }

    /// <summary>Compressed transfer (<c>bs_zstd</c>); null when compression is off.</summary>
    public CompressionStats? Compression { get; init; }

    /// <summary>Payload bytes received per remote address (origin vs peers).</summary>
    public IReadOnlyDictionary<string, long> DownloadedFrom { get; init; } = new Dictionary<string, long>();

    public double Progress => TotalBytes == 0 ? 1 : (double)BytesHave / TotalBytes;
}

/// <summary>
/// A torrent's <c>bs_zstd</c> traffic: payload bytes that travelled compressed and their bytes on the wire, each way;
/// runs compressed here (CPU spent) and runs sent from the cache (compressed earlier, or received and forwarded as they
/// came).
/// </summary>
public sealed record CompressionStats
{
    public required int Level { get; init; }
    public required long SentPayload { get; init; }
    public required long SentWire { get; init; }
    public required long ReceivedPayload { get; init; }
    public required long ReceivedWire { get; init; }
    public required long RunsCompressed { get; init; }
    public required long RunsFromCache { get; init; }
}
