using BlockSwarm.Imaging.FileSystems;

namespace BlockSwarm.Imaging.Partitions;

/// <summary>A partition (or the whole unpartitioned device) and the scanner that recognised it, null when none did.</summary>
public sealed record VolumeInfo(Partition Partition, IFileSystemScanner? Scanner)
{
    /// <summary>"vfat", "ntfs", ... or "unknown" (the caller's fallback maps it).</summary>
    public string FileSystem => Scanner?.Name ?? "unknown";
}
