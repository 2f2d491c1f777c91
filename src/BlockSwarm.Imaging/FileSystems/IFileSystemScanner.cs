using BlockSwarm.Devices;
namespace BlockSwarm.Imaging.FileSystems;

/// <summary>
/// Finds the blocks a filesystem uses. Shared contract of every scanner (ext, XFS, FAT, NTFS, ...);
/// a detector probes each one with the volume's first bytes and scans with the first that matches.
/// </summary>
public interface IFileSystemScanner
{
    /// <summary>Short filesystem name ("ext4", "xfs", ...).</summary>
    string Name { get; }

    /// <summary>
    /// Cheap superblock magic check. <paramref name="head"/> is the first 64 KiB of the volume,
    /// or less when the volume is smaller.
    /// </summary>
    bool Probe(ReadOnlySpan<byte> head);

    /// <summary>
    /// The used set of the volume with offsets relative to the volume start (0 = first byte of the
    /// filesystem) and <see cref="BlockMap.DeviceSize"/> = <paramref name="volumeLength"/>.
    /// Throws <see cref="BlockMapException"/> when the metadata is inconsistent or truncated:
    /// a missed used block would corrupt a deployment, so a scanner never guesses.
    /// </summary>
    BlockMap Scan(DeviceFile device, long volumeOffset, long volumeLength);
}
