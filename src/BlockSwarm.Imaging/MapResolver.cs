namespace BlockSwarm.Imaging;

/// <summary>A block map together with where it came from.</summary>
public sealed record ResolvedMap(BlockMap Map, string Method, IReadOnlyList<string> Warnings, IReadOnlyList<byte[]>? PartcloneHashes = null);

/// <summary>Turns a <see cref="MapSpec"/> into a <see cref="BlockMap"/> for an opened source.</summary>
public static class MapResolver
{
    /// <summary>
    /// Hook for filesystem and partition-table detection (<c>auto</c>); returns null when nothing is recognised.
    /// Set by the imaging scanners; <c>auto</c> falls back to <c>nonzero</c> with a warning.
    /// </summary>
    public static Func<DeviceFile, ResolvedMap?>? AutoDetector { get; set; }

    public static ResolvedMap Resolve(MapSpec spec, DeviceFile source, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(source);
        if (source.Size == 0) throw new BlockMapException($"{source.Path} is empty (0 bytes): nothing to deploy");
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
                var detected = AutoDetector?.Invoke(source);
                if (detected != null) return detected;
                return new ResolvedMap(NonZeroMapper.Map(source, progress: progress, cancellationToken: cancellationToken), "nonzero",
                    [$"{source.Path}: no partition table or filesystem recognised; falling back to --map nonzero (all-zero blocks are not sent)"]);
            default:
                throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "unknown map kind");
        }
    }
}
