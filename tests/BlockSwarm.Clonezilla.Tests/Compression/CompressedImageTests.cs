using BlockSwarm.Clonezilla.Compression;
using BlockSwarm.Clonezilla.Partclone;
using BlockSwarm.Clonezilla.Tests.Partclone;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Compression;

/// <summary>
/// A partclone image compressed by each tool Clonezilla uses and split as Clonezilla splits it (<c>split -a 2 -b</c>,
/// here 1 MiB) reads, by its file name alone, to partclone's extents and the source's bytes.
/// </summary>
[Requires("mkfs.ext4", "partclone.extfs", "split")]
public sealed class CompressedImageTests(SavedExt4Image saved) : IClassFixture<SavedExt4Image>
{
    /// <summary>Clonezilla's suffix and the command that writes it (ocs-functions' zip_stdin_cmd, options as Clonezilla passes them).</summary>
    public static TheoryData<string, string> Compressors => new()
    {
        { "uncomp", "cat" },
        { "gz", "gzip -c --fast" },
        { "gz", "pigz -c" },
        { "zst", "zstd -q -c -3" },
        { "zst", "zstd -q -c -3 -T0" },
        { "xz", "xz -c -1" },
        { "xz", "xz -c -1 -T0" },
        { "lzma", "lzma -c -1" },
        { "bz2", "bzip2 -c" },
        { "lz4", "lz4 -q -c" },
        { "lzo", "lzop -c" },
        { "lzo", "lzop -c -9" },
    };

    [Theory]
    [MemberData(nameof(Compressors))]
    public void A_split_compressed_image_reads_to_partclones_extents_and_the_source_bytes(string suffix, string command)
    {
        Requires.Tools(command.Split(' ')[0]);
        using var dir = new TempDirectory("cz-comp");
        var whole = Compress(saved.Image, command, dir.File($"sda1.ext4-ptcl-img.{suffix}"));
        var prefix = whole + ".";
        Tool.Run("split", "-a", "2", "-b", "1M", whole, prefix);
        File.Move(whole, dir.File("unsplit." + suffix));

        Assert.True(File.Exists(prefix + "ab"), "the test should split into several parts");
        foreach (var path in new[] { prefix + "aa", whole })
        {
            using var reader = PartcloneImageReader.Open(path);
            Assert.Equal(saved.PartcloneExtents, reader.UsedExtents);
            PartcloneRig.AssertDataEqualsSource(reader, saved.Device);
            Assert.Equal(new FileInfo(saved.Image).Length, reader.Position);
        }
        using (var unsplit = PartcloneImageReader.Open(dir.File("unsplit." + suffix)))
            PartcloneRig.AssertDataEqualsSource(unsplit, saved.Device);
    }

    /// <summary>pigz/pbzip2/pzstd-style output and <c>cat a.gz b.gz</c>: several members, frames or streams, read as one.</summary>
    [Theory]
    [MemberData(nameof(Compressors))]
    public void Concatenated_members_read_as_one_stream(string suffix, string command)
    {
        Requires.Tools(command.Split(' ')[0]);
        if (suffix == "lzma") return; // the .lzma format has no members: one header, one stream
        using var dir = new TempDirectory("cz-concat");
        var bytes = File.ReadAllBytes(saved.Image);
        int half = bytes.Length / 2 + 12345;
        File.WriteAllBytes(dir.File("a"), bytes[..half]);
        File.WriteAllBytes(dir.File("b"), bytes[half..]);
        var joined = dir.File($"sda1.ext4-ptcl-img.{suffix}");
        using (var o = File.Create(joined))
        {
            foreach (var part in new[] { "a", "b" })
            {
                using var c = File.OpenRead(Compress(dir.File(part), command, dir.File(part + "." + suffix)));
                c.CopyTo(o);
            }
        }
        using var reader = PartcloneImageReader.Open(joined);
        PartcloneRig.AssertDataEqualsSource(reader, saved.Device);
    }

    /// <summary>Damage anywhere in a compressed image (the decoder's checks, or partclone's behind them) is a format error naming the file.</summary>
    [Theory]
    [MemberData(nameof(Compressors))]
    public void A_damaged_compressed_image_is_a_format_error_naming_the_file(string suffix, string command)
    {
        Requires.Tools(command.Split(' ')[0]);
        using var dir = new TempDirectory("cz-damage");
        var whole = Compress(saved.Image, command, dir.File($"sda1.ext4-ptcl-img.{suffix}"));
        var bytes = File.ReadAllBytes(whole);
        foreach (double at in new[] { 0.3, 0.7 })
        {
            var damaged = (byte[])bytes.Clone();
            damaged[(int)(damaged.Length * at)] ^= 0x5a;
            File.WriteAllBytes(whole, damaged);
            var ex = Assert.Throws<ClonezillaFormatException>(() =>
            {
                using var reader = PartcloneImageReader.Open(whole);
                while (reader.TryReadBlocks(out _)) { }
            });
            long offset = FormatErrors.AssertNamesFileAndOffset(ex, whole + ": ");
            Assert.InRange(offset, 0, new FileInfo(saved.Image).Length);
        }
        File.WriteAllBytes(whole, bytes[..(bytes.Length * 2 / 3)]);
        var cut = Assert.Throws<ClonezillaFormatException>(() =>
        {
            using var reader = PartcloneImageReader.Open(whole);
            while (reader.TryReadBlocks(out _)) { }
        });
        long cutAt = FormatErrors.AssertNamesFileAndOffset(cut, whole + ": ");
        Assert.InRange(cutAt, 0, new FileInfo(saved.Image).Length);
    }

    private static string Compress(string input, string command, string output)
    {
        Tool.Sh($"{command} < '{input}' > '{output}'");
        return output;
    }
}
