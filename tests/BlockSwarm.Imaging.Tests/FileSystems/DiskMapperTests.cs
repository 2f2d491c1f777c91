using System.Globalization;
using System.Text.Json;
using BlockSwarm.Imaging.FileSystems;
using BlockSwarm.Imaging.Partitions;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Tests.FileSystems;

public sealed class DiskMapperTests(ITestOutputHelper output)
{
    private const long Sector = 512;

    // 64 MiB: p1 FAT16, p2 extended { p5 FAT12, p6 NTFS }, p3 type 0x83 with no filesystem (fallback).
    private const string MbrScript =
        "label: dos\nstart=2048, size=32768, type=e\nstart=34816, size=77824, type=5\n" +
        "start=36864, size=16384, type=1\nstart=55296, size=53248, type=7\nstart=112640, size=18432, type=83\n";

    // 64 MiB: p1 FAT16 "fat", p2 NTFS, p3 Linux data with no filesystem (fallback).
    private const string GptScript =
        "label: gpt\nstart=2048, size=32768, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=\"fat\"\n" +
        "start=34816, size=40960, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n" +
        "start=75776, size=16384, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n";

    private static BlockMap WholeVolume(DeviceFile d, long offset, long length) => BlockMap.Whole(length);

    private static string MakeDisk(TempDirectory tmp, string name, string script)
    {
        string img = tmp.File(name);
        using (var fs = File.Create(img)) fs.SetLength(64 * FsImage.MiB);
        Tool.Run("sfdisk", ["-q", img], stdin: script);
        return img;
    }

    /// <summary>(number, start sector, size in sectors, type) from sfdisk -J, the reference parser.</summary>
    private static List<(int Number, long Start, long Size, string Type)> Sfdisk(string img)
    {
        using var doc = JsonDocument.Parse(Tool.Run("sfdisk", "-J", img).StdOut);
        var list = new List<(int, long, long, string)>();
        foreach (var p in doc.RootElement.GetProperty("partitiontable").GetProperty("partitions").EnumerateArray())
        {
            string node = p.GetProperty("node").GetString()!;
            int number = int.Parse(node[(img.Length)..], CultureInfo.InvariantCulture);
            list.Add((number, p.GetProperty("start").GetInt64(), p.GetProperty("size").GetInt64(), p.GetProperty("type").GetString()!));
        }
        return list;
    }

    private static void AssertMatchesSfdisk(PartitionTable table, string img, bool gpt)
    {
        var expected = Sfdisk(img);
        Assert.Equal(expected.Select(e => e.Number), table.Partitions.Select(p => p.Number));
        foreach (var (number, start, size, type) in expected)
        {
            var p = table.Get(number);
            Assert.Equal(start * Sector, p.Start);
            // Linux shows an extended container as 1 KiB (2 sectors, EBR access only); we keep its real extent.
            if (!p.IsExtended) Assert.Equal(size * Sector, p.Length);
            string ours = gpt ? p.Type.ToUpperInvariant() : Convert.ToInt32(p.Type, 16).ToString("x", CultureInfo.InvariantCulture);
            Assert.Equal(type, ours);
        }
    }

    private void CheckWholeDiskMap(string img, TempDirectory tmp, Action<string, PartitionTable> checkCopy)
    {
        PartitionTable table;
        BlockMap disk;
        var perPartition = new Dictionary<int, BlockMap>();
        using (var dev = DeviceFile.OpenRead(img))
        {
            table = PartitionTable.Read(dev);
            disk = DiskMapper.Map(dev, WholeVolume);
            foreach (var p in table.Volumes)
                perPartition[p.Number] = DiskMapper.MapPartition(dev, p.Number, WholeVolume);
        }
        output.WriteLine($"{table.Scheme}: {string.Join("; ", table.Partitions)} -> {FsTestKit.Describe(disk)}");
        foreach (var p in table.Volumes)
        {
            Assert.Equal(p.Length, perPartition[p.Number].DeviceSize);
            Assert.True(disk.Covers(perPartition[p.Number].Shift(p.Start, disk.DeviceSize)), $"disk map misses part of partition {p.Number}");
        }
        foreach (var m in table.MetadataExtents)
            Assert.True(disk.Covers(BlockMap.FromExtents(disk.DeviceSize, 1, [m])), $"disk map misses table sectors {m}");
        Assert.True(disk.UsedBytes < disk.DeviceSize / 2, "the map should leave most of a nearly empty disk out");

        string copy = tmp.File("copy-" + Path.GetFileName(img));
        FsTestKit.CopyByMap(img, disk, copy);
        using (var dev = DeviceFile.OpenRead(copy))
        {
            var again = PartitionTable.Read(dev);
            Assert.Equal(table.Partitions, again.Partitions);
            Assert.Empty(again.Warnings);
        }
        checkCopy(copy, table);
    }

    private static void FsckFat(string image, Partition p, string tree, TempDirectory tmp)
    {
        using (var loop = LoopDevice.Attach(image, p.Start, p.Length))
        {
            var r = Tool.Run("fsck.vfat", ["-n", loop.Path], check: false);
            Assert.True(r.ExitCode == 0, $"partition {p.Number}: " + r.StdOut + r.StdErr);
        }
        FsTestKit.AssertFatTreeEquals(image, tree, tmp, p.Start);
    }

    private static void CheckNtfs(string image, Partition p, string tree, TempDirectory tmp)
    {
        using var loop = LoopDevice.Attach(image, p.Start, p.Length);
        var r = Tool.Run("ntfsfix", ["-n", loop.Path], check: false);
        Assert.True(r.ExitCode == 0, $"partition {p.Number}: " + r.StdOut + r.StdErr);
        FsTestKit.AssertNtfsTreeEquals(loop.Path, tree);
    }

    [Fact]
    [Requires(Need.Root, Need.LoopDevice, "mkfs.vfat", "mkfs.ntfs", "ntfs-3g", "ntfsfix", "sfdisk")]
    public void Mbr_with_logical_partitions_maps_and_copies_cleanly()
    {
        using var tmp = new TempDirectory("mbr");
        string tree = FsTestKit.WriteTree(tmp);
        string img = MakeDisk(tmp, "mbr.img", MbrScript);
        FsImage.FatInPartition(img, 2048 * Sector, 32768 * Sector, 16, tree);
        FsImage.FatInPartition(img, 36864 * Sector, 16384 * Sector, 12, tree);
        using (var loop = LoopDevice.Attach(img, 55296 * Sector, 53248 * Sector))
            FsImage.Ntfs(loop.Path, 0, tree);

        using (var dev = DeviceFile.OpenRead(img))
        {
            var table = PartitionTable.Read(dev);
            Assert.Equal(PartitionScheme.Mbr, table.Scheme);
            AssertMatchesSfdisk(table, img, gpt: false);
            Assert.True(table.Get(2).IsExtended);
            Assert.IsType<FatScanner>(FileSystemDetector.Detect(dev, table.Get(5).Start, table.Get(5).Length));
            Assert.IsType<NtfsScanner>(FileSystemDetector.Detect(dev, table.Get(6).Start, table.Get(6).Length));
            Assert.Null(FileSystemDetector.Detect(dev, table.Get(3).Start, table.Get(3).Length));
            Assert.Contains(new Extent(34816 * Sector, 512), table.MetadataExtents); // first EBR
            var volumes = DiskMapper.Inspect(dev, out _);
            Assert.Equal(["1:vfat", "3:unknown", "5:vfat", "6:ntfs"],
                volumes.Select(v => $"{v.Partition.Number}:{v.FileSystem}").Order(StringComparer.Ordinal));
        }

        CheckWholeDiskMap(img, tmp, (copy, table) =>
        {
            FsckFat(copy, table.Get(1), tree, tmp);
            FsckFat(copy, table.Get(5), tree, tmp);
            CheckNtfs(copy, table.Get(6), tree, tmp);
        });
    }

    [Fact]
    [Requires(Need.Root, Need.LoopDevice, "mkfs.vfat", "mkfs.ntfs", "ntfs-3g", "ntfsfix", "sfdisk")]
    public void Gpt_maps_and_copies_cleanly_and_survives_a_bad_primary_header()
    {
        using var tmp = new TempDirectory("gpt");
        string tree = FsTestKit.WriteTree(tmp);
        string img = MakeDisk(tmp, "gpt.img", GptScript);
        FsImage.FatInPartition(img, 2048 * Sector, 32768 * Sector, 16, tree);
        using (var loop = LoopDevice.Attach(img, 34816 * Sector, 40960 * Sector))
            FsImage.Ntfs(loop.Path, 0, tree);

        using (var dev = DeviceFile.OpenRead(img))
        {
            var table = PartitionTable.Read(dev);
            Assert.Equal(PartitionScheme.Gpt, table.Scheme);
            Assert.Empty(table.Warnings);
            AssertMatchesSfdisk(table, img, gpt: true);
            Assert.Equal("fat", table.Get(1).Name);
            long last = dev.Size - Sector;
            Assert.Contains(new Extent(last, Sector), table.MetadataExtents); // backup header
            Assert.Contains(new Extent(last - 32 * Sector, 32 * Sector), table.MetadataExtents); // backup entries
        }

        CheckWholeDiskMap(img, tmp, (copy, table) =>
        {
            FsckFat(copy, table.Get(1), tree, tmp);
            CheckNtfs(copy, table.Get(2), tree, tmp);
        });

        // Corrupt the primary header: the backup takes over with a warning.
        Flip(img, Sector + 0x30);
        using (var dev = DeviceFile.OpenRead(img))
        {
            var table = PartitionTable.Read(dev);
            Assert.Contains(table.Warnings, w => w.Contains("primary header is bad", StringComparison.Ordinal) && w.Contains("CRC32", StringComparison.Ordinal));
            AssertMatchesSfdisk(table, img, gpt: true);
        }
        // And the backup header too: a clear error.
        Flip(img, new FileInfo(img).Length - Sector + 0x30);
        using (var dev = DeviceFile.OpenRead(img))
        {
            var ex = Assert.Throws<BlockMapException>(() => PartitionTable.Read(dev));
            Assert.Contains("backup header bad", ex.Message);
            Assert.Contains("--map nonzero", ex.Message);
        }
    }

    private static void Flip(string img, long offset)
    {
        using var fs = new FileStream(img, FileMode.Open, FileAccess.ReadWrite);
        fs.Position = offset;
        int b = fs.ReadByte();
        fs.Position = offset;
        fs.WriteByte((byte)(b ^ 0xFF));
    }

    [Fact]
    public void Overlapping_partitions_are_rejected()
    {
        using var tmp = new TempDirectory("mbr");
        string img = MakeDisk(tmp, "overlap.img", "label: dos\nstart=2048, size=20480, type=c\nstart=30720, size=20480, type=83\n");
        // Move partition 2's start into partition 1 by hand; sfdisk itself refuses to.
        using (var fs = new FileStream(img, FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = 0x1BE + 16 + 8;
            fs.Write(BitConverter.GetBytes(10240u));
        }
        using var dev = DeviceFile.OpenRead(img);
        var ex = Assert.Throws<BlockMapException>(() => PartitionTable.Read(dev));
        Assert.Contains("overlap", ex.Message);
        Assert.Contains("--map nonzero", ex.Message);
    }

    [Fact]
    public void Partition_past_the_end_is_rejected()
    {
        using var tmp = new TempDirectory("mbr");
        string img = MakeDisk(tmp, "short.img", "label: dos\nstart=2048, size=20480, type=c\nstart=30720, size=81920, type=83\n");
        using (var fs = File.OpenWrite(img)) fs.SetLength(32 * FsImage.MiB);
        using var dev = DeviceFile.OpenRead(img);
        var ex = Assert.Throws<BlockMapException>(() => DiskMapper.Map(dev, WholeVolume));
        Assert.Contains("partition 2", ex.Message);
        Assert.Contains("past the end", ex.Message);
    }

    [Fact]
    public void Unpartitioned_fat_image_maps_as_one_volume_and_unknown_partition_uses_the_fallback()
    {
        using var tmp = new TempDirectory("flat");
        string img = tmp.File("fat.img");
        FsImage.Fat(img, 16 * FsImage.MiB, 16);
        using (var dev = DeviceFile.OpenRead(img))
        {
            Assert.Equal(PartitionScheme.None, PartitionTable.Read(dev).Scheme);
            Assert.Equal(new FatScanner().Scan(dev, 0, dev.Size).Extents, DiskMapper.Map(dev, WholeVolume).Extents);
        }

        string disk = MakeDisk(tmp, "gpt.img", GptScript);
        using var d = DeviceFile.OpenRead(disk);
        int calls = 0;
        var map = DiskMapper.MapPartition(d, 3, (dev, off, len) => { calls++; return BlockMap.Whole(len); });
        Assert.Equal(1, calls);
        Assert.Equal(16384 * Sector, map.UsedBytes);
        Assert.Throws<BlockMapException>(() => DiskMapper.MapPartition(d, 9, WholeVolume));
    }

    [Fact]
    [Requires(Need.Root, Need.LoopDevice, "sfdisk")]
    public void Gpt_on_4k_sectors_is_found_at_byte_4096()
    {
        using var tmp = new TempDirectory("gpt4k");
        string img = tmp.File("4k.img");
        using (var fs = File.Create(img)) fs.SetLength(64 * FsImage.MiB);
        using (var loop = LoopDevice.Attach(img, sectorSize: 4096))
        {
            Tool.Run("sfdisk", ["-q", "--no-reread", loop.Path], stdin:
                "label: gpt\nstart=256, size=4096, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n" +
                "start=4352, size=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n");
        }

        using var dev = DeviceFile.OpenRead(img);
        var table = PartitionTable.Read(dev);
        Assert.Equal(PartitionScheme.Gpt, table.Scheme);
        Assert.Equal(4096, table.SectorSize);
        Assert.Equal([(1, 256L * 4096, 4096L * 4096), (2, 4352L * 4096, 2048L * 4096)],
            table.Partitions.Select(p => (p.Number, p.Start, p.Length)));
        Assert.Contains(new Extent(dev.Size - 4096, 4096), table.MetadataExtents);
    }

    [Fact]
    public void Ebr_chain_that_loops_is_rejected()
    {
        using var tmp = new TempDirectory("mbr");
        string img = MakeDisk(tmp, "loop.img", "label: dos\nstart=2048, size=20480, type=5\nstart=4096, size=2048, type=83\n");
        // Point the first EBR's link entry back at itself (relative start 0 is "end", so use a
        // second EBR that links back to the first).
        using (var fs = new FileStream(img, FileMode.Open, FileAccess.ReadWrite))
        {
            long ebr1 = 2048 * Sector;
            long ebr2 = 8192 * Sector;
            var link = new byte[16];
            link[4] = 0x05;
            BitConverter.TryWriteBytes(link.AsSpan(8), 8192u - 2048u);
            BitConverter.TryWriteBytes(link.AsSpan(12), 2048u);
            fs.Position = ebr1 + 0x1CE; fs.Write(link);
            var back = new byte[512];
            back[510] = 0x55; back[511] = 0xAA;
            back[0x1CE + 4] = 0x05;
            BitConverter.TryWriteBytes(back.AsSpan(0x1CE + 8), 0u + 1u); // EBR at extended start + 1 sector...
            fs.Position = ebr2; fs.Write(back);
            // ...whose own link returns to ebr2: a cycle of two.
            var third = new byte[512];
            third[510] = 0x55; third[511] = 0xAA;
            third[0x1CE + 4] = 0x05;
            BitConverter.TryWriteBytes(third.AsSpan(0x1CE + 8), 8192u - 2048u);
            fs.Position = ebr1 + Sector; fs.Write(third);
        }
        using var dev = DeviceFile.OpenRead(img);
        var ex = Assert.Throws<BlockMapException>(() => PartitionTable.Read(dev));
        Assert.Contains("loops", ex.Message);
    }

    [Fact]
    public void Crc32_matches_the_standard_check_value() =>
        Assert.Equal(0xCBF43926u, System.IO.Hashing.Crc32.HashToUInt32("123456789"u8));
}
