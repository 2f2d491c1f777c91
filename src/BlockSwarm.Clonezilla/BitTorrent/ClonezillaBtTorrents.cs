using System.Diagnostics;
using BlockSwarm.Clonezilla.Partclone;
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
        ArgumentNullException.ThrowIfNull(partition);
        if (partition.Image is null)
            throw new ArgumentException($"{partition.Partition}: no torrent is made of it ({partition.Skipped})", nameof(partition));
        return Create(partition.Image.Files[0], partition.Partition, options, progress, cancellationToken);
    }

    /// <summary>
    /// The torrent of the partclone image at <paramref name="imageFile"/> (<c>sda1.ext4-ptcl-img.zst</c> or the first of
    /// its split files, <c>….aa</c>) for partition <paramref name="partition"/>. Any corruption of the image (a decoder
    /// error, a checksum mismatch, truncation) is a <see cref="ClonezillaFormatException"/> naming the file and offset.
    /// </summary>
    public static ClonezillaBtTorrent Create(string imageFile, string partition, ClonezillaBtOptions options, Action<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(imageFile);
        ArgumentNullException.ThrowIfNull(options);
        var name = TorrentName(partition);
        var started = Stopwatch.GetTimestamp();
        using var reader = PartcloneImageReader.Open(imageFile);
        if (reader.UsedBlocks == 0)
            throw new ClonezillaFormatException($"{reader.Name}: the image has no used blocks, so partclone writes no slice and gen-torrent-from-ptcl has nothing to make a torrent of");
        var slices = ClonezillaBtSlices.Cut(reader.UsedExtents, reader.BlockSize);
        int threads = options.HashThreads > 0 ? options.HashThreads : Math.Clamp(Environment.ProcessorCount, 1, 4);
        var hashes = SequentialPieceHasher.Hash(reader.UsedBytes, PieceLength, destination => reader.Read(destination.Span), threads,
            progress, cancellationToken: cancellationToken);
        // Reading past the last used block checks the stream ends there (trailing data would be corruption).
        if (reader.Read(stackalloc byte[1]) != 0)
            throw new ClonezillaFormatException($"{reader.Name}: data after the last used block");
        var torrent = TorrentCreator.FromHashes(slices, hashes, PieceLength, new CreateOptions
        {
            Name = name,
            PieceLength = PieceLength,
            Trackers = options.Trackers,
            CreatedBy = options.CreatedBy,
            CreationDate = options.CreationDate,
        });
        return new ClonezillaBtTorrent(partition, torrent, reader.BlockSize, reader.UsedBytes, slices.Length, Stopwatch.GetElapsedTime(started));
    }
}
