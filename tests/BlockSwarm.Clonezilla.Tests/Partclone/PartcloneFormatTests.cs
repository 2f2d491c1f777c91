using BlockSwarm.Clonezilla.Partclone;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Partclone;

/// <summary>
/// Images written by the real partclone (format 2) and re-encoded from them (format 1, other checksum modes) are read
/// to partclone's own extents and the source's bytes; partclone itself restores the re-encoded format-1 images, which
/// proves the re-encoding (and the format-1 CRC quirk) right.
/// </summary>
public sealed class PartcloneFormatTests
{
    [Fact]
    [Requires("mkfs.ext4", "partclone.extfs")]
    public void An_ext4_image_reads_to_partclones_extents_and_the_source_bytes()
    {
        using var dir = new TempDirectory("pc-ext4");
        var device = PartcloneRig.Ext4(dir.File("ext4.img"));
        var image = PartcloneRig.Save(device, "extfs", dir.File("ext4.pc"));
        using var reader = PartcloneImageReader.Open(File.OpenRead(image), image);
        var h = reader.Header;
        Assert.Equal((2, "EXTFS", 4096, PartcloneChecksumMode.Crc32, 256, true, PartcloneBitmapMode.Bit),
            (h.FormatVersion, h.FileSystem, h.BlockSize, h.ChecksumMode, h.BlocksPerChecksum, h.ReseedChecksum, h.BitmapMode));
        Assert.Equal(new FileInfo(device).Length, reader.DeviceSize);
        Assert.Equal(h.UsedBlocks, reader.UsedBlocks);
        Assert.Equal(PartcloneRig.PartcloneExtents(image, "extfs"), reader.UsedExtents);
        PartcloneRig.AssertDataEqualsSource(reader, device);
        Assert.Equal(new FileInfo(image).Length, reader.Position);
        Assert.False(reader.TryReadBlocks(out _));
        Assert.Equal(reader.UsedBytes, reader.ToBlockMap().UsedBytes);
    }

    [Theory]
    [InlineData(12, 8)]
    [InlineData(16, 48)]
    [InlineData(32, 300)]
    [Requires("mkfs.vfat", "mcopy", "partclone.fat")]
    public void A_FAT_image_reads_to_partclones_extents_and_the_source_bytes(int fatBits, int mib)
    {
        using var dir = new TempDirectory("pc-fat");
        var device = PartcloneRig.Fat(dir.File("fat.img"), fatBits, mib * FsImage.MiB);
        var image = PartcloneRig.Save(device, "fat", dir.File("fat.pc"));
        using var reader = PartcloneImageReader.Open(File.OpenRead(image), image);
        Assert.Equal("FAT" + fatBits, reader.Header.FileSystem);
        Assert.Equal(PartcloneRig.PartcloneExtents(image, "fat"), reader.UsedExtents);
        PartcloneRig.AssertDataEqualsSource(reader, device);
    }

    [Fact]
    [Requires("root", "mkfs.ntfs", "ntfs-3g", "partclone.ntfs")]
    public void An_NTFS_image_reads_to_partclones_extents_and_the_source_bytes()
    {
        using var dir = new TempDirectory("pc-ntfs");
        var device = PartcloneRig.Ntfs(dir.File("ntfs.img"), 64 * FsImage.MiB);
        var image = PartcloneRig.Save(device, "ntfs", dir.File("ntfs.pc"));
        using var reader = PartcloneImageReader.Open(File.OpenRead(image), image);
        Assert.Equal("NTFS", reader.Header.FileSystem);
        Assert.Equal(PartcloneRig.PartcloneExtents(image, "ntfs"), reader.UsedExtents);
        PartcloneRig.AssertDataEqualsSource(reader, device);
    }

    [Fact]
    [Requires("mkfs.ext4", "partclone.extfs")]
    public void The_test_encoder_writes_format_2_byte_for_byte_as_partclone_does()
    {
        using var dir = new TempDirectory("pc-enc");
        var device = PartcloneRig.Ext4(dir.File("ext4.img"), seed: 2, size: 24 * FsImage.MiB);
        var image = PartcloneRig.Save(device, "extfs", dir.File("ext4.pc"));
        var ours = dir.File("ours.pc");
        PartcloneEncoder.WriteFormat2(ours, PartcloneEncoder.ReadLayout(image), device, PartcloneChecksumMode.Crc32, 256, reseed: true);
        Assert.True(File.ReadAllBytes(image).AsSpan().SequenceEqual(File.ReadAllBytes(ours)), "re-encoded image differs from partclone's");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    [Requires("mkfs.ext4", "partclone.extfs")]
    public void A_format_1_image_reads_like_its_format_2_original_and_partclone_restores_it(bool wideCrc)
    {
        using var dir = new TempDirectory("pc-v1");
        var device = PartcloneRig.Ext4(dir.File("ext4.img"), seed: 3, size: 24 * FsImage.MiB);
        var v2 = PartcloneRig.Save(device, "extfs", dir.File("v2.pc"));
        var v1 = dir.File("v1.pc");
        var layout = PartcloneEncoder.ReadLayout(v2);
        PartcloneEncoder.WriteFormat1(v1, layout, device, wideCrc);
        var extents = PartcloneRig.PartcloneExtents(v2, "extfs");
        if (!wideCrc)
        {
            // partclone 0.3.23 checks every format-1 CRC on restore (crc32_0001): it accepting the image proves the encoding.
            var restored = PartcloneRig.Restore(v1, "extfs", dir.File("restored.img"));
            PartcloneRig.AssertEqualOver(device, restored, extents);
        }
        using var reader = PartcloneImageReader.Open(File.OpenRead(v1), v1);
        Assert.Equal((1, "EXTFS", PartcloneChecksumMode.Crc32Format1, PartcloneBitmapMode.Byte, 4160),
            (reader.Header.FormatVersion, reader.Header.FileSystem, reader.Header.ChecksumMode, reader.Header.BitmapMode, reader.Header.Length));
        Assert.Null(reader.Header.PartcloneVersion);
        Assert.Equal(extents, reader.UsedExtents);
        PartcloneRig.AssertDataEqualsSource(reader, device);
    }

    [Theory]
    [InlineData(PartcloneChecksumMode.Crc32, 256, false)]
    [InlineData(PartcloneChecksumMode.Crc32, 7, true)]
    [InlineData(PartcloneChecksumMode.Crc32, 1, false)]
    [InlineData(PartcloneChecksumMode.XxHash64, 100, true)]
    [InlineData(PartcloneChecksumMode.XxHash64, 64, false)]
    [InlineData(PartcloneChecksumMode.XxHash128, 33, true)]
    [InlineData(PartcloneChecksumMode.XxHash128, 256, false)]
    [InlineData(PartcloneChecksumMode.None, 0, true)]
    [Requires("mkfs.ext4", "partclone.extfs")]
    public void Every_checksum_mode_reads_to_the_source_bytes(PartcloneChecksumMode mode, int perChecksum, bool reseed)
    {
        using var dir = new TempDirectory("pc-modes");
        var device = PartcloneRig.Ext4(dir.File("ext4.img"), seed: 4, size: 16 * FsImage.MiB);
        var v2 = PartcloneRig.Save(device, "extfs", dir.File("v2.pc"));
        var image = dir.File("mode.pc");
        PartcloneEncoder.WriteFormat2(image, PartcloneEncoder.ReadLayout(v2), device, mode, perChecksum, reseed);
        if (mode is PartcloneChecksumMode.Crc32 or PartcloneChecksumMode.None)
        {
            // This partclone has no xxHash, but it checks CRC-32 strips of any size, reseeded or not.
            var restored = PartcloneRig.Restore(image, "extfs", dir.File("restored.img"));
            PartcloneRig.AssertEqualOver(device, restored, PartcloneRig.PartcloneExtents(v2, "extfs"));
        }
        using var reader = PartcloneImageReader.Open(File.OpenRead(image), image);
        Assert.Equal((mode, reseed), (reader.Header.ChecksumMode, reader.Header.ReseedChecksum));
        PartcloneRig.AssertDataEqualsSource(reader, device);
    }

    [Fact]
    [Requires("mkfs.ext4", "partclone.extfs")]
    public void Partclone_writes_the_strip_size_it_is_given_and_the_reader_follows()
    {
        using var dir = new TempDirectory("pc-k");
        var device = PartcloneRig.Ext4(dir.File("ext4.img"), seed: 5, size: 16 * FsImage.MiB);
        var image = PartcloneRig.Save(device, "extfs", dir.File("k.pc"), "-k", "5");
        using var reader = PartcloneImageReader.Open(File.OpenRead(image), image);
        Assert.Equal(5, reader.Header.BlocksPerChecksum);
        PartcloneRig.AssertDataEqualsSource(reader, device);
    }

    [Fact]
    public void Read_copies_the_same_bytes_TryReadBlocks_hands_out()
    {
        using var dir = new TempDirectory("pc-read");
        var image = SyntheticImage.Write(dir.File("s.pc"), blockSize: 512, totalBlocks: 5000, seed: 9);
        byte[] viaChunks, viaRead;
        using (var r = PartcloneImageReader.Open(File.OpenRead(image), image))
        {
            var all = new MemoryStream();
            while (r.TryReadBlocks(out var c)) all.Write(c.Span);
            viaChunks = all.ToArray();
        }
        using (var r = PartcloneImageReader.Open(File.OpenRead(image), image))
        {
            var all = new MemoryStream();
            var small = new byte[777];
            int n;
            while ((n = r.Read(small)) > 0) all.Write(small, 0, n);
            viaRead = all.ToArray();
        }
        Assert.Equal(viaChunks, viaRead);
    }
}
