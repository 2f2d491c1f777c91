namespace BlockSwarm.Clonezilla;

/// <summary>Where a <see cref="ClonezillaBootArea"/>'s bytes come from.</summary>
public enum ClonezillaBootAreaSource
{
    /// <summary>Zeros (restoredisk's wipes of the disk's first MiB and last 512 KiB, of each partition's first MiB).</summary>
    Zeros,
    /// <summary>A file of the image directory, from an offset in it.</summary>
    File,
    /// <summary>Bytes computed from the partition table (the EBRs sfdisk writes, which no file holds).</summary>
    Bytes,
}
