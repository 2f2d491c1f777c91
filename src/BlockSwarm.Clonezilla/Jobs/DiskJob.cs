using System.Buffers.Binary;
using System.Collections.Immutable;
using BlockSwarm.Clonezilla.Compression;
using BlockSwarm.Clonezilla.Partclone;
using BlockSwarm.Clonezilla.Serving;
using BlockSwarm.Devices;
using BlockSwarm.Metainfo;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Clonezilla.Jobs;

/// <summary>
/// One disk of a Clonezilla image directory as a BlockSwarm job: every byte range Clonezilla's <c>restoredisk</c>
/// writes on that disk — boot areas (MBR, hidden data, GPT, EBRs), the zeros of its wipes, each partition's used blocks
/// from its partclone image, raw dd images, swap signatures — as the extents of a block-image torrent and as a
/// <see cref="VirtualDisk"/> that reads them, decoding the compressed images on demand. Nothing is restored anywhere.
/// </summary>
public sealed class DiskJob : IDisposable
{
    /// <summary>Decoded bytes kept behind each partition stream's cursor (allocated when the partition is first read).</summary>
    public const int DefaultWindowBytes = 32 << 20;

    private DiskJob(ClonezillaDisk disk, VirtualDisk device, ImmutableArray<Extent> extents, IReadOnlyList<DecodedStream> streams, IReadOnlyList<Extent> ntfsBackups)
    {
        NtfsBackupBootSectors = ntfsBackups;
        Disk = disk;
        Device = device;
        Extents = extents;
        Streams = streams;
    }

    public ClonezillaDisk Disk { get; }

    /// <summary>The disk as restoredisk would leave it, over the job's extents.</summary>
    public VirtualDisk Device { get; }

    /// <summary>What the job writes, in disk order, disjoint: the torrent's files (one per extent, named by its offset).</summary>
    public ImmutableArray<Extent> Extents { get; }

    /// <summary>The partitions' decoded streams (restarts and bytes decoded, for logs and tests).</summary>
    public IReadOnlyList<DecodedStream> Streams { get; }

    public long Bytes => Extents.Sum(e => e.Length);

    /// <summary>
    /// Where the job writes NTFS backup boot sectors (disk offsets): bytes restoredisk leaves to <c>ntfsfix -d</c>, so
    /// the only ones where the job differs from a restoredisk target.
    /// </summary>
    public IReadOnlyList<Extent> NtfsBackupBootSectors { get; }

    /// <summary>
    /// Builds the job of <paramref name="disk"/>: reads each partclone image's header and bitmap (the used blocks), checks
    /// every image fits its partition, and lays the regions out. Throws a <see cref="ClonezillaFormatException"/> naming
    /// the file for anything that does not fit.
    /// </summary>
    public static DiskJob Open(ClonezillaDisk disk, int windowBytes = DefaultWindowBytes, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(disk);
        var log = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<DiskJob>();
        var regions = new List<DiskRegion>();
        var extents = new List<Extent>();
        var streams = new List<DecodedStream>();
        var backups = new List<Extent>();
        try
        {
            foreach (var area in disk.BootAreas)
            {
                regions.Add(new DiskRegion(area.DiskOffset, area.Length,
                    area.Source == ClonezillaBootAreaSource.Zeros ? ZeroRegion.Instance : new BytesRegion(area.Read())));
                extents.Add(new Extent(area.DiskOffset, area.Length));
            }
            foreach (var p in disk.Restored)
            {
                var wipes = disk.PartitionWipes.Where(w => w.DiskOffset < p.End && p.Start < w.End)
                    .Select(w => new Extent(Math.Max(w.DiskOffset, p.Start) - p.Start, Math.Min(w.End, p.End) - Math.Max(w.DiskOffset, p.Start)))
                    .ToList();
                switch (p.Content)
                {
                    case ClonezillaContentKind.Partclone:
                        AddPartclone(p, wipes, windowBytes, log, regions, extents, streams, backups);
                        break;
                    case ClonezillaContentKind.Dd:
                        AddDd(p, windowBytes, log, regions, extents, streams);
                        break;
                    case ClonezillaContentKind.Swap:
                        AddSwap(p, wipes, regions, extents);
                        break;
                }
            }
            var device = new VirtualDisk(disk.Name, disk.Size, regions, windowBytes, streams);
            var sorted = extents.OrderBy(e => e.Offset).ToImmutableArray();
            for (int i = 1; i < sorted.Length; i++)
                if (sorted[i].Offset < sorted[i - 1].End)
                    throw new ClonezillaFormatException($"{disk.Name}: what restoredisk writes at {sorted[i - 1]} and {sorted[i]} overlaps");
            return new DiskJob(disk, device, sorted, streams, backups);
        }
        catch
        {
            foreach (var s in streams) s.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One partition's partclone image as a device of the partition's size holding only its used blocks, at their
    /// partition offsets: what a per-partition torrent (<c>create --clonezilla</c>, Clonezilla's BitTorrent mode) is
    /// seeded from, straight out of the compressed image. <paramref name="used"/> receives the used extents.
    /// </summary>
    public static VirtualDisk OpenPartitionDevice(string partition, ClonezillaPartitionImage image, out ImmutableArray<Extent> used,
        int windowBytes = DefaultWindowBytes, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        var log = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<DiskJob>();
        long usedBytes, size;
        using (var reader = PartcloneImageReader.Open(image))
        {
            used = reader.UsedExtents;
            usedBytes = reader.UsedBytes;
            size = reader.DeviceSize;
        }
        var stream = PartcloneStream(partition, image, usedBytes, windowBytes, log);
        return new VirtualDisk(partition, size, [new DiskRegion(0, size, new UsedBlocksRegion(used, stream))], windowBytes, [stream]);
    }

    /// <summary>A partclone image's verified used-block data as a decoded stream (reopened from its start to restart).</summary>
    private static DecodedStream PartcloneStream(string partition, ClonezillaPartitionImage image, long usedBytes, int windowBytes, ILogger log) =>
        new($"{partition} ({Path.GetFileName(image.Files[0])})", usedBytes,
            ForwardReaders.StartOnly(() => new PartcloneForwardReader(PartcloneImageReader.Open(image))), windowBytes, log);

    private static void AddPartclone(ClonezillaPartition p, List<Extent> wipes, int windowBytes, ILogger log,
        List<DiskRegion> regions, List<Extent> extents, List<DecodedStream> streams, List<Extent> backups)
    {
        var image = p.Image!;
        ImmutableArray<Extent> used;
        long usedBytes;
        Extent? backup = null;
        byte[]? bootSector = null;
        using (var reader = PartcloneImageReader.Open(image))
        {
            if (reader.DeviceSize > p.Length)
                throw new ClonezillaFormatException($"{reader.Name}: the partclone image is of a {reader.DeviceSize}-byte file system but partition {p.Name} has {p.Length} bytes");
            used = reader.UsedExtents;
            usedBytes = reader.UsedBytes;
            if (image.FileSystem == "ntfs")
                (backup, bootSector) = NtfsBackupBootSector(reader, p, used, log);
        }
        var stream = PartcloneStream(p.Name, image, usedBytes, windowBytes, log);
        streams.Add(stream);
        // restoredisk zeroes the partition's first MiB (and whatever else its wipes reach), then partclone writes the used
        // blocks over it: the zeros are what the wipes leave where no used block lands.
        var zeros = Subtract(wipes, backup is { } b ? [.. used, b] : used);
        long regionLength = backup?.Offset ?? p.Length;
        if (zeros.Count > 0 && zeros[^1].End > regionLength) zeros = Subtract(zeros, [new Extent(regionLength, p.Length - regionLength)]);
        regions.Add(new DiskRegion(p.Start, regionLength, new UsedBlocksRegion(used, stream, zeros)));
        extents.AddRange(used.Concat(zeros).Select(e => new Extent(p.Start + e.Offset, e.Length)));
        if (backup is { } at)
        {
            regions.Add(new DiskRegion(p.Start + at.Offset, at.Length, new BytesRegion(bootSector!)));
            extents.Add(new Extent(p.Start + at.Offset, at.Length));
            backups.Add(new Extent(p.Start + at.Offset, at.Length));
        }
    }

    /// <summary>
    /// partclone's NTFS image leaves out the backup boot sector (the sector after the volume's last, normally the
    /// partition's last sector), which stock Clonezilla mends afterwards with <c>ntfsfix -d</c>. The job writes it
    /// itself — a copy of the boot sector, as NTFS keeps it — so <c>ntfsfix -n</c> passes on the target with no repair.
    /// Left out (with a warning) when the boot sector is not the image's first block or the copy would land on a used
    /// block or outside the partition.
    /// </summary>
    private static (Extent?, byte[]?) NtfsBackupBootSector(PartcloneImageReader reader, ClonezillaPartition p, ImmutableArray<Extent> used, ILogger log)
    {
        if (used.IsEmpty || used[0].Offset != 0 || used[0].Length < 512) return Skip("its boot sector is not the image's first block");
        var boot = new byte[4096];
        if (!ReadFully(reader, boot.AsSpan(0, 512))) return Skip("the image ends inside the boot sector");
        int sectorSize = BinaryPrimitives.ReadUInt16LittleEndian(boot.AsSpan(0x0B));
        long sectors = BinaryPrimitives.ReadInt64LittleEndian(boot.AsSpan(0x28));
        if (!boot.AsSpan(3, 8).SequenceEqual("NTFS    "u8) || sectorSize is < 256 or > 4096 || (sectorSize & (sectorSize - 1)) != 0 || sectors <= 0)
            return Skip("its boot sector is not an NTFS boot sector");
        if (sectorSize > 512 && (used[0].Length < sectorSize || !ReadFully(reader, boot.AsSpan(512, sectorSize - 512))))
            return Skip($"its first block is shorter than a {sectorSize}-byte sector");
        long offset = sectors * sectorSize;
        if (offset > p.Length - sectorSize) return Skip($"the volume's {sectors} sectors of {sectorSize} bytes leave no sector for it in the partition");
        if (used[^1].End > offset) return Skip($"a used block lies at or after byte {offset}, where it belongs");
        return (new Extent(offset, sectorSize), boot[..sectorSize]);

        (Extent?, byte[]?) Skip(string why)
        {
            ServingLog.NtfsBackupSkipped(log, p.Name, why);
            return (null, null);
        }
    }

    private static void AddDd(ClonezillaPartition p, int windowBytes, ILogger log, List<DiskRegion> regions, List<Extent> extents, List<DecodedStream> streams)
    {
        var image = p.Image!;
        var stream = new DecodedStream($"{p.Name} ({Path.GetFileName(image.Files[0])})", p.Length,
            ForwardReaders.StartOnly(() => ForwardReaders.Of(ClonezillaImageStream.OpenDecompressed(image, out _))), windowBytes, log);
        streams.Add(stream);
        regions.Add(new DiskRegion(p.Start, p.Length, new StreamRegion(stream)));
        extents.Add(new Extent(p.Start, p.Length));
    }

    private static void AddSwap(ClonezillaPartition p, List<Extent> wipes, List<DiskRegion> regions, List<Extent> extents)
    {
        // mkswap writes one page; restoredisk's wipes may reach into the partition around it.
        var page = SwapSignature.Create(p.Length, p.Swap?.Uuid, p.Swap?.Label ?? "");
        regions.Add(new DiskRegion(p.Start, page.Length, new BytesRegion(page)));
        extents.Add(new Extent(p.Start, page.Length));
        foreach (var z in Subtract(wipes, [new Extent(0, page.Length)]))
        {
            regions.Add(new DiskRegion(p.Start + z.Offset, z.Length, ZeroRegion.Instance));
            extents.Add(new Extent(p.Start + z.Offset, z.Length));
        }
    }

    /// <summary>The parts of <paramref name="from"/> not covered by <paramref name="cut"/> (both sorted, partition-relative).</summary>
    internal static List<Extent> Subtract(IReadOnlyList<Extent> from, IReadOnlyList<Extent> cut)
    {
        var result = new List<Extent>();
        foreach (var f in from.OrderBy(e => e.Offset))
        {
            long at = f.Offset;
            foreach (var c in cut)
            {
                if (c.End <= at) continue;
                if (c.Offset >= f.End) break;
                if (c.Offset > at) result.Add(new Extent(at, c.Offset - at));
                at = Math.Max(at, c.End);
                if (at >= f.End) break;
            }
            if (at < f.End) result.Add(new Extent(at, f.End - at));
        }
        return result;
    }

    /// <summary>
    /// The job's torrent: one pass over the virtual disk in extent order (each partition's image decoded once, every
    /// partclone checksum verified on the way, straight into the piece buffers: <see cref="DecodedStream.PassThrough"/>),
    /// SHA-1 of each piece on every core. Not to be called while the job is being served.
    /// </summary>
    public Torrent CreateTorrent(CreateOptions options, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        int pieceLength = options.PieceLength == 0 ? PieceSizing.Auto(Bytes) : options.PieceLength;
        var stream = new ExtentStream(Extents);
        var slices = new List<DeviceSlice>();
        var one = new Memory<byte>[1];
        long at = 0;
        foreach (var s in Streams) s.PassThrough = true;
        try
        {
            var hashes = SequentialPieceHasher.Hash(stream.Length, pieceLength, destination =>
            {
                int n = (int)Math.Min(Math.Min(destination.Length, 4 << 20), stream.Length - at);
                if (n <= 0) return 0;
                slices.Clear();
                stream.MapRange(at, n, slices);
                foreach (var s in slices)
                {
                    one[0] = destination.Slice(s.BufferOffset, s.Length);
                    Device.Read(s.DeviceOffset, one);
                }
                at += n;
                return n;
            }, progress: progress, cancellationToken: cancellationToken);
            return TorrentCreator.FromHashes(Extents, hashes, pieceLength, options);
        }
        finally
        {
            foreach (var s in Streams) s.PassThrough = false;
        }
    }

    public void Dispose() => Device.Dispose();

    private static bool ReadFully(PartcloneImageReader reader, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = reader.Read(destination);
            if (n == 0) return false;
            destination = destination[n..];
        }
        return true;
    }

    /// <summary>A partclone image's verified used-block data as a forward reader.</summary>
    private sealed class PartcloneForwardReader(PartcloneImageReader reader) : IForwardReader
    {
        public int Read(Span<byte> destination) => reader.Read(destination);

        public void Dispose() => reader.Dispose();
    }
}
