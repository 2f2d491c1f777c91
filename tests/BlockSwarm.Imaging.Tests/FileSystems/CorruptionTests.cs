using BlockSwarm.Imaging.FileSystems;
using BlockSwarm.Imaging.Partitions;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Tests.FileSystems;

/// <summary>
/// Seeded random damage to the metadata the scanners trust: every outcome must be either a
/// map inside the volume or a <see cref="BlockMapException"/>, never an index or overflow crash.
/// </summary>
public sealed class CorruptionTests(ITestOutputHelper output)
{
    private const int Rounds = 300;

    private void Fuzz(string img, Func<DeviceFile, BlockMap> scan, (long Offset, int Length)[] regions, int seed)
    {
        var rng = new Random(seed);
        int threw = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var (offset, length) = regions[rng.Next(regions.Length)];
            var saved = new List<(long, byte)>();
            using (var fs = new FileStream(img, FileMode.Open, FileAccess.ReadWrite))
            {
                for (int k = rng.Next(1, 6); k > 0; k--)
                {
                    long at = offset + rng.Next(length);
                    fs.Position = at;
                    byte old = (byte)fs.ReadByte();
                    saved.Add((at, old));
                    fs.Position = at;
                    fs.WriteByte((byte)rng.Next(256));
                }
            }
            try
            {
                using var dev = DeviceFile.OpenRead(img);
                var map = scan(dev);
                Assert.True(map.Extents.IsEmpty || map.Extents[^1].End <= map.DeviceSize);
            }
            catch (BlockMapException)
            {
                threw++;
            }
            finally
            {
                using var fs = new FileStream(img, FileMode.Open, FileAccess.ReadWrite);
                for (int k = saved.Count - 1; k >= 0; k--)
                {
                    fs.Position = saved[k].Item1;
                    fs.WriteByte(saved[k].Item2);
                }
            }
        }
        output.WriteLine($"{Rounds} damaged variants, {threw} rejected with BlockMapException");
    }

    [Fact]
    public void Damaged_ntfs_metadata_never_crashes_the_scanner()
    {
        using var tmp = new TempDirectory("fuzz");
        string img = tmp.File("ntfs.img");
        FsImage.Ntfs(img, 16 * FsImage.MiB);
        long mft;
        using (var dev = DeviceFile.OpenRead(img))
        {
            var boot = new byte[512];
            dev.ReadExactly(0, boot);
            Assert.True(NtfsGeometry.TryParse(boot, out var g, out _));
            mft = g.MftLcn * g.ClusterBytes;
        }
        // Boot sector fields, and records 0 ($MFT), 1 ($MFTMirr) and 6 ($Bitmap) headers and attributes.
        Fuzz(img, dev => new NtfsScanner().Scan(dev, 0, dev.Size),
            [(0, 0x50), (mft, 1024), (mft + 1024, 1024), (mft + 6 * 1024, 1024)], seed: 6);
    }

    [Fact]
    public void Damaged_fat_boot_sector_never_crashes_the_scanner()
    {
        using var tmp = new TempDirectory("fuzz");
        string img = tmp.File("fat.img");
        FsImage.Fat(img, 16 * FsImage.MiB, 12);
        Fuzz(img, dev => new FatScanner().Scan(dev, 0, dev.Size), [(0, 0x40)], seed: 12);
    }

    [Fact]
    public void Damaged_partition_tables_never_crash_the_mapper()
    {
        using var tmp = new TempDirectory("fuzz");
        static BlockMap Whole(DeviceFile d, long o, long l) => BlockMap.Whole(l);
        string mbr = tmp.File("mbr.img");
        using (var fs = File.Create(mbr)) fs.SetLength(32 * FsImage.MiB);
        Tool.Run("sfdisk", ["-q", mbr], stdin: "label: dos\nstart=2048, size=8192, type=83\nstart=10240, size=40960, type=5\nstart=12288, size=4096, type=83\nstart=18432, size=4096, type=83\n");
        // Partition entries, the first EBR's entries and the second EBR's.
        Fuzz(mbr, dev => DiskMapper.Map(dev, Whole), [(0x1BE, 64), (10240L * 512 + 0x1BE, 32), (16384L * 512 + 0x1BE, 32)], seed: 1);

        string gpt = tmp.File("gpt.img");
        using (var fs = File.Create(gpt)) fs.SetLength(32 * FsImage.MiB);
        Tool.Run("sfdisk", ["-q", gpt], stdin: "label: gpt\nstart=2048, size=8192\nstart=10240, size=8192\n");
        // Protective MBR entry and the primary header: CRC catches most, the backup takes over.
        Fuzz(gpt, dev => DiskMapper.Map(dev, Whole), [(0x1BE, 16), (512, 92)], seed: 2);
    }
}
