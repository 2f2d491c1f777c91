namespace BlockSwarm.Testing;

/// <summary>Which Clonezilla image <see cref="ClonezillaFixture"/> makes: the partition table and the compression (both GPT kinds are saved from one disk).</summary>
public enum ClonezillaFixtureKind
{
    /// <summary>GPT: ext4, NTFS, FAT32 and swap partitions, saved with <c>-z9p</c> (zstdmt, <c>.zst</c>).</summary>
    GptZstd,

    /// <summary>The same GPT disk saved with <c>-z1p</c> (pigz, <c>.gz</c>).</summary>
    GptGzip,

    /// <summary>
    /// MBR: a bootable ext4 primary, a primary with no file system (saved by partclone.dd), an extended partition
    /// holding a FAT16 and a swap logical partition; boot code and hidden data between the MBR and the first
    /// partition; <c>-z1p</c>.
    /// </summary>
    MbrGzip,
}
