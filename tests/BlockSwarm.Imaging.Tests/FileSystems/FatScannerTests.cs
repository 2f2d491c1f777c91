using BlockSwarm.Imaging.FileSystems;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Tests.FileSystems;

public sealed class FatScannerTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(12, 16)]
    [InlineData(16, 32)]
    [InlineData(32, 64)]
    public void Map_covers_partclone_and_a_copy_from_it_is_clean(int bits, int sizeMiB)
    {
        using var tmp = new TempDirectory("fat");
        string tree = FsTestKit.WriteTree(tmp);
        string img = tmp.File("fat.img");
        FsImage.Fat(img, sizeMiB * FsImage.MiB, bits, tree);

        BlockMap ours;
        using (var dev = DeviceFile.OpenRead(img))
        {
            var scanner = FileSystemDetector.Detect(dev, 0, dev.Size);
            Assert.IsType<FatScanner>(scanner);
            ours = scanner.Scan(dev, 0, dev.Size);
        }
        output.WriteLine($"FAT{bits}: ours {FsTestKit.Describe(ours)}");

        var partclone = FsTestKit.PartcloneMap("partclone.vfat", img, tmp);
        var missing = partclone.Difference(ours);
        var extra = ours.Difference(partclone);
        output.WriteLine($"FAT{bits}: partclone {FsTestKit.Describe(partclone)}; partclone-only {missing.UsedBytes / 512} sectors, ours-only {extra.UsedBytes / 512} sectors");
        foreach (var e in extra.Extents.Take(10)) output.WriteLine($"  ours-only {e}");
        Assert.True(ours.Covers(partclone), $"partclone uses bytes we do not: {string.Join(", ", missing.Extents.Take(5))}");

        if (extra.UsedBytes > 0)
        {
            // Evidence for the report: does a copy from partclone's own map keep the files?
            string pcCopy = tmp.File("partclone-copy.img");
            FsTestKit.CopyByMap(img, partclone, pcCopy);
            string outDir = tmp.File("pc-out");
            FsImage.CopyOutOfFat(pcCopy, outDir);
            bool same = File.ReadAllBytes(Path.Combine(tree, "big.bin")).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(outDir, "big.bin")));
            output.WriteLine($"FAT{bits}: copy from partclone's map keeps big.bin intact: {same}");
        }

        string copy = tmp.File("copy.img");
        FsTestKit.CopyByMap(img, ours, copy);
        var fsck = Tool.Run("fsck.vfat", ["-n", copy], check: false);
        Assert.True(fsck.ExitCode == 0, fsck.StdOut + fsck.StdErr);
        FsTestKit.AssertFatTreeEquals(copy, tree, tmp);
    }

    [Fact]
    public void Fat32_entries_across_read_chunks_are_all_found()
    {
        // 512 MiB with 512-byte clusters: ~1M clusters, a 4 MiB FAT read in several chunks.
        using var tmp = new TempDirectory("fat");
        string img = tmp.File("fat32.img");
        FsImage.Fat(img, 512 * FsImage.MiB, 32, null, "-s", "1");
        FatGeometry g;
        using (var dev = DeviceFile.OpenRead(img))
        {
            var boot = new byte[512];
            dev.ReadExactly(0, boot);
            Assert.True(FatGeometry.TryParse(boot, out g, out _));
        }
        long entriesPerChunk = (3 << 18) / 4;
        long[] marked = [entriesPerChunk - 1, entriesPerChunk, entriesPerChunk + 1, 3 * entriesPerChunk, g.ClusterCount + 1];
        using (var fs = new FileStream(img, FileMode.Open, FileAccess.Write))
        {
            foreach (long c in marked)
            {
                fs.Position = (long)g.ReservedSectors * g.BytesPerSector + c * 4;
                fs.Write(BitConverter.GetBytes(0x0FFF_FFF8u));
            }
        }
        using var d = DeviceFile.OpenRead(img);
        var map = new FatScanner().Scan(d, 0, d.Size);
        var expected = BlockMap.Normalize(d.Size, 512,
            marked.Select(c => new Extent(g.DataStartBytes + (c - 2) * g.ClusterBytes, g.ClusterBytes))
                .Append(new Extent(0, g.DataStartBytes + g.ClusterBytes))); // metadata + root dir cluster 2
        Assert.Equal(expected.Extents, map.Extents);
    }

    [Fact]
    public void Truncated_image_is_rejected_with_a_clear_message()
    {
        using var tmp = new TempDirectory("fat");
        string img = tmp.File("fat.img");
        FsImage.Fat(img, 16 * FsImage.MiB, 16);
        using (var fs = File.OpenWrite(img)) fs.SetLength(8 * FsImage.MiB);
        using var dev = DeviceFile.OpenRead(img);
        var ex = Assert.Throws<BlockMapException>(() => new FatScanner().Scan(dev, 0, dev.Size));
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void Zeroed_boot_sector_is_not_detected_and_scan_throws()
    {
        using var tmp = new TempDirectory("fat");
        string img = tmp.File("fat.img");
        FsImage.Fat(img, 16 * FsImage.MiB, 16);
        using (var fs = File.OpenWrite(img)) fs.Write(new byte[512]);
        using var dev = DeviceFile.OpenRead(img);
        Assert.Null(FileSystemDetector.Detect(dev, 0, dev.Size));
        var ex = Assert.Throws<BlockMapException>(() => new FatScanner().Scan(dev, 0, dev.Size));
        Assert.Contains("nonzero", ex.Message);
    }

    [Fact]
    public void Nonsense_bpb_is_rejected()
    {
        var boot = new byte[512];
        boot[0] = 0xEB; boot[510] = 0x55; boot[511] = 0xAA;
        boot[0x0B] = 0x00; boot[0x0C] = 0x02; // 512 bytes/sector
        boot[0x0D] = 3;                       // not a power of two
        boot[0x0E] = 1; boot[0x10] = 2; boot[0x15] = 0xF8;
        Assert.False(new FatScanner().Probe(boot));
        boot[0x0D] = 4;
        boot[0x11] = 0x00; boot[0x12] = 0x02; // 512 root entries
        boot[0x13] = 0x00; boot[0x14] = 0x80; // 32768 sectors
        boot[0x16] = 1;                       // a 1-sector FAT cannot describe ~8k clusters
        Assert.False(new FatScanner().Probe(boot));
        boot[0x16] = 32;
        Assert.True(new FatScanner().Probe(boot));
    }
}
