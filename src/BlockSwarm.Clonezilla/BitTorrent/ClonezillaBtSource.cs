using System.Collections.Immutable;
using System.Diagnostics;
using BlockSwarm.Clonezilla.Partclone;
using BlockSwarm.Devices;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Clonezilla.BitTorrent;

/// <summary>
/// One partition's partclone image opened for its Clonezilla-compatible torrent: the header and bitmap are read (so
/// the used bytes and the slices are known before hashing starts), then <see cref="CreateTorrent"/> decompresses the
/// used data once, verifying every partclone checksum, and hashes it in 16 MiB pieces on several cores.
/// </summary>
public sealed class ClonezillaBtSource : IDisposable
{
    private readonly PartcloneImageReader _reader;
    private bool _used;

    private ClonezillaBtSource(string partition, PartcloneImageReader reader)
    {
        Partition = partition;
        Name = ClonezillaBtTorrents.TorrentName(partition);
        _reader = reader;
        Slices = ClonezillaBtSlices.Cut(reader.UsedExtents, reader.BlockSize);
    }

    /// <summary>The partition as named (<c>sda1</c>).</summary>
    public string Partition { get; }

    /// <summary>The torrent's name (<see cref="ClonezillaBtTorrents.TorrentName"/>).</summary>
    public string Name { get; }

    public int BlockSize => _reader.BlockSize;

    public long UsedBytes => _reader.UsedBytes;

    /// <summary>The torrent's files: the slices partclone <c>-r -T</c> would write, offsets from the partition start.</summary>
    public ImmutableArray<Extent> Slices { get; }

    /// <summary>Opens the image of a listed partition (<see cref="ClonezillaBtImage.List"/>); refuses a skipped one.</summary>
    public static ClonezillaBtSource Open(ClonezillaBtPartition partition)
    {
        ArgumentNullException.ThrowIfNull(partition);
        if (partition.Image is null)
            throw new ArgumentException($"{partition.Partition}: no torrent is made of it ({partition.Skipped})", nameof(partition));
        return Open(partition.Image.Files[0], partition.Partition);
    }

    /// <summary>
    /// Opens the image at <paramref name="imageFile"/> (<c>sda1.ext4-ptcl-img.zst</c> or the first of its split files)
    /// and reads its header and bitmap. An image with no used block is refused: partclone writes no slice of it and
    /// gen-torrent-from-ptcl makes no torrent.
    /// </summary>
    public static ClonezillaBtSource Open(string imageFile, string partition)
    {
        ArgumentNullException.ThrowIfNull(imageFile);
        ArgumentException.ThrowIfNullOrEmpty(partition);
        var reader = PartcloneImageReader.Open(imageFile);
        try
        {
            if (reader.UsedBlocks == 0)
                throw new ClonezillaFormatException($"{reader.Name}: the image has no used blocks, so partclone writes no slice and gen-torrent-from-ptcl has nothing to make a torrent of");
            return new ClonezillaBtSource(partition, reader);
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Hashes the used data and builds the torrent (once per source). <paramref name="progress"/> receives bytes hashed.
    /// Corruption (a decoder error, a checksum mismatch, truncation, trailing data) is a
    /// <see cref="ClonezillaFormatException"/> naming the image and the offset.
    /// </summary>
    public ClonezillaBtTorrent CreateTorrent(ClonezillaBtOptions options, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (_used) throw new InvalidOperationException($"{_reader.Name}: the torrent was already made from this source");
        _used = true;
        var started = Stopwatch.GetTimestamp();
        int threads = options.HashThreads > 0 ? options.HashThreads : Math.Clamp(Environment.ProcessorCount, 1, 4);
        var hashes = SequentialPieceHasher.Hash(_reader.UsedBytes, ClonezillaBtTorrents.PieceLength, destination => _reader.Read(destination.Span),
            threads, progress, cancellationToken: cancellationToken);
        // Reading past the last used block checks the stream ends there (trailing data would be corruption).
        if (_reader.Read(stackalloc byte[1]) != 0)
            throw new ClonezillaFormatException($"{_reader.Name}: data after the last used block");
        var torrent = TorrentCreator.FromHashes(Slices, hashes, ClonezillaBtTorrents.PieceLength, new CreateOptions
        {
            Name = Name,
            PieceLength = ClonezillaBtTorrents.PieceLength,
            Trackers = options.Trackers,
            CreatedBy = options.CreatedBy,
            CreationDate = options.CreationDate,
        });
        return new ClonezillaBtTorrent(Partition, torrent, BlockSize, UsedBytes, Slices.Length, Stopwatch.GetElapsedTime(started));
    }

    public void Dispose() => _reader.Dispose();
}
