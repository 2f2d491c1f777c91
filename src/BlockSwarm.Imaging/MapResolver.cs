using BlockSwarm.Devices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Imaging;

/// <summary>A block map together with where it came from.</summary>
public sealed record ResolvedMap(BlockMap Map, string Method, IReadOnlyList<string> Warnings, IReadOnlyList<byte[]>? PartcloneHashes = null)
{
    /// <summary>Where the map's offset 0 lies on the source (a partition's start); the map itself is volume-relative.</summary>
    public long VolumeOffset { get; init; }
}

/// <summary>Turns a <see cref="MapSpec"/> into a <see cref="BlockMap"/> for an opened source.</summary>
public static class MapResolver
{
    /// <param name="loggerFactory">Where the chosen method and, at debug, the partitions and filesystems found are logged.</param>
    public static ResolvedMap Resolve(MapSpec spec, DeviceFile source, Action<long>? progress = null, int? partition = null, ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(source);
        var log = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger(typeof(MapResolver).FullName!);
        var resolved = ResolveMap(spec, source, progress, partition, log, cancellationToken);
        ImagingLog.MapResolved(log, source.Path, resolved.Method, resolved.Map.UsedBytes, source.Size, resolved.Map.Extents.Length);
        return resolved;
    }

    private static ResolvedMap ResolveMap(MapSpec spec, DeviceFile source, Action<long>? progress, int? partition, ILogger log, CancellationToken cancellationToken)
    {
        if (source.Size == 0) throw new BlockMapException($"{source.Path} is empty (0 bytes): nothing to deploy");
        if (partition != null && spec.Kind != MapKind.Auto)
            throw new BlockMapException("--partition works with --map auto (the partition's filesystem is scanned)");
        switch (spec.Kind)
        {
            case MapKind.All:
                return new ResolvedMap(BlockMap.Whole(source.Size), "all", []);
            case MapKind.NonZero:
                return new ResolvedMap(NonZeroMapper.Map(source, progress: progress, cancellationToken: cancellationToken), "nonzero", []);
            case MapKind.Partclone:
                var info = PartcloneTorrentInfo.Load(spec.Path!);
                if (info.Map.Extents.Length > 0 && info.Map.Extents[^1].End > source.Size)
                    throw new BlockMapException(
                        $"{spec.Path}: extents reach byte {info.Map.Extents[^1].End} but {source.Path} has only {source.Size} bytes: is this the right partition?");
                var warnings = new List<string>();
                if (info.Map.DeviceSize != source.Size)
                    warnings.Add($"torrent.info describes {info.Map.DeviceSize} bytes (blocks_total × block_size) but {source.Path} has {source.Size}");
                return new ResolvedMap(info.Map, $"partclone ({spec.Path})", warnings, info.PieceHashes);
            case MapKind.Auto:
                return ResolveAuto(source, partition, progress, log, cancellationToken);
            default:
                throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "unknown map kind");
        }
    }

    /// <summary>
    /// Partition table (MBR/GPT) and filesystem detection: the whole disk by default, or one
    /// partition (offsets relative to it). Volumes no scanner knows fall back to non-zero blocks, with a warning.
    /// </summary>
    private static ResolvedMap ResolveAuto(DeviceFile source, int? partition, Action<long>? progress, ILogger log, CancellationToken cancellationToken)
    {
        var warnings = new List<string>();
        BlockMap Fallback(DeviceFile d, long offset, long length)
        {
            ImagingLog.NonZeroFallback(log, d.Path, offset, length);
            warnings.Add($"{d.Path}: no filesystem recognised in the volume at byte {offset} ({length} bytes); using its non-zero blocks (all-zero blocks are not sent)");
            return NonZeroMapper.Map(d, offset, length, progress: progress, cancellationToken: cancellationToken);
        }
        var volumes = Partitions.DiskMapper.Inspect(source, out var table);
        warnings.AddRange(table.Warnings);
        ImagingLog.PartitionTable(log, source.Path, table.Scheme, volumes.Count);
        foreach (var v in volumes) ImagingLog.Volume(log, source.Path, v.Partition, v.FileSystem);
        string Describe(Partitions.VolumeInfo v) => $"{v.Partition.Number}: {v.Scanner?.Name ?? "unknown"}";
        if (partition is int n)
        {
            var p = table.Get(n);
            var map = Partitions.DiskMapper.MapPartition(source, n, Fallback);
            var fs = volumes.FirstOrDefault(v => v.Partition.Number == n)?.Scanner?.Name ?? "unknown";
            return new ResolvedMap(map, $"auto: partition {n} ({fs}) of the {table.Scheme} table", warnings) { VolumeOffset = p.Start };
        }
        var whole = Partitions.DiskMapper.Map(source, Fallback);
        string method = table.Scheme == Partitions.PartitionScheme.None
            ? $"auto: {volumes[0].Scanner?.Name ?? "unknown filesystem"}"
            : $"auto: {table.Scheme} disk [{string.Join(", ", volumes.Select(Describe))}]";
        return new ResolvedMap(whole, method, warnings);
    }
}
