using System.Buffers.Binary;
using BlockSwarm.Imaging;
using BlockSwarm.Imaging.FileSystems;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Tests.FileSystems;

public sealed class ExtScannerTests(ITestOutputHelper output)
{
    /// <summary>
    /// Each layout against real mke2fs output: our map must cover partclone's, and a copy made
    /// from our map alone must pass e2fsck and hold every file byte for byte.
    /// </summary>
    [Theory]
    [InlineData("ext4-4k", "mkfs.ext4", "ext4", 128, "-b 4096 -g 8192")]     // 4 groups, flex_bg, BLOCK_UNINIT groups
    [InlineData("ext4-1k", "mkfs.ext4", "ext4", 64, "-b 1024")]              // first_data_block = 1, 8 groups
    [InlineData("ext4-noflex", "mkfs.ext4", "ext4", 128, "-b 4096 -g 8192 -O ^flex_bg")]
    [InlineData("ext4-64bit", "mkfs.ext4", "ext4", 128, "-b 4096 -g 8192 -O 64bit")]
    [InlineData("ext4-no64bit", "mkfs.ext4", "ext4", 128, "-b 4096 -g 8192 -O ^64bit")]
    [InlineData("ext4-metabg", "mkfs.ext4", "ext4", 64, "-b 1024 -g 1024 -O meta_bg,^resize_inode")] // 64 groups, 4 meta groups
    [InlineData("ext4-sparse2", "mkfs.ext4", "ext4", 128, "-b 4096 -g 4096 -O sparse_super2")] // backups only in the two listed groups
    [InlineData("ext2", "mkfs.ext2", "ext2", 64, "-b 1024")]
    [InlineData("ext3", "mkfs.ext3", "ext3", 64, "-b 4096 -g 4096")]
    public void Scan_covers_partclone_and_copy_passes_fsck(string name, string mkfs, string expectedKind, int sizeMiB, string options) =>
        ScanAndVerify(name, mkfs, expectedKind, sizeMiB, options, comparePartclone: true);

    /// <summary>
    /// bigalloc: bitmap bits are 16-block clusters. partclone 0.3.23 cannot clone it ("bitmap free
    /// count err"), so only e2fsck and the file contents judge the map.
    /// </summary>
    [Fact]
    public void Bigalloc_copy_passes_fsck() =>
        ScanAndVerify("ext4-bigalloc", "mkfs.ext4", "ext4", 128, "-b 4096 -O bigalloc -C 65536", comparePartclone: false);

    private void ScanAndVerify(string name, string mkfs, string expectedKind, int sizeMiB, string options, bool comparePartclone)
    {
        using var tmp = new TempDirectory("ext");
        string content = FsTestKit.PopulateSource(tmp);
        string image = FsImage.Ext4(tmp.File(name + ".img"), sizeMiB << 20, content, options.Split(' '), mkfs);

        var scanner = new ExtScanner();
        var head = FsTestKit.Head(image);
        Assert.True(scanner.Probe(head));
        Assert.Equal(expectedKind, ExtScanner.Detect(head));

        BlockMap ours;
        using (var dev = DeviceFile.OpenRead(image)) ours = scanner.Scan(dev, 0, dev.Size);
        Assert.Equal(new FileInfo(image).Length, ours.DeviceSize);

        output.WriteLine($"{name}: block {ours.BlockSize}, ours {ours.UsedBytes / ours.BlockSize} blocks in {ours.Extents.Length} extents; scan read {scanner.BytesRead} bytes");
        if (comparePartclone) ComparePartclone(name, image, ours, tmp);

        string copy = FsTestKit.CopyByMap(image, ours, tmp);
        var fsck = Tool.Run("e2fsck", ["-fn", copy], check: false);
        Assert.True(fsck.ExitCode == 0, $"e2fsck on the copy exited {fsck.ExitCode}:\n{fsck.StdOut}\n{fsck.StdErr}");

        string dump = tmp.File("dump");
        Directory.CreateDirectory(dump);
        Tool.Run("debugfs", "-R", $"rdump / {dump}", copy);
        int files = ContentTree.AssertContained(content, dump);
        Assert.True(files > 60);
    }

    private void ComparePartclone(string name, string image, BlockMap ours, TempDirectory tmp)
    {
        var partclone = FsTestKit.PartcloneMap("partclone.extfs", image, tmp);
        long missing = FsTestKit.BlocksOnlyIn(partclone, ours, ours.BlockSize);
        long extra = FsTestKit.BlocksOnlyIn(ours, partclone, ours.BlockSize);
        output.WriteLine($"{name}: partclone {partclone.UsedBytes / ours.BlockSize} blocks; only partclone {missing}, only ours {extra}");
        Assert.Equal(0, missing);
        // partclone reads the same bitmaps through libext2fs, so the maps should be identical.
        Assert.Equal(0, extra);
    }

    /// <summary>
    /// A BLOCK_UNINIT group's on-disk bitmap is not valid: the scanner must compute the group's
    /// used set instead of reading it. Filling those bitmaps with ones must change nothing.
    /// </summary>
    [Fact]
    public void Block_uninit_groups_are_computed_not_read()
    {
        using var tmp = new TempDirectory("ext");
        string image = FsImage.Ext4(tmp.File("uninit.img"), 128 << 20, options: ["-b", "4096", "-g", "4096"]);
        BlockMap before;
        using (var dev = DeviceFile.OpenRead(image)) before = new ExtScanner().Scan(dev, 0, dev.Size);

        var uninitBitmaps = new List<long>();
        bool inUninitGroup = false;
        foreach (string line in Tool.Run("dumpe2fs", image).StdOut.Split('\n'))
        {
            if (line.StartsWith("Group ", StringComparison.Ordinal)) inUninitGroup = line.Contains("BLOCK_UNINIT", StringComparison.Ordinal);
            else if (inUninitGroup && line.TrimStart().StartsWith("Block bitmap at ", StringComparison.Ordinal))
                uninitBitmaps.Add(long.Parse(line.TrimStart()["Block bitmap at ".Length..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
        }
        output.WriteLine($"{uninitBitmaps.Count} BLOCK_UNINIT groups");
        Assert.True(uninitBitmaps.Count >= 4);
        var ones = new byte[4096];
        Array.Fill(ones, (byte)0xFF);
        foreach (long b in uninitBitmaps) FsTestKit.Patch(image, b * 4096, ones);

        using (var dev = DeviceFile.OpenRead(image))
            Assert.Equal(before.Extents, new ExtScanner().Scan(dev, 0, dev.Size).Extents);
    }

    [Fact]
    public void Truncated_image_is_refused()
    {
        using var tmp = new TempDirectory("ext");
        string image = FsImage.Ext4(tmp.File("trunc.img"), 64 << 20, options: ["-b", "4096"]);
        using (var f = new FileStream(image, FileMode.Open)) f.SetLength(40 << 20);

        using var dev = DeviceFile.OpenRead(image);
        var ex = Assert.Throws<BlockMapException>(() => new ExtScanner().Scan(dev, 0, dev.Size));
        Assert.Contains("--map nonzero", ex.Message);
        output.WriteLine(ex.Message);
        // A caller that believes the volume is longer than the device gets the same answer.
        Assert.Throws<BlockMapException>(() => new ExtScanner().Scan(dev, 0, 64 << 20));
    }

    [Fact]
    public void Corrupt_superblock_is_refused()
    {
        using var tmp = new TempDirectory("ext");
        string image = FsImage.Ext4(tmp.File("bad.img"), 32 << 20, options: ["-b", "1024"]);
        var scanner = new ExtScanner();

        // Absurd blocks per group: more than one bitmap block can describe.
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(v, 0xFFFFFFF0);
        FsTestKit.Patch(image, 1024 + 0x20, v);
        using (var dev = DeviceFile.OpenRead(image))
        {
            var ex = Assert.Throws<BlockMapException>(() => scanner.Scan(dev, 0, dev.Size));
            Assert.Contains("per group", ex.Message);
        }

        // No magic: Probe says no and Scan refuses.
        FsTestKit.Patch(image, 1024 + 0x38, [0, 0]);
        Assert.False(scanner.Probe(FsTestKit.Head(image)));
        Assert.Null(ExtScanner.Detect(FsTestKit.Head(image)));
        using (var dev = DeviceFile.OpenRead(image))
            Assert.Throws<BlockMapException>(() => scanner.Scan(dev, 0, dev.Size));
    }

    [Fact]
    public void Group_descriptor_pointing_outside_the_filesystem_is_refused()
    {
        using var tmp = new TempDirectory("ext");
        string image = FsImage.Ext4(tmp.File("gd.img"), 32 << 20, options: ["-b", "1024", "-O", "^64bit"]);
        // 1 KiB blocks: descriptors start at block 2; group 3's block bitmap -> block 0x7FFFFFFF.
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(v, 0x7FFFFFFF);
        FsTestKit.Patch(image, 2 * 1024 + 3 * 32, v);
        using var dev = DeviceFile.OpenRead(image);
        var ex = Assert.Throws<BlockMapException>(() => new ExtScanner().Scan(dev, 0, dev.Size));
        Assert.Contains("group 3", ex.Message);
    }

    [Fact]
    public void Scan_of_a_volume_inside_a_disk_is_relative_to_the_volume()
    {
        using var tmp = new TempDirectory("ext");
        string image = FsImage.Ext4(tmp.File("vol.img"), 32 << 20, options: ["-b", "4096"]);
        string disk = FsImage.Blank(tmp.File("disk.img"), 40 << 20);
        Tool.Run("dd", "if=" + image, "of=" + disk, "bs=1M", "seek=1", "conv=notrunc,sparse", "status=none");

        BlockMap direct, inDisk;
        using (var dev = DeviceFile.OpenRead(image)) direct = new ExtScanner().Scan(dev, 0, dev.Size);
        using (var dev = DeviceFile.OpenRead(disk)) inDisk = new ExtScanner().Scan(dev, 1 << 20, 32 << 20);
        Assert.Equal(direct.Extents, inDisk.Extents);
        Assert.Equal(32 << 20, inDisk.DeviceSize);
    }
}
