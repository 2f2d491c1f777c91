using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests;

/// <summary><c>create --clonezilla --source IMAGEDIR</c>: one torrent per partition, as Clonezilla's BitTorrent mode makes them.</summary>
public sealed class CreateClonezillaTests(ITestOutputHelper output)
{
    [Fact]
    [Requires("mkfs.ext4", "mkfs.vfat", "mcopy", "partclone.extfs", "partclone.vfat", "zstd", "pigz", "split")]
    [Requires("gen-torrent-from-ptcl", Need.PythonLibtorrent)]
    public async Task Each_partition_gets_clonezillas_info_hash_in_a_file_named_as_ocs_btsrv_names_it()
    {
        using var dir = new TempDirectory("cz-cli");
        var image = Directory.CreateDirectory(dir.File("IMAGE")).FullName;
        // ext4 with 23 MiB of files (runs cross the 16 MiB mark of used data), zstd, split as savedisk -i splits.
        var ext4 = FsImage.SampleExt4(dir.File("sda1.img"), 64 << 20);
        Tool.Sh($"set -o pipefail; partclone.extfs -c -q -s '{ext4}' -o - | zstd -q -c | split -a 2 -b 3000000 - '{image}/sda1.ext4-ptcl-img.zst.'");
        var fat = FsImage.Fat(dir.File("sda2.img"), 48 << 20, 32, ContentTree.Random(dir.File("fat.content"), 2, ("a.bin", 1_500_000)));
        Tool.Sh($"set -o pipefail; partclone.vfat -c -q -s '{fat}' -o - | pigz -c > '{image}/sda2.vfat-ptcl-img.gz'");
        // A raw image: Clonezilla's image route makes no torrent of it (only its name is looked at).
        File.WriteAllBytes(Path.Combine(image, "sda3.dd-ptcl-img.gz.aa"), [0x1f, 0x8b]);
        File.WriteAllText(Path.Combine(image, "parts"), "sda1 sda2 sda3\n");

        var outDir = dir.File("out");
        var r = await CliRunner.RunAsync("create", "--clonezilla", "--source", image, "--output", outDir, "--tracker", ClonezillaBtReference.Tracker);
        output.WriteLine(r.StdOut + r.StdErr);
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("sda3: no torrent: a dd image", r.StdErr, StringComparison.Ordinal);
        Assert.Equal(["sda1.torrent", "sda2.torrent"], Directory.GetFiles(outDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        foreach (var (part, fs, decompress) in new[] { ("sda1", "ext4", "zstd -dc"), ("sda2", "vfat", "pigz -dc") })
        {
            var files = Directory.GetFiles(image, part + ".*").Order(StringComparer.Ordinal);
            var info = ClonezillaBtReference.PartcloneSlices(decompress, files, fs, dir.File("btzone-" + part));
            var theirs = Torrent.Parse(ClonezillaBtReference.GenerateTorrent(info, part, dir.File(part + ".clonezilla.torrent")));
            var ours = Torrent.Load(Path.Combine(outDir, part + ".torrent"));
            output.WriteLine($"{part}: {ours.Files.Length} files, {ours.PieceCount} pieces, ours {ours.InfoHash.ToHex()}, Clonezilla's {theirs.InfoHash.ToHex()}");
            Assert.Equal(Convert.ToHexStringLower(theirs.RawInfo.Span), Convert.ToHexStringLower(ours.RawInfo.Span));
            Assert.Contains(ours.InfoHash.ToHex(), r.StdOut, StringComparison.Ordinal);
            Assert.Equal(theirs.TrackerTiers, ours.TrackerTiers);
            Assert.Equal("Clonezilla", ours.CreatedBy);
        }
        Assert.True(Torrent.Load(Path.Combine(outDir, "sda1.torrent")).PieceCount > 1, "sda1 should need more than one 16 MiB piece");

        // --clonezilla-parts picks partitions (ocs-gen-bt-slices' DEVICE arguments).
        var only = await CliRunner.RunAsync("create", "--clonezilla", "--source", image, "--output", dir.File("only"), "--clonezilla-parts", "sda2");
        Assert.True(only.ExitCode == 0, only.StdErr);
        Assert.Equal(["sda2.torrent"], Directory.GetFiles(dir.File("only")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_directory_that_is_not_an_image_or_has_no_partclone_image_is_an_error()
    {
        using var dir = new TempDirectory("cz-cli-bad");
        var empty = Directory.CreateDirectory(dir.File("empty")).FullName;
        var r = await CliRunner.RunAsync("create", "--clonezilla", "--source", empty, "--output", dir.File("out"));
        Assert.Equal(ExitCodes.Error, r.ExitCode);
        Assert.Contains("no 'parts' file", r.StdErr, StringComparison.Ordinal);

        File.WriteAllText(Path.Combine(empty, "parts"), "sda1\n");
        r = await CliRunner.RunAsync("create", "--clonezilla", "--source", empty, "--output", dir.File("out"));
        Assert.Equal(ExitCodes.Error, r.ExitCode);
        Assert.Contains("sda1: no torrent: no partclone image", r.StdErr, StringComparison.Ordinal);
        Assert.Contains("no partition has a partclone image", r.StdErr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.File("out")));
    }
}
