namespace BlockSwarm.Clonezilla;

/// <summary>
/// A partition's saved image: its kind, file system (partclone's name for it: <c>ext4</c>, <c>ntfs</c>, <c>vfat</c>…; <c>dd</c>
/// for raw images), compression, and its files in stream order (one file, or split pieces <c>.aa</c>, <c>.ab</c>…, all
/// present and all but the last of one size, checked when the directory is loaded).
/// </summary>
public sealed record ClonezillaPartitionImage(
    ClonezillaContentKind Kind,
    string FileSystem,
    ClonezillaCompression Compression,
    IReadOnlyList<string> Files)
{
    /// <summary>The compressed stream's length: the files' sizes added up.</summary>
    public long StreamLength => Files.Sum(f => new FileInfo(f).Length);
}
