using System.Globalization;
using BlockSwarm.Imaging.FileSystems;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Tests.FileSystems;

public sealed class NtfsScannerTests(ITestOutputHelper output)
{
    [Theory]
    [Requires(Need.Root, "mkfs.ntfs", "ntfs-3g", "ntfsfix", "partclone.ntfs")]
    [InlineData(512, 4096)]
    [InlineData(512, 512)]
    [InlineData(512, 65536)]
    [InlineData(4096, 4096)] // 4 KiB MFT records: update sequence fixups every 512 bytes, 9 of them
    public void Map_covers_partclone_plus_backup_boot_sector_and_copy_passes_ntfsfix(int sectorSize, int clusterSize)
    {
        using var tmp = new TempDirectory("ntfs");
        string tree = FsTestKit.WriteTree(tmp);
        string img = tmp.File("ntfs.img");
        FsImage.Ntfs(img, 32 * FsImage.MiB, tree, "-s", sectorSize.ToString(CultureInfo.InvariantCulture), "-c", clusterSize.ToString(CultureInfo.InvariantCulture));

        BlockMap ours;
        using (var dev = DeviceFile.OpenRead(img))
        {
            var scanner = FileSystemDetector.Detect(dev, 0, dev.Size);
            Assert.IsType<NtfsScanner>(scanner);
            ours = scanner.Scan(dev, 0, dev.Size);
        }
        var partclone = FsTestKit.PartcloneMap("partclone.ntfs", img, tmp);
        var missing = partclone.Difference(ours);
        var extra = ours.Difference(partclone);
        output.WriteLine($"NTFS {sectorSize}/{clusterSize}: ours {FsTestKit.Describe(ours)}; partclone {FsTestKit.Describe(partclone)}; partclone-only {missing.UsedBytes / 512} sectors, ours-only {extra.UsedBytes / 512} sectors");
        foreach (var e in extra.Extents.Take(10)) output.WriteLine($"  ours-only {e}");
        Assert.True(ours.Covers(partclone), $"partclone uses bytes we do not: {string.Join(", ", missing.Extents.Take(5))}");
        // The only extra is the backup boot sector in the volume's last sector.
        Assert.Equal([new Extent(ours.DeviceSize - sectorSize, sectorSize)], extra.Extents);

        string copy = tmp.File("copy.img");
        FsTestKit.CopyByMap(img, ours, copy);
        var fix = Tool.Run("ntfsfix", ["-n", copy], check: false);
        Assert.True(fix.ExitCode == 0, fix.StdOut + fix.StdErr);
        Assert.Contains("alternate boot sector... OK", fix.StdOut);
        FsTestKit.AssertNtfsTreeEquals(copy, tree);
    }

    [Fact]
    public void Zeroed_boot_sector_or_broken_mft_is_rejected()
    {
        using var tmp = new TempDirectory("ntfs");
        string img = tmp.File("ntfs.img");
        FsImage.Ntfs(img, 16 * FsImage.MiB);
        long mftOffset;
        using (var dev = DeviceFile.OpenRead(img))
        {
            var boot = new byte[512];
            dev.ReadExactly(0, boot);
            Assert.True(NtfsGeometry.TryParse(boot, out var g, out _));
            mftOffset = g.MftLcn * g.ClusterBytes;
        }

        // A torn $MFT record (update sequence mismatch) must not be trusted.
        using (var fs = new FileStream(img, FileMode.Open, FileAccess.Write))
        {
            fs.Position = mftOffset + 6 * 1024 + 510;
            fs.Write([0x12, 0x34]);
        }
        using (var dev = DeviceFile.OpenRead(img))
        {
            var ex = Assert.Throws<BlockMapException>(() => new NtfsScanner().Scan(dev, 0, dev.Size));
            Assert.Contains("update sequence", ex.Message);
        }

        using (var fs = File.OpenWrite(img)) fs.Write(new byte[512]);
        using (var dev = DeviceFile.OpenRead(img))
        {
            Assert.Null(FileSystemDetector.Detect(dev, 0, dev.Size));
            Assert.Throws<BlockMapException>(() => new NtfsScanner().Scan(dev, 0, dev.Size));
        }
    }

    [Fact]
    public void Truncated_image_is_rejected()
    {
        using var tmp = new TempDirectory("ntfs");
        string img = tmp.File("ntfs.img");
        FsImage.Ntfs(img, 16 * FsImage.MiB);
        using (var fs = File.OpenWrite(img)) fs.SetLength(4 * FsImage.MiB);
        using var dev = DeviceFile.OpenRead(img);
        var ex = Assert.Throws<BlockMapException>(() => new NtfsScanner().Scan(dev, 0, dev.Size));
        Assert.Contains("truncated", ex.Message);
    }

    [Theory]
    [InlineData(0x08, 512, 4096)]
    [InlineData(0x80, 512, 65536)]
    [InlineData(0xF8, 512, 131072)] // 2^(256-0xF8) = 256 sectors
    [InlineData(0xF4, 512, 2097152)] // 2^12 sectors = 2 MiB, the largest Windows allows
    public void Sectors_per_cluster_encoding(byte raw, int bps, long clusterBytes)
    {
        var boot = new byte[512];
        "NTFS    "u8.CopyTo(boot.AsSpan(3));
        boot[0x0B] = (byte)bps; boot[0x0C] = (byte)(bps >> 8);
        boot[0x0D] = raw;
        BitConverter.TryWriteBytes(boot.AsSpan(0x28), 1L << 30);
        BitConverter.TryWriteBytes(boot.AsSpan(0x30), 4L);
        BitConverter.TryWriteBytes(boot.AsSpan(0x38), 2L);
        boot[0x40] = 0xF6; // 2^10 = 1 KiB records
        boot[510] = 0x55; boot[511] = 0xAA;
        Assert.True(NtfsGeometry.TryParse(boot, out var g, out string? why), why);
        Assert.Equal(clusterBytes, g.ClusterBytes);
        Assert.Equal(1024, g.MftRecordBytes);
    }
}
