using BlockSwarm.Imaging.FileSystems;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Partitions;

/// <summary>
/// Whole-disk and per-partition maps: the partition table's own sectors, everything before
/// the first partition (boot loaders such as GRUB's core.img live in that gap), and each
/// partition's used set from its filesystem scanner, shifted to disk offsets. Partitions
/// whose filesystem no scanner knows go to the caller's fallback (e.g. a non-zero scan).
/// </summary>
public static class DiskMapper
{
    /// <summary>Mapped when a table has no partitions at all: the conventional 1 MiB alignment gap.</summary>
    public const long LeadingAreaWhenEmpty = 1 << 20;

    /// <summary>Maps the whole disk; offsets are disk offsets, DeviceSize = disk size.</summary>
    /// <param name="fallback">Maps a volume (device, offset, length) no scanner recognises; offsets relative to the volume.</param>
    public static BlockMap Map(DeviceFile disk, Func<DeviceFile, long, long, BlockMap> fallback, int sectorSize = 512)
    {
        ArgumentNullException.ThrowIfNull(disk);
        ArgumentNullException.ThrowIfNull(fallback);
        var table = PartitionTable.Read(disk, sectorSize);
        if (table.Scheme == PartitionScheme.None)
            return MapVolume(disk, 0, disk.Size, fallback);

        var extents = new List<Extent>(table.MetadataExtents);
        long firstStart = table.Partitions.IsEmpty
            ? Math.Min(LeadingAreaWhenEmpty, disk.Size)
            : table.Partitions.Min(p => p.Start);
        extents.Add(new Extent(0, firstStart));
        foreach (var p in table.Volumes)
            extents.AddRange(MapVolume(disk, p.Start, p.Length, fallback).Shift(p.Start, disk.Size).Extents);
        return BlockMap.Normalize(disk.Size, table.SectorSize, extents);
    }

    /// <summary>Maps partition <paramref name="number"/> alone (Clonezilla-style per-partition torrent); offsets relative to the partition.</summary>
    public static BlockMap MapPartition(DeviceFile disk, int number, Func<DeviceFile, long, long, BlockMap> fallback, int sectorSize = 512)
    {
        ArgumentNullException.ThrowIfNull(disk);
        ArgumentNullException.ThrowIfNull(fallback);
        var table = PartitionTable.Read(disk, sectorSize);
        var p = table.Get(number);
        if (p.IsExtended)
            throw new BlockMapException($"partition {number} is an extended container, not a volume; map its logical partitions (5, 6, ...)");
        return MapVolume(disk, p.Start, p.Length, fallback);
    }

    /// <summary>
    /// What <c>inspect</c> shows: each volume with its detected filesystem. An unpartitioned
    /// device is reported as one volume numbered 0 spanning the device.
    /// </summary>
    public static IReadOnlyList<VolumeInfo> Inspect(DeviceFile disk, out PartitionTable table, int sectorSize = 512)
    {
        ArgumentNullException.ThrowIfNull(disk);
        table = PartitionTable.Read(disk, sectorSize);
        if (table.Scheme == PartitionScheme.None)
            return [new VolumeInfo(new Partition(0, 0, disk.Size, "none"), FileSystemDetector.Detect(disk, 0, disk.Size))];
        return [.. table.Volumes.Select(p => new VolumeInfo(p, FileSystemDetector.Detect(disk, p.Start, p.Length)))];
    }

    /// <summary>Detects the filesystem of one volume and scans it, or hands it to <paramref name="fallback"/>.</summary>
    public static BlockMap MapVolume(DeviceFile disk, long offset, long length, Func<DeviceFile, long, long, BlockMap> fallback)
    {
        ArgumentNullException.ThrowIfNull(fallback);
        var scanner = FileSystemDetector.Detect(disk, offset, length);
        var map = scanner != null ? scanner.Scan(disk, offset, length) : fallback(disk, offset, length);
        if (map.DeviceSize != length)
            throw new BlockMapException($"the map for the volume at {offset} has device size {map.DeviceSize}, expected {length}");
        return map;
    }
}
