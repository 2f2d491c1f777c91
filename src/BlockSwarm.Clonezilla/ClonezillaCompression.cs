namespace BlockSwarm.Clonezilla;

/// <summary>
/// Which compressor wrote a Clonezilla image file, as its name says (ocs-functions' <c>ocs-get-comp-suffix</c>: the
/// suffix after <c>-img.</c>). The directory model records it (<see cref="ClonezillaPartitionImage.Compression"/>) and the
/// decompression layer picks its decoder by it; <see cref="Compression.CompressionSuffix"/> maps the suffixes.
/// </summary>
public enum ClonezillaCompression
{
    /// <summary><c>uncomp</c> (<c>-z0</c>): <c>cat</c>, the partclone stream as it is.</summary>
    None,

    /// <summary><c>gz</c> (<c>-z1</c>, <c>-z1p</c>): gzip or pigz (one or more gzip members).</summary>
    Gzip,

    /// <summary><c>zst</c> (<c>-z9</c>, <c>-z9p</c>): zstd or zstdmt (one or more frames).</summary>
    Zstd,

    /// <summary><c>xz</c> (<c>-z5</c>, <c>-z5p</c>): xz or pxz (one or more streams).</summary>
    Xz,

    /// <summary><c>lzma</c> (<c>-z4</c>): the legacy .lzma ("LZMA alone") format of <c>lzma -c</c>.</summary>
    Lzma,

    /// <summary><c>bz2</c> (<c>-z2</c>, <c>-z2p</c>): bzip2, pbzip2 or lbzip2 (one or more streams).</summary>
    Bzip2,

    /// <summary><c>lz4</c> (<c>-z8</c>): the LZ4 frame format of the <c>lz4</c> command (one or more frames).</summary>
    Lz4,

    /// <summary><c>lzo</c> (<c>-z3</c>): lzop's file format (LZO1X blocks).</summary>
    Lzo,
}
