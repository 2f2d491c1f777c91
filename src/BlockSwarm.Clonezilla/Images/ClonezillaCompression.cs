namespace BlockSwarm.Clonezilla;

/// <summary>How a partition image's stream is compressed, from its file name's suffix (<c>ocs-get-comp-suffix</c>).</summary>
public enum ClonezillaCompression
{
    /// <summary><c>uncomp</c> (<c>-z0</c>).</summary>
    None,
    /// <summary><c>gz</c> (<c>-z1</c>, <c>-z1p</c> pigz).</summary>
    Gzip,
    /// <summary><c>zst</c> (<c>-z9</c>, <c>-z9p</c> zstdmt).</summary>
    Zstd,
    /// <summary><c>xz</c> (<c>-z5</c>, <c>-z5p</c>).</summary>
    Xz,
    /// <summary><c>bz2</c> (<c>-z2</c>, <c>-z2p</c>).</summary>
    Bzip2,
    /// <summary><c>lz4</c> (<c>-z8</c>).</summary>
    Lz4,
    /// <summary><c>lzo</c> (<c>-z3</c>, lzop).</summary>
    Lzo,
    /// <summary><c>lzma</c> (<c>-z4</c>).</summary>
    Lzma,
}
