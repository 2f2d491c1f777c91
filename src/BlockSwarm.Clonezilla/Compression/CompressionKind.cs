namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// The compressions Clonezilla writes partition images with, named as its file suffixes are
/// (ocs-functions' ocs-get-comp-suffix: gz, bz2, lzo, lz4, lzma, xz, lzip, lrz, zst, uncomp).
/// </summary>
public enum CompressionKind
{
    /// <summary><c>uncomp</c>: <c>cat</c>, the partclone stream as it is.</summary>
    None,

    /// <summary><c>gz</c>: gzip or pigz (one or more gzip members).</summary>
    Gzip,

    /// <summary><c>zst</c>: zstd or zstdmt (one or more frames).</summary>
    Zstd,

    /// <summary><c>xz</c>: xz (one or more streams).</summary>
    Xz,

    /// <summary><c>lzma</c>: the legacy .lzma ("LZMA alone") format of <c>lzma -c</c>.</summary>
    Lzma,

    /// <summary><c>bz2</c>: bzip2, pbzip2 or lbzip2 (one or more streams).</summary>
    Bzip2,

    /// <summary><c>lz4</c>: the LZ4 frame format of the <c>lz4</c> command (one or more frames).</summary>
    Lz4,

    /// <summary><c>lzo</c>: lzop's file format (LZO1X blocks).</summary>
    Lzo,
}
