using BlockSwarm.Metainfo;

namespace BlockSwarm.Clonezilla.BitTorrent;

/// <summary>What goes into a Clonezilla-compatible torrent besides its info dictionary (which these never change).</summary>
public sealed record ClonezillaBtOptions
{
    /// <summary>Announce URLs (ocs-btsrv passes <c>-t http://SERVER:PORT/announce</c>); the first is <c>announce</c>.</summary>
    public IReadOnlyList<string> Trackers { get; init; } = [];

    /// <summary><c>created by</c>: ocs-btsrv passes <c>-c Clonezilla</c>.</summary>
    public string? CreatedBy { get; init; } = "Clonezilla";

    /// <summary><c>creation date</c> (libtorrent writes the time of creation); null leaves it out.</summary>
    public DateTimeOffset? CreationDate { get; init; }

    /// <summary>Threads hashing pieces beside the one decompressing; 0 picks min(cores, 4) (each holds a 16 MiB piece or two).</summary>
    public int HashThreads { get; init; }
}

/// <summary>One partition's torrent and what making it took.</summary>
public sealed record ClonezillaBtTorrent(string Partition, Torrent Torrent, int BlockSize, long UsedBytes, int Slices, TimeSpan Elapsed)
{
    public string TorrentFileName => Torrent.Name + ".torrent";
}

/// <summary>
/// Torrents whose info dictionary is byte for byte the one Clonezilla's BitTorrent mode makes of a partition from an
/// image directory (ocs-gen-bt-slices, then gen-torrent-from-ptcl as ocs-btsrv runs it), so BlockSwarm and EZIO peers
/// share one swarm — without the btzone copy: the partclone image is decompressed once, its checksums verified, and
/// its used data hashed in 16 MiB pieces on several cores. The info dictionary holds exactly <c>files</c> (one per
/// <see cref="ClonezillaBtSlices"/> slice, path = the slice's 32-hex-digit offset), <c>name</c> (the partition),
/// <c>piece length</c> 16777216 and <c>pieces</c>: what libtorrent's v1 create_torrent writes for that file storage.
/// docs/clonezilla-image-format.md §5 gives the rules and where in Clonezilla each comes from.
/// </summary>
public static class ClonezillaBtTorrents
{
    /// <summary>gen-torrent-from-ptcl's <c>fs.set_piece_length(16 * 1024 * 1024)</c>; partclone hashes the same pieces.</summary>
    public const int PieceLength = 16 << 20;

    /// <summary>The torrent's name for a partition: Clonezilla's <c>to_filename</c> (<c>cciss/c0d0p1</c> → <c>cciss-c0d0p1</c>).</summary>
    public static string TorrentName(string partition)
    {
        ArgumentException.ThrowIfNullOrEmpty(partition);
        return PartitionImageFiles.ToFileName(partition);
    }

    /// <summary>The torrent of a listed partition (<see cref="ClonezillaBtImage.List"/>); refuses a skipped one.</summary>
    public static ClonezillaBtTorrent Create(ClonezillaBtPartition partition, ClonezillaBtOptions options, Action<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        using var source = ClonezillaBtSource.Open(partition);
        return source.CreateTorrent(options, progress, cancellationToken);
    }

    /// <summary>
    /// The torrent of the partclone image at <paramref name="imageFile"/> (<c>sda1.ext4-ptcl-img.zst</c> or the first of
    /// its split files, <c>….aa</c>) for partition <paramref name="partition"/>. Any corruption of the image (a decoder
    /// error, a checksum mismatch, truncation) is a <see cref="ClonezillaFormatException"/> naming the file and offset.
    /// </summary>
    public static ClonezillaBtTorrent Create(string imageFile, string partition, ClonezillaBtOptions options, Action<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        using var source = ClonezillaBtSource.Open(imageFile, partition);
        return source.CreateTorrent(options, progress, cancellationToken);
    }
}
