using System.IO.Hashing;

namespace BlockSwarm.Clonezilla.Partclone;

/// <summary>
/// partclone's CRC-32 (checksum.c: table 0xEDB88320, seed 0xFFFFFFFF, no final inversion) is the standard CRC-32
/// without its final inversion, so the vectorized <see cref="Crc32"/> computes it: stored = ~CRC-32(data).
/// </summary>
internal static class PartcloneCrc32
{
    public static uint Compute(ReadOnlySpan<byte> data) => ~Crc32.HashToUInt32(data);
}
