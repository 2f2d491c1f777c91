using BlockSwarm.Clonezilla.Compression;
using BlockSwarm.Clonezilla.Partclone;
using BlockSwarm.Clonezilla.Tests.Partclone;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Compression;

public sealed class SplitFileStreamTests
{
    private static byte[] MakeParts(TempDirectory dir, string prefix, int partSize, int total, int suffixLength = 2)
    {
        var data = new byte[total];
        new Random(total).NextBytes(data);
        for (int i = 0, at = 0; at < total; i++, at += partSize)
        {
            string suffix = suffixLength == 2 ? $"{(char)('a' + i / 26)}{(char)('a' + i % 26)}" : $"a{(char)('a' + i / 26)}{(char)('a' + i % 26)}";
            File.WriteAllBytes(dir.File(prefix + suffix), data[at..Math.Min(total, at + partSize)]);
        }
        return data;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Parts_read_and_seek_as_one_stream(int suffixLength)
    {
        using var dir = new TempDirectory("cz-split");
        var data = MakeParts(dir, "img.zst.", 1000, 30_500, suffixLength);
        using var s = SplitFileStream.Open(dir.File("img.zst"));
        Assert.Equal(31, s.Paths.Count);
        Assert.Equal(data.Length, s.Length);
        var all = new byte[data.Length];
        s.ReadExactly(all);
        Assert.Equal(data, all);
        s.Position = 1990;
        var across = new byte[30];
        s.ReadExactly(across);
        Assert.Equal(data.AsSpan(1990, 30).ToArray(), across);
        Assert.EndsWith(suffixLength == 2 ? "img.zst.ac at byte 500" : "img.zst.aac at byte 500", s.Describe(2500), StringComparison.Ordinal);
        using var fromPart = SplitFileStream.Open(dir.File(suffixLength == 2 ? "img.zst.ab" : "img.zst.aab"));
        Assert.Equal(data.Length, fromPart.Length);
    }

    [Fact]
    public void A_missing_part_is_named()
    {
        using var dir = new TempDirectory("cz-missing");
        MakeParts(dir, "img.gz.", 1000, 5500);
        File.Delete(dir.File("img.gz.ad"));
        var ex = Assert.Throws<ClonezillaFormatException>(() => SplitFileStream.Open(dir.File("img.gz.aa")));
        Assert.StartsWith(dir.File("img.gz.ad") + ": missing", ex.Message, StringComparison.Ordinal);
        Assert.Equal(3000, FormatErrors.AssertNamesFileAndOffset(ex, dir.File("img.gz.ad"), "compressed"));
        File.Delete(dir.File("img.gz.aa"));
        ex = Assert.Throws<ClonezillaFormatException>(() => SplitFileStream.Open(dir.File("img.gz")));
        Assert.Contains("no such file, and no split parts", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_part_shorter_than_the_first_is_refused_unless_it_is_the_last()
    {
        using var dir = new TempDirectory("cz-short");
        MakeParts(dir, "img.xz.", 1000, 5500);
        File.WriteAllBytes(dir.File("img.xz.ab"), new byte[999]);
        var ex = Assert.Throws<ClonezillaFormatException>(() => SplitFileStream.Open(dir.File("img.xz.aa")));
        Assert.StartsWith(dir.File("img.xz.ab") + ": 999 bytes where", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1999, FormatErrors.AssertNamesFileAndOffset(ex, dir.File("img.xz.ab"), "compressed"));
    }

    [Fact]
    public void A_missing_part_of_a_compressed_image_fails_the_open_naming_it()
    {
        using var dir = new TempDirectory("cz-missing-image");
        var image = SyntheticImage.Write(dir.File("sda1.ext4-ptcl-img.uncomp"), 1024, 5000, seed: 3);
        Tool.Run("split", "-a", "2", "-b", "100K", image, image + ".");
        File.Delete(image);
        File.Delete(image + ".ac");
        var ex = Assert.Throws<ClonezillaFormatException>(() => PartcloneImageReader.Open(image + ".aa"));
        Assert.StartsWith(image + ".ac: missing", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2 * 100 * 1024, FormatErrors.AssertNamesFileAndOffset(ex, image + ".ac", "compressed"));
    }

    [Fact]
    public void A_missing_last_part_is_a_truncated_image()
    {
        using var dir = new TempDirectory("cz-missing-last");
        var image = SyntheticImage.Write(dir.File("sda1.ext4-ptcl-img.uncomp"), 1024, 5000, seed: 3);
        Tool.Run("split", "-a", "2", "-b", "100K", image, image + ".");
        File.Delete(image);
        var last = Directory.GetFiles(dir.Path, "sda1.ext4-ptcl-img.uncomp.a?").Order(StringComparer.Ordinal).Last();
        File.Delete(last);
        var ex = Assert.Throws<ClonezillaFormatException>(() =>
        {
            using var reader = PartcloneImageReader.Open(image + ".aa");
            while (reader.TryReadBlocks(out _)) { }
        });
        Assert.Contains("truncated: the stream ends in used block", ex.Message, StringComparison.Ordinal);
        // The set now ends where the deleted part began: that is where the partclone stream (uncompressed) stops.
        long end = Directory.GetFiles(dir.Path, "sda1.ext4-ptcl-img.uncomp.a?").Sum(f => new FileInfo(f).Length);
        Assert.Equal(end, FormatErrors.AssertNamesFileAndOffset(ex, image + ".aa", "partclone"));
    }

    [Fact]
    public void A_part_gone_since_the_directory_was_loaded_is_named_with_its_offset()
    {
        using var dir = new TempDirectory("cz-gone");
        MakeParts(dir, "sda1.ext4-ptcl-img.gz.", 1000, 3500);
        var parts = Directory.GetFiles(dir.Path, "sda1.ext4-ptcl-img.gz.a?").Order(StringComparer.Ordinal).ToList();
        var image = new ClonezillaPartitionImage(ClonezillaContentKind.Partclone, "ext4", ClonezillaCompression.Gzip, parts);
        File.Delete(parts[2]);
        var ex = Assert.Throws<ClonezillaFormatException>(() => PartcloneImageReader.Open(image));
        Assert.Contains("missing: split part 3 of 4", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2000, FormatErrors.AssertNamesFileAndOffset(ex, parts[2] + ": ", "compressed"));
    }

    [Fact]
    public void A_part_that_shrinks_while_read_is_named_with_its_offset()
    {
        using var dir = new TempDirectory("cz-shrink");
        MakeParts(dir, "img.uncomp.", 1000, 2500);
        using var s = SplitFileStream.Open(dir.File("img.uncomp.aa"));
        File.WriteAllBytes(dir.File("img.uncomp.ab"), new byte[600]);
        var ex = Assert.Throws<ClonezillaFormatException>(() => s.ReadExactly(new byte[2500]));
        Assert.Contains("ends at byte 600, before the 1000 bytes it had when opened", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1600, FormatErrors.AssertNamesFileAndOffset(ex, dir.File("img.uncomp.ab") + ": ", "compressed"));
    }

    /// <summary>A file whose bytes are not the compression its name says (or, uncompressed, not partclone) is refused at the start.</summary>
    [Theory]
    [InlineData("gz")]
    [InlineData("zst")]
    [InlineData("xz")]
    [InlineData("lzma")]
    [InlineData("bz2")]
    [InlineData("lz4")]
    [InlineData("lzo")]
    [InlineData("uncomp")]
    public void Bytes_that_are_not_the_named_compression_are_refused_at_offset_0(string suffix)
    {
        using var dir = new TempDirectory("cz-not");
        var file = dir.File($"sda1.ext4-ptcl-img.{suffix}");
        var junk = new byte[5000];
        new Random(11).NextBytes(junk);
        File.WriteAllBytes(file, junk);
        var ex = Assert.Throws<ClonezillaFormatException>(() =>
        {
            using var reader = PartcloneImageReader.Open(file);
            while (reader.TryReadBlocks(out _)) { }
        });
        Assert.Equal(0, FormatErrors.AssertNamesFileAndOffset(ex, file + ": ", "partclone"));
        if (suffix != "uncomp")
        {
            Assert.StartsWith($"{file}: corrupt {suffix} data: the decoder failed", ex.Message, StringComparison.Ordinal);
            Assert.InRange(FormatErrors.AssertNamesFileAndOffset(ex, file, "compressed"), 1, junk.Length);
        }
        else Assert.Contains("not a partclone image", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sda1.ext4-ptcl-img.rar", "unknown compression suffix 'rar'")]
    [InlineData("sda1.ext4-ptcl-img.rar.aa", "unknown compression suffix 'rar'")]
    [InlineData("sda1.ext4-ptcl-img.lrz.aa", "'lrz' compression (lrzip) is not supported")]
    public void An_unknown_or_unsupported_compression_suffix_is_refused(string name, string expected)
    {
        using var dir = new TempDirectory("cz-suffix");
        File.WriteAllBytes(dir.File(name), new byte[10]);
        var ex = Assert.Throws<ClonezillaFormatException>(() => PartcloneImageReader.Open(dir.File(name)));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.StartsWith(dir.File(name) + ": ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("BlockSwarm reads gz, zst, xz, lzma, bz2, lz4, lzo, uncomp", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sda1.ext4-ptcl-img.zst", ClonezillaCompression.Zstd)]
    [InlineData("sda1.ext4-ptcl-img.zst.aa", ClonezillaCompression.Zstd)]
    [InlineData("sda1.ext4-ptcl-img.gz.ab", ClonezillaCompression.Gzip)]
    [InlineData("sda1.ext4-ptcl-img.xz", ClonezillaCompression.Xz)]
    [InlineData("sda1.ext4-ptcl-img.zst.gz", ClonezillaCompression.Zstd)]
    [InlineData("nvme0n1p2.ntfs-ptcl-img.uncomp.aaa", ClonezillaCompression.None)]
    [InlineData("sda2.vfat-ptcl-img.lzo.zz", ClonezillaCompression.Lzo)]
    public void The_compression_comes_from_the_name(string name, ClonezillaCompression kind) =>
        Assert.Equal(kind, ClonezillaImageStream.CompressionOf(name));

    /// <summary>
    /// savedisk's legacy raw images (<c>sda1.dd-img.aa</c>…) name no compression (they were always gzipped): opened
    /// through the directory model, the files and the compression come from it, not from the names.
    /// </summary>
    [Fact]
    public void A_legacy_dd_image_opens_with_the_directory_models_compression()
    {
        using var dir = new TempDirectory("cz-legacy-dd");
        var data = new byte[300_000];
        new Random(7).NextBytes(data.AsSpan(0, 100_000));
        var compressed = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            gz.Write(data);
        var bytes = compressed.ToArray();
        int half = bytes.Length / 2 + 1;
        File.WriteAllBytes(dir.File("sda1.dd-img.aa"), bytes[..half]);
        File.WriteAllBytes(dir.File("sda1.dd-img.ab"), bytes[half..]);
        var image = new ClonezillaPartitionImage(ClonezillaContentKind.Dd, "dd", ClonezillaCompression.Gzip, [dir.File("sda1.dd-img.aa"), dir.File("sda1.dd-img.ab")]);

        using var stream = ClonezillaImageStream.OpenDecompressed(image, out string name);
        var read = new byte[data.Length];
        stream.ReadExactly(read);
        Assert.Equal(data, read);
        Assert.Equal(0, stream.Read(new byte[1]));
        Assert.Equal(dir.File("sda1.dd-img.aa") + "…ab", name);
        Assert.Throws<ClonezillaFormatException>(() => ClonezillaImageStream.CompressionOf(dir.File("sda1.dd-img.aa")));
    }
}
