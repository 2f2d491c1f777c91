using BlockSwarm.Clonezilla.BitTorrent;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.BitTorrent;

/// <summary>Which partitions of an image directory get a torrent, as ocs-gen-bt-slices goes through them.</summary>
public sealed class ClonezillaBtImageTests
{
    [Fact]
    public void The_parts_file_names_them_and_dd_or_missing_images_are_skipped_with_the_reason()
    {
        using var dir = new TempDirectory("cz-bt-list");
        File.WriteAllText(dir.File("parts"), "sda1 sda2 sda3\ncciss/c0d0p1\n");
        File.WriteAllBytes(dir.File("sda1.ext4-ptcl-img.zst.aa"), []);
        File.WriteAllBytes(dir.File("sda1.ext4-ptcl-img.zst.ab"), []);
        File.WriteAllBytes(dir.File("sda2.dd-ptcl-img.gz"), []);
        File.WriteAllBytes(dir.File("cciss-c0d0p1.ntfs-ptcl-img.gz"), []);
        var list = ClonezillaBtImage.List(dir.Path);
        Assert.Equal(["sda1", "sda2", "sda3", "cciss/c0d0p1"], list.Select(p => p.Partition));
        Assert.Equal([dir.File("sda1.ext4-ptcl-img.zst.aa"), dir.File("sda1.ext4-ptcl-img.zst.ab")], list[0].Image!.Files);
        Assert.Null(list[0].Skipped);
        Assert.Contains("dd image", list[1].Skipped, StringComparison.Ordinal);
        Assert.Contains("no partclone image", list[2].Skipped, StringComparison.Ordinal);
        Assert.Equal(("cciss-c0d0p1", "cciss-c0d0p1.torrent", "ntfs"), (list[3].TorrentName, list[3].TorrentFileName, list[3].Image!.FileSystem));
        // Named partitions instead of the parts file, with or without /dev/.
        Assert.Equal(["sda1"], ClonezillaBtImage.List(dir.Path, ["/dev/sda1"]).Select(p => p.Partition));
    }

    [Fact]
    public void Lvm_physical_volumes_and_encrypted_images_are_refused_by_name()
    {
        using var dir = new TempDirectory("cz-bt-refuse");
        File.WriteAllText(dir.File("parts"), "sda1 sda2\n");
        File.WriteAllText(dir.File("lvm_vg_dev.list"), "vg_data /dev/sda2 AbCd-1234\n");
        var ex = Assert.Throws<ClonezillaFormatException>(() => ClonezillaBtImage.List(dir.Path));
        Assert.Contains("vg_data", ex.Message, StringComparison.Ordinal);
        Assert.Contains("sda2", ex.Message, StringComparison.Ordinal);
        Assert.Single(ClonezillaBtImage.List(dir.Path, ["sda1"]));

        File.WriteAllText(dir.File("ecryptfs.info"), "parts_of_img=\"sda1\"\n");
        Assert.Contains("encrypted", Assert.Throws<ClonezillaFormatException>(() => ClonezillaBtImage.List(dir.Path)).Message, StringComparison.Ordinal);
    }
}
