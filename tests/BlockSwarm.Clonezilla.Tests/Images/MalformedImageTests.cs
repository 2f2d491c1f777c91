using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Images;

/// <summary>Every way a directory can be unusable gives a ClonezillaFormatException that names the problem.</summary>
public sealed class MalformedImageTests : IDisposable
{
    private readonly TempDirectory _dir = new("cz-malformed");

    private string Dir => _dir.Path;

    public void Dispose() => _dir.Dispose();

    /// <summary>A small valid savedisk directory: MBR disk sda of 64 MiB, sda1 ext4 split in two zstd pieces, sda2 swap.</summary>
    private void WriteValid()
    {
        File.WriteAllText(_dir.File("disk"), "sda\n");
        File.WriteAllText(_dir.File("parts"), "sda1\n");
        File.WriteAllText(_dir.File("sda-pt.sf"), """
            label: dos
            label-id: 0x12345678
            device: /dev/sda
            unit: sectors
            sector-size: 512

            /dev/sda1 : start=        2048, size=       32768, type=83, bootable
            /dev/sda2 : start=       34816, size=       16384, type=82

            """);
        File.WriteAllText(_dir.File("sda-pt.parted"), "Disk /dev/sda: 131072s\nSector size (logical/physical): 512B/512B\nPartition Table: msdos\n");
        File.WriteAllBytes(_dir.File("sda-mbr"), new byte[512]);
        File.WriteAllBytes(_dir.File("sda1.ext4-ptcl-img.zst.aa"), new byte[1000]);
        File.WriteAllBytes(_dir.File("sda1.ext4-ptcl-img.zst.ab"), new byte[10]);
        File.WriteAllText(_dir.File("swappt-sda2.info"), "UUID=\"5a5a5a5a-1111-2222-3333-444444444444\"\nLABEL=\"\"\n");
    }

    private void AssertRefused(params string[] expected)
    {
        var ex = Assert.Throws<ClonezillaFormatException>(() => ClonezillaImage.Load(Dir));
        foreach (var e in expected) Assert.Contains(e, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_valid_directory_loads()
    {
        WriteValid();
        var disk = Assert.Single(ClonezillaImage.Load(Dir).Disks);
        Assert.Equal(64L << 20, disk.Size);
        Assert.Equal(ClonezillaContentKind.Partclone, disk.Partitions[0].Content);
        Assert.Equal([_dir.File("sda1.ext4-ptcl-img.zst.aa"), _dir.File("sda1.ext4-ptcl-img.zst.ab")], disk.Partitions[0].Image!.Files);
        Assert.Equal(ClonezillaContentKind.Swap, disk.Partitions[1].Content);
        // Outside sda1 and sda2: the zeroed first MiB with the MBR over it, and the zeroed last 512 KiB.
        Assert.Equal([(0L, 446L), (446, 512), (512, 1 << 20), ((64L << 20) - (512 << 10), 64L << 20)],
            disk.BootAreas.Select(a => (a.DiskOffset, a.End)).ToList());
    }

    [Fact]
    public void No_disk_file() { WriteValid(); File.Delete(_dir.File("disk")); AssertRefused("saveparts", "'disk'"); }

    [Fact]
    public void Neither_disk_nor_parts() { WriteValid(); File.Delete(_dir.File("disk")); File.Delete(_dir.File("parts")); AssertRefused("not a Clonezilla image directory"); }

    [Fact]
    public void No_parts_file() { WriteValid(); File.Delete(_dir.File("parts")); AssertRefused("'parts'"); }

    [Fact]
    public void A_listed_partition_without_an_image()
    {
        WriteValid();
        foreach (var f in Directory.GetFiles(Dir, "sda1.*")) File.Delete(f);
        AssertRefused("sda1", "no image");
    }

    [Fact]
    public void A_listed_partition_in_no_table() { WriteValid(); File.WriteAllText(_dir.File("parts"), "sda1 sdb7\n"); AssertRefused("sdb7", "no saved disk's partition table"); }

    [Fact]
    public void An_unparsable_dump()
    {
        WriteValid();
        File.AppendAllText(_dir.File("sda-pt.sf"), "/dev/sda3 : start=   lots, size= 7, type=83\n");
        AssertRefused("sda-pt.sf line 9", "start=lots");
    }

    [Fact]
    public void A_dump_that_is_not_one() { WriteValid(); File.WriteAllText(_dir.File("sda-pt.sf"), "this is not sfdisk\n"); AssertRefused("sda-pt.sf line 1"); }

    [Fact]
    public void A_partition_past_the_end_of_the_disk()
    {
        WriteValid();
        File.WriteAllText(_dir.File("sda-pt.parted"), "Disk /dev/sda: 40000s\n");
        AssertRefused("sda2", "does not fit the disk's 40000 sectors");
    }

    [Fact]
    public void An_unknown_disk_size() { WriteValid(); File.Delete(_dir.File("sda-pt.parted")); AssertRefused("size of disk sda is unknown"); }

    [Fact]
    public void An_unknown_file_system()
    {
        WriteValid();
        foreach (var f in Directory.GetFiles(Dir, "sda1.*")) File.Move(f, f.Replace("ext4", "zfs", StringComparison.Ordinal));
        AssertRefused("unknown file system 'zfs'");
    }

    [Theory]
    [InlineData("lrz", "'lrz' compression (lrzip) is not supported")]
    [InlineData("lzip", "'lzip' compression (lzip) is not supported")]
    [InlineData("7z", "unknown compression suffix '7z'")]
    public void An_unknown_compression_lists_the_known_ones(string suffix, string expected)
    {
        WriteValid();
        foreach (var f in Directory.GetFiles(Dir, "sda1.*")) File.Move(f, f.Replace(".zst.", $".{suffix}.", StringComparison.Ordinal));
        AssertRefused(_dir.File($"sda1.ext4-ptcl-img.{suffix}.a"), expected, "BlockSwarm reads gz, zst, xz, lzma, bz2, lz4, lzo, uncomp");
    }

    [Fact]
    public void A_missing_split_piece()
    {
        WriteValid();
        File.Move(_dir.File("sda1.ext4-ptcl-img.zst.ab"), _dir.File("sda1.ext4-ptcl-img.zst.ac"));
        AssertRefused(_dir.File("sda1.ext4-ptcl-img.zst.ab") + ": missing", "byte offset 1000 of the compressed stream");
    }

    [Fact]
    public void A_truncated_middle_piece()
    {
        WriteValid();
        File.WriteAllBytes(_dir.File("sda1.ext4-ptcl-img.zst.ab"), new byte[999]);
        File.WriteAllBytes(_dir.File("sda1.ext4-ptcl-img.zst.ac"), new byte[10]);
        AssertRefused(_dir.File("sda1.ext4-ptcl-img.zst.ab") + ": 999 bytes", "truncated", "byte offset 1999 of the compressed stream");
    }

    [Fact]
    public void Two_images_for_one_partition()
    {
        WriteValid();
        File.WriteAllBytes(_dir.File("sda1.ext4-ptcl-img.gz"), new byte[10]);
        AssertRefused("more than one image");
    }

    [Fact]
    public void An_ntfsclone_image() { WriteValid(); File.WriteAllBytes(_dir.File("sda1.ntfs-img.aa"), new byte[10]); AssertRefused("ntfsclone"); }

    [Fact]
    public void Lvm_is_refused_naming_the_volume_group()
    {
        WriteValid();
        File.WriteAllText(_dir.File("lvm_vg_dev.list"), "vg_lab /dev/sda2 k3Xq-abcd\n");
        File.WriteAllText(_dir.File("lvm_logv.list"), "/dev/vg_lab/root ext4\n");
        AssertRefused("LVM volume group vg_lab", "Clonezilla");
    }

    [Fact]
    public void A_gpt_disk_without_its_primary_gpt()
    {
        WriteValid();
        File.WriteAllText(_dir.File("sda-pt.sf"), "label: gpt\nunit: sectors\nfirst-lba: 34\nlast-lba: 131038\n\n/dev/sda1 : start=2048, size=32768, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n");
        AssertRefused("sda-gpt-1st is missing");
    }

    [Fact]
    public void A_swap_info_with_a_bad_uuid()
    {
        WriteValid();
        File.WriteAllText(_dir.File("swappt-sda2.info"), "UUID=\"not-a-uuid\"\n");
        AssertRefused("swappt-sda2.info", "not-a-uuid");
    }
}
