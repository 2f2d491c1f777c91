namespace BlockSwarm.Clonezilla.Partclone;

/// <summary>
/// How a partclone image checksums its block data: the values are the image's own (partclone's
/// <c>checksum_mode_enum</c>), so a header field maps to a member without a table.
/// </summary>
public enum PartcloneChecksumMode
{
    /// <summary>No checksums: the blocks follow one another (format 2 with <c>-a0</c>).</summary>
    None = 0x00,

    /// <summary>CRC-32 (IEEE, reflected 0xEDB88320, seed 0xFFFFFFFF) stored without the final inversion, 4 bytes little-endian.</summary>
    Crc32 = 0x20,

    /// <summary>XXH64, seed 0, 8 bytes little-endian (partclone builds with xxHash only).</summary>
    XxHash64 = 0x30,

    /// <summary>XXH3 128-bit, 16 bytes: the low half then the high half, each little-endian (partclone builds with xxHash only).</summary>
    XxHash128 = 0x31,

    /// <summary>
    /// Format 1's CRC-32: one checksum after every block, never reseeded, and computed by a routine that never advanced
    /// its pointer, so each block contributes its first byte repeated block-size times.
    /// </summary>
    Crc32Format1 = 0xFF,
}
