using System.IO.Compression;

namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// Opens a Clonezilla partition image file as the partclone stream inside it: the split parts joined
/// (<see cref="SplitFileStream"/>), the decompressor picked by the compression suffix, and every decoder error turned
/// into a <see cref="ClonezillaFormatException"/> naming the file and where in it the decoder was.
/// </summary>
public static class ClonezillaImageStream
{
    /// <summary>Read buffer between a file and its decompressor: large reads keep system calls off the decoding path.</summary>
    internal const int FileBufferBytes = 1 << 20;

    /// <summary>
    /// The compression of a Clonezilla image file, from its name: the suffix after <c>-img.</c> or, for any other
    /// name, the last extension (<c>sda1.ext4-ptcl-img.zst</c>, <c>sda1.ext4-ptcl-img.zst.aa</c>, <c>x.gz</c>).
    /// </summary>
    public static CompressionKind CompressionOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string file = Path.GetFileName(path);
        string last = Path.GetExtension(file).TrimStart('.');
        string before = Path.GetExtension(Path.GetFileNameWithoutExtension(file)).TrimStart('.');
        // "….zst" is unsplit; "….zst.aa" (and "….zst.gz", a later part) is split; "….ext4-ptcl-img.rar" names an unknown compression.
        string suffix = SplitFileStream.IsPartName(file) ? before : last;
        return suffix switch
        {
            "uncomp" => CompressionKind.None,
            "gz" => CompressionKind.Gzip,
            "zst" => CompressionKind.Zstd,
            "xz" => CompressionKind.Xz,
            "lzma" => CompressionKind.Lzma,
            "bz2" => CompressionKind.Bzip2,
            "lz4" => CompressionKind.Lz4,
            "lzo" => CompressionKind.Lzo,
            "lzip" or "lrz" => throw new ClonezillaFormatException(
                $"{path}: '{suffix}' compression ({(suffix == "lrz" ? "lrzip" : "lzip")}) is not supported; gz, zst, xz, lzma, bz2, lz4, lzo and uncomp are"),
            _ => throw new ClonezillaFormatException(
                $"{path}: unknown compression suffix '{suffix}' (Clonezilla's are gz, zst, xz, lzma, bz2, lz4, lzo, uncomp, lzip, lrz)"),
        };
    }

    /// <summary>True for a suffix Clonezilla puts after <c>-img.</c> (also the ones we refuse).</summary>
    internal static bool IsCompressionSuffix(ReadOnlySpan<char> suffix) =>
        suffix is "uncomp" or "gz" or "zst" or "xz" or "lzma" or "bz2" or "lz4" or "lzo" or "lzip" or "lrz";

    /// <summary>
    /// The compressed bytes of the image at <paramref name="path"/>: the file itself when it is not split, else its
    /// split set (any part, or the name without a split suffix when only parts exist). <paramref name="name"/> is
    /// what messages call it.
    /// </summary>
    public static Stream OpenCompressed(string path, out string name)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        if (File.Exists(full) && !SplitFileStream.IsPartName(full))
        {
            if (File.Exists(full + ".aa") || File.Exists(full + ".aaa"))
                throw new ClonezillaFormatException($"{full}: both this file and split parts {full}.aa… exist: which one is the image?");
            name = full;
            return new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        }
        var split = SplitFileStream.Open(full);
        name = split.Name;
        return split;
    }

    /// <summary>The partclone stream inside the image at <paramref name="path"/> (see <see cref="OpenCompressed"/>).</summary>
    public static Stream OpenDecompressed(string path, out string name)
    {
        var kind = CompressionOf(path);
        var compressed = OpenCompressed(path, out name);
        try
        {
            return Decompress(compressed, kind, name);
        }
        catch
        {
            compressed.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Wraps <paramref name="compressed"/> (owned from now on) in the decoder for <paramref name="kind"/>. Decoder
    /// failures surface as <see cref="ClonezillaFormatException"/> naming <paramref name="name"/> and the compressed
    /// and decompressed offsets the decoder had reached.
    /// </summary>
    public static Stream Decompress(Stream compressed, CompressionKind kind, string name)
    {
        ArgumentNullException.ThrowIfNull(compressed);
        var source = new CountingStream(compressed);
        Stream decoder = kind switch
        {
            CompressionKind.None => source,
            CompressionKind.Gzip => new GZipStream(new BufferedStream(source, FileBufferBytes), CompressionMode.Decompress),
            CompressionKind.Zstd => ZstdDecoding.Open(source),
            CompressionKind.Xz => LzmaDecoding.OpenXz(source),
            CompressionKind.Lzma => LzmaDecoding.OpenLzma(source),
            CompressionKind.Bzip2 => Bzip2Decoding.Open(source),
            CompressionKind.Lz4 => Lz4Decoding.Open(source),
            CompressionKind.Lzo => new LzopStream(new BufferedStream(source, FileBufferBytes)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return new DecoderGuardStream(decoder, source, kind, name);
    }
}
