using System.Diagnostics;
using BlockSwarm.Imaging;
using BlockSwarm.Devices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Metainfo;

/// <summary>What <see cref="TorrentCreator"/> needs besides the source and its map.</summary>
public sealed record CreateOptions
{
    public required string Name { get; init; }

    /// <summary>Piece length; 0 chooses <see cref="PieceSizing.Auto"/>.</summary>
    public int PieceLength { get; init; }

    public IReadOnlyList<string> Trackers { get; init; } = [];
    public string? CreatedBy { get; init; } = "BlockSwarm";
    public DateTimeOffset? CreationDate { get; init; }
    public string? Comment { get; init; }
    public bool IsPrivate { get; init; }

    /// <summary>Where the map's offset 0 lies on the source (a partition's start when making a per-partition torrent).</summary>
    public long SourceOffset { get; init; }

    /// <summary>Piece hashes computed elsewhere (partclone's) to compare ours against; null skips the check.</summary>
    public IReadOnlyList<byte[]>? ExpectedPieceHashes { get; init; }

    /// <summary>Where the torrent made (name, info-hash, pieces, hashing time) is logged.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
}

/// <summary>Turns a source device and its used-block map into a block-image torrent.</summary>
public static class TorrentCreator
{
    public static Torrent Create(DeviceFile source, BlockMap map, CreateOptions options, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(options);
        if (map.UsedBytes == 0) throw new TorrentException($"{source.Path}: the map has no used bytes; nothing to deploy");
        if (options.SourceOffset < 0 || map.Extents[^1].End > source.Size - options.SourceOffset)
            throw new TorrentException($"{source.Path}: the map needs {map.Extents[^1].End} bytes from byte {options.SourceOffset} but the source has {source.Size}");
        int pieceLength = options.PieceLength == 0 ? PieceSizing.Auto(map.UsedBytes) : options.PieceLength;
        var log = options.LoggerFactory.CreateLogger(typeof(TorrentCreator).FullName!);
        var started = Stopwatch.GetTimestamp();
        MetainfoLog.Hashing(log, source.Path, map.UsedBytes, pieceLength);
        // File names are volume-relative offsets; reads happen at the volume's place on the source.
        var stream = new ExtentStream(options.SourceOffset == 0 ? map.Extents : map.Shift(options.SourceOffset, source.Size).Extents);
        var hasher = new PieceHasher(source, stream, pieceLength);
        var hashes = hasher.HashAll(progress, cancellationToken);
        if (options.ExpectedPieceHashes is { Count: > 0 } expected && pieceLength == PartcloneTorrentInfo.PartclonePieceLength)
        {
            for (int i = 0; i < Math.Min(expected.Count, hasher.PieceCount); i++)
            {
                if (!expected[i].AsSpan().SequenceEqual(hashes.AsSpan(i * 20, 20)))
                    throw new TorrentException(
                        $"piece {i}: the source's SHA-1 {Convert.ToHexStringLower(hashes.AsSpan(i * 20, 20))} differs from partclone's {Convert.ToHexStringLower(expected[i])}: the source changed since torrent.info was written, or it is not the same partition");
            }
            int matched = Math.Min(expected.Count, hasher.PieceCount);
            MetainfoLog.PartcloneHashesMatch(log, source.Path, matched);
        }
        var torrent = FromHashes(map.Extents, hashes, pieceLength, options);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        MetainfoLog.Created(log, torrent.Name, torrent.InfoHash, source.Path, torrent.PieceCount, pieceLength, map.UsedBytes, seconds);
        return torrent;
    }

    /// <summary>
    /// The block-image torrent of <paramref name="extents"/> (one file per extent, named by its 32-hex offset) whose
    /// piece hashes were computed elsewhere (<see cref="SequentialPieceHasher"/> over a decompressed image).
    /// </summary>
    public static Torrent FromHashes(IReadOnlyList<Extent> extents, byte[] pieceHashes, int pieceLength, CreateOptions options)
    {
        ArgumentNullException.ThrowIfNull(extents);
        ArgumentNullException.ThrowIfNull(pieceHashes);
        ArgumentNullException.ThrowIfNull(options);
        var builder = new TorrentBuilder(options.Name, pieceLength)
        {
            PieceHashes = pieceHashes,
            CreatedBy = options.CreatedBy,
            CreationDate = options.CreationDate,
            Comment = options.Comment,
            IsPrivate = options.IsPrivate,
        };
        foreach (var t in options.Trackers) builder.Trackers.Add([t]);
        foreach (var e in extents) builder.AddFile([BlockImageLayout.FormatHexOffset(e.Offset)], e.Length);
        return builder.Build();
    }

    /// <summary>Writes bytes to <paramref name="path"/> through a temporary file and a rename, so no half-written torrent is ever left.</summary>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full) ?? ".";
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }
}
