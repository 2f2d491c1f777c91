using BlockSwarm.Imaging.FileSystems;
using BlockSwarm.Testing;

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
        string tree = FsImages.WriteTree(tmp);
        string img = tmp.File("fat.img");
        using (var fs = File.Create(img)) fs.SetLength(sizeMiB * FsImages.MiB);
        FsImages.MakeFat(img, bits, tree);

        BlockMap ours;
        using (var dev = DeviceFile.OpenRead(img))
        {
            var scanner = FileSystemDetector.Detect(dev, 0, dev.Size);
            Assert.IsType<FatScanner>(scanner);
            ours = scanner.Scan(dev, 0, dev.Size);
        }
        output.WriteLine($"FAT{bits}: ours {FsImages.Describe(ours)}");

        var partclone = FsImages.PartcloneMap("partclone.vfat", img, tmp);
        var missing = partclone.Difference(ours);
        var extra = ours.Difference(partclone);
        output.WriteLine($"FAT{bits}: partclone {FsImages.Describe(partclone)}; partclone-only {missing.UsedBytes / 512} sectors, ours-only {extra.UsedBytes / 512} sectors");
        foreach (var e in extra.Extents.Take(10)) output.WriteLine($"  ours-only {e}");
        Assert.True(ours.Covers(partclone), $"partclone uses bytes we do not: {string.Join(", ", missing.Extents.Take(5))}");

        string copy = tmp.File("copy.img");
        FsImages.CopyByMap(img, ours, copy);
        var fsck = Tool.Run("fsck.vfat", ["-n", copy], check: false);
        Assert.True(fsck.ExitCode == 0, fsck.StdOut + fsck.StdErr);
        FsImages.AssertFatTreeEquals(copy, tree, tmp);
    }

    [Fact]
    public void Truncated_image_is_rejected_with_a_clear_message()
    {
        using var tmp = new TempDirectory("fat");
        string img = tmp.File("fat.img");
        using (var fs = File.Create(img)) fs.SetLength(16 * FsImages.MiB);
        Tool.Run("mkfs.vfat", "-F", "16", img);
        using (var fs = File.OpenWrite(img)) fs.SetLength(8 * FsImages.MiB);
        using var dev = DeviceFile.OpenRead(img);
        var ex = Assert.Throws<BlockMapException>(() => new FatScanner().Scan(dev, 0, dev.Size));
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void Zeroed_boot_sector_is_not_detected_and_scan_throws()
    {
        using var tmp = new TempDirectory("fat");
        string img = tmp.File("fat.img");
        using (var fs = File.Create(img)) fs.SetLength(16 * FsImages.MiB);
        Tool.Run("mkfs.vfat", "-F", "16", img);
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
