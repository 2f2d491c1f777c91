using System.Buffers.Binary;
using BlockSwarm.Imaging;
using BlockSwarm.Imaging.FileSystems;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.Tests.FileSystems;

public sealed class XfsScannerTests(ITestOutputHelper output)
{
    // mkfs.xfs (xfsprogs >= 5.19) refuses filesystems under 300 MB; the image is sparse, so 320 MiB costs little.
    private const long ImageSize = 320L << 20;

    /// <summary>
    /// v5 (CRC, 56-byte btree headers) and v4 (16-byte headers): our map must cover partclone's,
    /// and a copy made from our map alone must pass xfs_repair -n and hold every file.
    /// </summary>
    [Theory]
    [Requires(Need.Root, Need.LoopDevice, "mkfs.xfs", "xfs_repair", "xfs_db", "partclone.xfs")]
    [InlineData("xfs-v5", "-m crc=1")]
    [InlineData("xfs-v4", "-m crc=0")]
    public void Scan_covers_partclone_and_copy_passes_repair(string name, string options)
    {
        using var tmp = new TempDirectory("xfs");
        string content = FsTestKit.PopulateSource(tmp);
        string image = "";
        string mnt = tmp.File("mnt");
        Directory.CreateDirectory(mnt);
        bool populated = false;
        // Under heavy parallel load the loop-mounted source has (rarely) come back inconsistent after umount —
        // xfs_repair -n fails on the source itself, and partclone then agrees with our map. That is the test
        // rig, not the scanner: make the source again (up to 3 times) and only then judge the scanner.
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            // FsImage.Xfs starts every attempt from a new, all-zero file: mkfs.xfs over the previous attempt's image
            // leaves its old inodes and btree blocks wherever the new file system does not write, and a retried run
            // then failed on that stale data (xfs_repair on the copy: "UUID mismatch on inode").
            image = FsImage.Xfs(tmp.File($"{name}-{attempt}.img"), ImageSize, options.Split(' '));
            Tool.Run("sync");
            // An explicit loop device with its buffers flushed on both sides, not `mount -o loop`: a loop device
            // reused right after an auto-clear detach has shown a stale view (even the previous attempt's files).
            using (var loop = LoopDevice.Attach(image, directIo: false))
            {
                loop.FlushBuffers();
                // A kernel built without XFS v4 support cannot mount crc=0: then only the empty file system is scanned.
                var mount = Tool.Run("mount", ["-o", "rw", loop.Path, mnt], check: false);
                populated = mount.ExitCode == 0;
                if (!populated)
                {
                    output.WriteLine($"mount failed, scanning an empty file system only: {mount.StdErr.Trim()}");
                    break;
                }
                try
                {
                    Tool.Run("cp", "-a", content + "/.", mnt);
                    // 1500 one-block files with every other one deleted leave ~750 single-block holes
                    // in one AG: more than a bnobt leaf holds, so the walk must descend a node level.
                    Tool.Sh($"mkdir -p {mnt}/holes && cd {mnt}/holes && for i in $(seq 1 1500); do printf x > f$i; done && sync && rm -f f*[13579]");
                }
                finally
                {
                    Tool.Run("umount", mnt);
                    loop.FlushBuffers();
                }
            }
            Tool.Run("sync");
            var sourceRepair = Tool.Run("xfs_repair", ["-n", "-f", image], check: false);
            if (sourceRepair.ExitCode == 0) break;
            output.WriteLine($"attempt {attempt}: the source image is inconsistent after umount; making it again");
            Assert.True(attempt < 3, $"the source image itself is inconsistent after umount, 3 times:\n{sourceRepair.StdOut}");
        }
        for (int ag = 0; ag < 4 && populated; ag++)
            output.WriteLine("AG " + ag + ": " + Tool.Run("xfs_db", "-r", "-c", $"agf {ag}", "-c", "p bnolevel", image).StdOut.Trim());

        var scanner = new XfsScanner();
        Assert.True(scanner.Probe(FsTestKit.Head(image)));
        BlockMap ours;
        using (var dev = DeviceFile.OpenRead(image)) ours = scanner.Scan(dev, 0, dev.Size);

        var partclone = FsTestKit.PartcloneMap("partclone.xfs", image, tmp);
        long missing = FsTestKit.BlocksOnlyIn(partclone, ours, ours.BlockSize);
        long extra = FsTestKit.BlocksOnlyIn(ours, partclone, ours.BlockSize);
        output.WriteLine($"{name}: block {ours.BlockSize}, ours {ours.UsedBytes / ours.BlockSize} blocks in {ours.Extents.Length} extents, " +
                         $"partclone {partclone.UsedBytes / ours.BlockSize}; only partclone {missing}, only ours {extra}; scan read {scanner.BytesRead} bytes");
        Assert.Equal(0, missing);
        // partclone.xfs counts the blocks parked on each AG free list (AGFL) as free; they are
        // allocated (not in the bnobt), so we copy them. That is the whole difference.
        Assert.Equal(AgflBlocks(image), extra);

        string copy = FsTestKit.CopyByMap(image, ours, tmp);
        var repair = Tool.Run("xfs_repair", ["-n", "-f", copy], check: false);
        Assert.True(repair.ExitCode == 0, $"xfs_repair -n on the copy exited {repair.ExitCode}:\n{repair.StdOut}\n{repair.StdErr}");

        if (populated)
        {
            // nouuid: the source carries the same UUID (not mounted now, but be robust).
            var mount = Tool.Run("mount", ["-o", "loop,ro,nouuid", copy, mnt], check: false);
            Assert.True(mount.ExitCode == 0, $"the copy does not mount: {mount.StdErr}");
            try { Assert.True(ContentTree.AssertContained(content, mnt) > 60); }
            finally { Tool.Run("umount", mnt); }
        }
    }

    /// <summary>Sum of agf_flcount over all AGs, read straight from the image.</summary>
    private static long AgflBlocks(string image)
    {
        var head = FsTestKit.Head(image);
        uint blockSize = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(4));
        uint agBlocks = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(0x54));
        uint agCount = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(0x58));
        int sectSize = BinaryPrimitives.ReadUInt16BigEndian(head.AsSpan(0x66));
        using var h = File.OpenHandle(image);
        var agf = new byte[0x34];
        long total = 0;
        for (uint ag = 0; ag < agCount; ag++)
        {
            RandomAccess.Read(h, agf, (long)ag * agBlocks * blockSize + sectSize);
            total += BinaryPrimitives.ReadUInt32BigEndian(agf.AsSpan(0x30));
        }
        return total;
    }

    [Fact]
    public void Truncated_image_is_refused()
    {
        using var tmp = new TempDirectory("xfs");
        string image = FsImage.Xfs(tmp.File("trunc.img"), ImageSize);
        using (var f = new FileStream(image, FileMode.Open)) f.SetLength(200L << 20);
        using var dev = DeviceFile.OpenRead(image);
        var ex = Assert.Throws<BlockMapException>(() => new XfsScanner().Scan(dev, 0, dev.Size));
        Assert.Contains("--map nonzero", ex.Message);
        output.WriteLine(ex.Message);
    }

    [Fact]
    public void Corrupt_metadata_is_refused()
    {
        using var tmp = new TempDirectory("xfs");
        string image = FsImage.Xfs(tmp.File("bad.img"), ImageSize);
        var scanner = new XfsScanner();
        var head = FsTestKit.Head(image);
        uint blockSize = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(4));
        uint agBlocks = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(0x54));
        int sectSize = BinaryPrimitives.ReadUInt16BigEndian(head.AsSpan(0x66));

        // AG 1's AGF magic zeroed.
        long agf1 = (long)agBlocks * blockSize + sectSize;
        FsTestKit.Patch(image, agf1, [0, 0, 0, 0]);
        using (var dev = DeviceFile.OpenRead(image))
            Assert.Contains("AGF", Assert.Throws<BlockMapException>(() => scanner.Scan(dev, 0, dev.Size)).Message);
        FsTestKit.Patch(image, agf1, "XAGF"u8);

        // AG 2's bnobt root pointing outside the AG.
        long agf2 = 2L * agBlocks * blockSize + sectSize;
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(v, agBlocks + 5);
        FsTestKit.Patch(image, agf2 + 0x10, v);
        using (var dev = DeviceFile.OpenRead(image))
            Assert.Throws<BlockMapException>(() => scanner.Scan(dev, 0, dev.Size));

        // Absurd AG size in the superblock.
        BinaryPrimitives.WriteUInt32BigEndian(v, 0xFFFFFFF0);
        FsTestKit.Patch(image, 0x54, v);
        using (var dev = DeviceFile.OpenRead(image))
            Assert.Throws<BlockMapException>(() => scanner.Scan(dev, 0, dev.Size));

        // No magic: Probe says no and Scan refuses.
        FsTestKit.Patch(image, 0, [0, 0, 0, 0]);
        Assert.False(scanner.Probe(FsTestKit.Head(image)));
        using (var dev = DeviceFile.OpenRead(image))
            Assert.Throws<BlockMapException>(() => scanner.Scan(dev, 0, dev.Size));
    }
}
