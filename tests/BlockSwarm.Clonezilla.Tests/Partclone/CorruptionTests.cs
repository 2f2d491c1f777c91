using System.Buffers.Binary;
using System.IO.Hashing;
using BlockSwarm.Clonezilla.Partclone;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Partclone;

/// <summary>Every way a partclone image can be damaged ends in one <see cref="ClonezillaFormatException"/> saying what and where.</summary>
public sealed class CorruptionTests
{
    private const int BlockSize = 1024;
    private const int PerChecksum = 64;

    /// <summary>Reads <paramref name="image"/> to its end: the refusal names the file and its byte offset in the partclone stream.</summary>
    private static ClonezillaFormatException ReadAll(string image)
    {
        var ex = Assert.Throws<ClonezillaFormatException>(() =>
        {
            using var reader = PartcloneImageReader.Open(File.OpenRead(image), image);
            while (reader.TryReadBlocks(out _)) { }
        });
        FormatErrors.AssertNamesFileAndOffset(ex, image + ": ", "partclone");
        return ex;
    }

    private static (string Image, PartcloneImageReader Reader) Synthetic(TempDirectory dir, long? usedInHeader = null)
    {
        var image = SyntheticImage.Write(dir.File("s.pc"), BlockSize, 20_000, seed: 5, perChecksum: PerChecksum, usedInHeader: usedInHeader);
        return (image, PartcloneImageReader.Open(File.OpenRead(image), image));
    }

    [Fact]
    public void A_flipped_data_byte_is_a_checksum_mismatch_naming_the_blocks_and_the_offset()
    {
        using var dir = new TempDirectory("cz-flip");
        var (image, reader) = Synthetic(dir);
        long dataOffset = reader.Header.DataOffset, used = reader.UsedBlocks;
        long firstBlockOfStrip3 = reader.BlockNumber(3 * PerChecksum), lastBlockOfStrip3 = reader.BlockNumber(4 * PerChecksum - 1);
        reader.Dispose();
        const long Strip = (long)PerChecksum * BlockSize + 4;
        var bytes = File.ReadAllBytes(image);
        bytes[dataOffset + 3 * Strip + 5 * BlockSize + 17] ^= 0x40;
        File.WriteAllBytes(image, bytes);

        var ex = ReadAll(image);
        Assert.StartsWith(image + ": ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Crc32 checksum mismatch", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"used blocks #{3 * PerChecksum}-#{4 * PerChecksum - 1} (filesystem blocks {firstBlockOfStrip3}-{lastBlockOfStrip3})", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"(byte offset {dataOffset + 3 * Strip + PerChecksum * BlockSize} of the partclone stream)", ex.Message, StringComparison.Ordinal);
        Assert.True(used > 4 * PerChecksum);
    }

    [Fact]
    public void Data_before_a_bad_strip_is_handed_out_and_nothing_after_it()
    {
        using var dir = new TempDirectory("cz-partial");
        var (image, reader) = Synthetic(dir);
        long dataOffset = reader.Header.DataOffset;
        reader.Dispose();
        var bytes = File.ReadAllBytes(image);
        bytes[dataOffset + 2] ^= 1; // the first strip
        File.WriteAllBytes(image, bytes);
        using var again = PartcloneImageReader.Open(File.OpenRead(image), image);
        Assert.Throws<ClonezillaFormatException>(() => again.TryReadBlocks(out _));
        Assert.Equal(0, again.BlocksRead);
    }

    [Fact]
    public void A_truncated_stream_names_the_block_it_ends_in()
    {
        using var dir = new TempDirectory("cz-trunc");
        var (image, reader) = Synthetic(dir);
        long dataOffset = reader.Header.DataOffset;
        long block = reader.BlockNumber(PerChecksum + 2);
        reader.Dispose();
        long cut = dataOffset + PerChecksum * BlockSize + 4 + 2 * BlockSize + 100;
        File.WriteAllBytes(image, File.ReadAllBytes(image)[..(int)cut]);
        var ex = ReadAll(image);
        Assert.Contains($"truncated: the stream ends in used block #{PerChecksum + 2} (filesystem block {block})", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"(byte offset {cut} of the partclone stream)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stream_cut_inside_the_header_or_the_bitmap_says_so()
    {
        using var dir = new TempDirectory("cz-trunc-head");
        var (image, reader) = Synthetic(dir);
        reader.Dispose();
        var bytes = File.ReadAllBytes(image);
        File.WriteAllBytes(image, bytes[..50]);
        Assert.Contains("truncated: the stream ends inside the partclone header (byte offset 50 of the partclone stream)", ReadAll(image).Message, StringComparison.Ordinal);
        File.WriteAllBytes(image, bytes[..500]);
        Assert.Contains("truncated: the stream ends inside the bitmap (byte offset 500 of the partclone stream)", ReadAll(image).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Data_after_the_last_block_is_refused()
    {
        using var dir = new TempDirectory("cz-trailing");
        var (image, reader) = Synthetic(dir);
        reader.Dispose();
        long length = new FileInfo(image).Length;
        File.AppendAllText(image, "junk");
        Assert.Contains($"unexpected data after the last of the", ReadAll(image).Message, StringComparison.Ordinal);
        Assert.Contains($"(byte offset {length} of the partclone stream)", ReadAll(image).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_whose_used_count_disagrees_with_the_bitmap_is_refused()
    {
        using var dir = new TempDirectory("cz-used");
        var (image, reader) = Synthetic(dir);
        long used = reader.UsedBlocks;
        reader.Dispose();
        var wrong = SyntheticImage.Write(dir.File("wrong.pc"), BlockSize, 20_000, seed: 5, perChecksum: PerChecksum, usedInHeader: used + 1);
        var ex = Assert.Throws<ClonezillaFormatException>(() => PartcloneImageReader.Open(File.OpenRead(wrong), wrong));
        Assert.Equal($"{wrong}: the bitmap marks {used} blocks used but the header says {used + 1} (byte offset 76 of the partclone stream)", ex.Message);
    }

    [Fact]
    public void A_format_1_header_may_count_its_used_blocks_differently_as_partclone_restores_it()
    {
        using var dir = new TempDirectory("cz-used-v1");
        var image = SyntheticImage.Write(dir.File("s.pc"), BlockSize, 3000, seed: 6);
        var layout = PartcloneEncoder.ReadLayout(image);
        var v1 = dir.File("v1.pc");
        PartcloneEncoder.WriteFormat1(v1, layout, image + ".dev", usedInHeader: layout.UsedBlocks + 7);
        using var reader = PartcloneImageReader.Open(File.OpenRead(v1), v1);
        Assert.Equal((layout.UsedBlocks + 7, layout.UsedBlocks), (reader.Header.UsedBlocks, reader.UsedBlocks));
        PartcloneRig.AssertDataEqualsSource(reader, image + ".dev");
    }

    [Theory]
    [InlineData(20, "header checksum mismatch")]
    [InlineData(0, "not a partclone image: no 'partclone-image' signature (found 'qartclone-image') (byte offset 0 of the partclone stream)")]
    public void A_damaged_header_is_refused(int at, string expected)
    {
        using var dir = new TempDirectory("cz-head");
        var (image, reader) = Synthetic(dir);
        reader.Dispose();
        var bytes = File.ReadAllBytes(image);
        bytes[at] ^= 0x01;
        File.WriteAllBytes(image, bytes);
        Assert.Contains(expected, ReadAll(image).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(30, "0003", "partclone image format '0003' is not supported (formats 0001 and 0002 are) (byte offset 30 of the partclone stream)")]
    [InlineData(36, "ZFS\0\0", "unknown filesystem 'ZFS'")]
    public void An_unknown_version_or_filesystem_is_refused(int at, string text, string expected)
    {
        using var dir = new TempDirectory("cz-version");
        var (image, reader) = Synthetic(dir);
        reader.Dispose();
        var bytes = File.ReadAllBytes(image);
        System.Text.Encoding.ASCII.GetBytes(text).CopyTo(bytes, at);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(106), ~Crc32.HashToUInt32(bytes.AsSpan(0, 106)));
        File.WriteAllBytes(image, bytes);
        Assert.Contains(expected, ReadAll(image).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_damaged_bitmap_is_a_bitmap_checksum_mismatch()
    {
        using var dir = new TempDirectory("cz-bitmap");
        var (image, reader) = Synthetic(dir);
        long bitmapCrcAt = reader.Header.DataOffset - 4;
        reader.Dispose();
        var bytes = File.ReadAllBytes(image);
        bytes[300] ^= 0x10;
        File.WriteAllBytes(image, bytes);
        var message = ReadAll(image).Message;
        Assert.Contains("bitmap checksum mismatch", message, StringComparison.Ordinal);
        Assert.Contains($"(byte offset {bitmapCrcAt} of the partclone stream)", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_format_1_block_with_a_wrong_first_byte_is_a_mismatch_at_that_block()
    {
        using var dir = new TempDirectory("cz-v1-flip");
        var image = SyntheticImage.Write(dir.File("s.pc"), BlockSize, 3000, seed: 8);
        var layout = PartcloneEncoder.ReadLayout(image);
        var v1 = dir.File("v1.pc");
        PartcloneEncoder.WriteFormat1(v1, layout, image + ".dev");
        var bytes = File.ReadAllBytes(v1);
        long dataOffset = 4160 + layout.TotalBlocks + 8;
        // Format 1's CRC only ever saw a block's first byte, so that is the byte whose damage it can catch.
        bytes[dataOffset + 10 * (BlockSize + 4)] ^= 0x01;
        File.WriteAllBytes(v1, bytes);
        var message = ReadAll(v1).Message;
        Assert.Contains("Crc32Format1 checksum mismatch over used block #10 ", message, StringComparison.Ordinal);
        Assert.Contains($"(byte offset {dataOffset + 10 * (BlockSize + 4) + BlockSize} of the partclone stream)", message, StringComparison.Ordinal);
    }
}
