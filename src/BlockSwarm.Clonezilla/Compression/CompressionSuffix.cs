namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// Clonezilla's compression suffixes (<c>ocs-get-comp-suffix</c>) and the <see cref="ClonezillaCompression"/> each names:
/// the one table behind the directory model's file names and the decompression layer's choice of decoder.
/// </summary>
public static class CompressionSuffix
{
    private static readonly (string Suffix, ClonezillaCompression Compression)[] s_read =
    [
        ("gz", ClonezillaCompression.Gzip), ("zst", ClonezillaCompression.Zstd), ("xz", ClonezillaCompression.Xz),
        ("lzma", ClonezillaCompression.Lzma), ("bz2", ClonezillaCompression.Bzip2), ("lz4", ClonezillaCompression.Lz4),
        ("lzo", ClonezillaCompression.Lzo), ("uncomp", ClonezillaCompression.None),
    ];

    /// <summary>What Clonezilla can also write and BlockSwarm does not read: the suffix and the tool behind it.</summary>
    private static readonly (string Suffix, string Tool)[] s_refused = [("lzip", "lzip"), ("lrz", "lrzip")];

    /// <summary>The suffixes BlockSwarm reads, for messages: <c>gz, zst, xz, lzma, bz2, lz4, lzo, uncomp</c>.</summary>
    public static string Supported { get; } = string.Join(", ", s_read.Select(r => r.Suffix));

    /// <summary>The suffix Clonezilla gives files of <paramref name="compression"/> (<c>zst</c> for <see cref="ClonezillaCompression.Zstd"/>).</summary>
    public static string Of(ClonezillaCompression compression)
    {
        foreach (var (suffix, c) in s_read)
            if (c == compression) return suffix;
        throw new ArgumentOutOfRangeException(nameof(compression), compression, null);
    }

    /// <summary>
    /// The compression <paramref name="suffix"/> names. One Clonezilla writes but BlockSwarm does not read (lzip, lrz),
    /// or none Clonezilla writes, is a <see cref="ClonezillaFormatException"/> naming <paramref name="path"/>.
    /// </summary>
    public static ClonezillaCompression Parse(string suffix, string path)
    {
        ArgumentNullException.ThrowIfNull(suffix);
        foreach (var (s, c) in s_read)
            if (s == suffix) return c;
        foreach (var (s, tool) in s_refused)
            if (s == suffix)
                throw new ClonezillaFormatException($"{path}: '{suffix}' compression ({tool}) is not supported; BlockSwarm reads {Supported}");
        throw new ClonezillaFormatException(
            $"{path}: unknown compression suffix '{suffix}' (BlockSwarm reads {Supported}; Clonezilla also writes {string.Join(", ", s_refused.Select(r => r.Suffix))})");
    }

    /// <summary>True for every suffix Clonezilla puts after <c>-img.</c>, the refused ones too.</summary>
    internal static bool IsClonezillas(ReadOnlySpan<char> suffix)
    {
        foreach (var (s, _) in s_read)
            if (suffix.SequenceEqual(s)) return true;
        foreach (var (s, _) in s_refused)
            if (suffix.SequenceEqual(s)) return true;
        return false;
    }
}
