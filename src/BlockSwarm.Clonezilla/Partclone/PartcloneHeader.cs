namespace BlockSwarm.Clonezilla.Partclone;

/// <summary>
/// A partclone image's header, both formats in one shape: format 1 ("0001", partclone before 0.3.0) has no options
/// section, so its checksum and bitmap fields hold the values format 1 always implied (partclone's
/// <c>set_image_options_v1</c>).
/// </summary>
public sealed record PartcloneHeader
{
    /// <summary>1 ("0001") or 2 ("0002").</summary>
    public required int FormatVersion { get; init; }

    /// <summary>The filesystem as partclone names it: EXTFS, FAT16, NTFS, XFS, BTRFS, raw, …</summary>
    public required string FileSystem { get; init; }

    /// <summary>The partclone version that wrote the image ("0.3.23"); null for format 1, which does not record it.</summary>
    public string? PartcloneVersion { get; init; }

    /// <summary>Bytes per block (filesystem block, cluster or sector): every block in the bitmap and the data has this size.</summary>
    public required int BlockSize { get; init; }

    /// <summary>Size of the source partition in bytes (at least <see cref="TotalBlocks"/> × <see cref="BlockSize"/>).</summary>
    public required long DeviceSize { get; init; }

    /// <summary>Blocks in the filesystem, hence bits (or bytes, format 1) in the bitmap.</summary>
    public required long TotalBlocks { get; init; }

    /// <summary>Used blocks as the header records them (format 2: counted from the bitmap; format 1: often from the superblock).</summary>
    public required long UsedBlocks { get; init; }

    /// <summary>Format 2's used-block count from the filesystem's own superblock (informational); null for format 1.</summary>
    public long? SuperBlockUsedBlocks { get; init; }

    public required PartcloneChecksumMode ChecksumMode { get; init; }

    /// <summary>Bytes per stored checksum: 0, 4, 8 or 16.</summary>
    public required int ChecksumSize { get; init; }

    /// <summary>Used blocks covered by one checksum (the last one may cover fewer); 0 without checksums.</summary>
    public required int BlocksPerChecksum { get; init; }

    /// <summary>True when each checksum covers only its own blocks; false when it runs on from the image's first block.</summary>
    public required bool ReseedChecksum { get; init; }

    public required PartcloneBitmapMode BitmapMode { get; init; }

    /// <summary>32 or 64: the writer's word size (format 2; 0 for format 1).</summary>
    public int CpuBits { get; init; }

    /// <summary>Bytes of the header on disk: 4160 for format 1, 110 for format 2.</summary>
    public required int Length { get; init; }

    /// <summary>Bytes of the bitmap on disk, with its trailing CRC-32 (format 2) or signature (format 1).</summary>
    public long BitmapLength => BitmapMode switch
    {
        PartcloneBitmapMode.Bit => (TotalBlocks + 7) / 8 + 4,
        PartcloneBitmapMode.Byte => TotalBlocks + 8,
        _ => 0,
    };

    /// <summary>Offset of the first block's data in the (decompressed) image.</summary>
    public long DataOffset => Length + BitmapLength;
}
