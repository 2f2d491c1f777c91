namespace BlockSwarm.Imaging.FileSystems;

/// <summary>Reads one filesystem's own allocation metadata and returns its used set.</summary>
public interface IFileSystemScanner
{
    /// <summary>Short name: "ext4", "vfat", "ntfs", "xfs", ...</summary>
    string Name { get; }

    /// <summary>True when <paramref name="head"/> (the first 64 KiB of the volume, or less) carries this filesystem's superblock magic.</summary>
    bool Probe(ReadOnlySpan<byte> head);

    /// <summary>The used set, offsets relative to the volume start, DeviceSize = <paramref name="volumeLength"/>.</summary>
    BlockMap Scan(DeviceFile device, long volumeOffset, long volumeLength);
}
