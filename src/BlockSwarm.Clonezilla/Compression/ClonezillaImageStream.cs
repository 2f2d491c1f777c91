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
    public static ClonezillaCompression CompressionOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string file = Path.GetFileName(path);
        string last = Path.GetExtension(file).TrimStart('.');
        string before = Path.GetExtension(Path.GetFileNameWithoutExtension(file)).TrimStart('.');
        // "….zst" is unsplit; "….zst.aa" (and "….zst.gz", a later part) is split; "….ext4-ptcl-img.rar" names an unknown compression.
        return CompressionSuffix.Parse(SplitFileStream.IsPartName(file) ? before : last, path);
    }

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
            return OpenFile(full);
        }
        var split = SplitFileStream.Open(full);
        name = split.Name;
        return split;
    }

    /// <summary>The partclone stream inside the image at <paramref name="path"/> (see <see cref="OpenCompressed"/>), compressed as its name says.</summary>
    public static Stream OpenDecompressed(string path, out string name)
    {
        var compression = CompressionOf(path);
        return Decompress(OpenCompressed(path, out name), compression, name);
    }

    /// <summary>
    /// The stream inside a partition's image as the directory model found it: its files in order (one, or a split set)
    /// and the compression its names gave (a legacy <c>sda1.dd-img.aa</c> names none: savedisk always gzipped those).
    /// </summary>
    public static Stream OpenDecompressed(ClonezillaPartitionImage image, out string name)
    {
        ArgumentNullException.ThrowIfNull(image);
        Stream compressed;
        if (image.Files.Count == 1)
        {
            name = Path.GetFullPath(image.Files[0]);
            compressed = OpenFile(name);
        }
        else
        {
            var split = SplitFileStream.OpenParts(image.Files);
            name = split.Name;
            compressed = split;
        }
        return Decompress(compressed, image.Compression, name);
    }

    private static FileStream OpenFile(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException ex)
        {
            throw new ClonezillaFormatException($"{path}: missing (byte offset 0 of the compressed stream)", ex);
        }
    }

    /// <summary>
    /// Wraps <paramref name="compressed"/> (owned from now on) in the decoder for <paramref name="kind"/>. Decoder
    /// failures surface as <see cref="ClonezillaFormatException"/> naming <paramref name="name"/> and the compressed
    /// and decompressed offsets the decoder had reached.
    /// </summary>
    public static Stream Decompress(Stream compressed, ClonezillaCompression compression, string name)
    {
        ArgumentNullException.ThrowIfNull(compressed);
        try
        {
            var source = new CountingStream(compressed);
            Stream decoder = compression switch
            {
                ClonezillaCompression.None => source,
                ClonezillaCompression.Gzip => new GZipStream(new BufferedStream(source, FileBufferBytes), CompressionMode.Decompress),
                ClonezillaCompression.Zstd => ZstdDecoding.Open(source),
                ClonezillaCompression.Xz => LibLzmaStream.OpenXz(source),
                ClonezillaCompression.Lzma => LibLzmaStream.OpenLzma(source),
                ClonezillaCompression.Bzip2 => new LibBzip2Stream(source),
                ClonezillaCompression.Lz4 => Lz4Decoding.Open(source),
                ClonezillaCompression.Lzo => new LzopStream(new BufferedStream(source, FileBufferBytes)),
                _ => throw new ArgumentOutOfRangeException(nameof(compression)),
            };
            return new DecoderGuardStream(decoder, source, compression, name);
        }
        catch
        {
            compressed.Dispose();
            throw;
        }
    }
}
