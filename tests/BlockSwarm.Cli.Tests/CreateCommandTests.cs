using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests;

public sealed class CreateCommandTests(ITestOutputHelper output)
{
    [Fact]
    [Requires("partclone.extfs", Need.PythonLibtorrent)]
    public async Task Partclone_map_gives_the_same_info_hash_as_clonezillas_converter()
    {
        using var dir = new TempDirectory("compat");
        var img = FsImage.SampleExt4(dir.File("sda1.img"), 96 << 20);
        // Clonezilla passes a 16 MiB buffer to partclone, so runs are cut at 16 MiB.
        var info = FsImage.PartcloneTorrentInfo(img, "extfs", dir.File("partclone"), bufferSize: (16 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var ours = dir.File("ours.torrent");
        var r = await CliRunner.RunAsync("create", "--source", img, "--map", "partclone:" + info, "--name", "sda1", "--piece-size", "16MiB", "-o", ours);
        Assert.True(r.ExitCode == 0, r.StdErr);

        var theirs = dir.File("clonezilla.torrent");
        var py = Tool.Run(Tool.SystemPython, Path.Combine(RepoPaths.Root, "tests", "scripts", "clonezilla_convert.py"), info, "sda1", theirs);
        var lines = py.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var t = Torrent.Load(ours);
        output.WriteLine($"ours {t.InfoHash.ToHex()}, clonezilla {lines[0]}, {t.Files.Length} files, {t.PieceCount} pieces");
        Assert.Equal(lines[1], Convert.ToHexStringLower(t.RawInfo.Span));
        Assert.Equal(lines[0], t.InfoHash.ToHex());
        Assert.Equal(Torrent.Load(theirs).InfoHash, t.InfoHash);
        Assert.Contains(t.InfoHash.ToHex(), r.StdOut);
    }

    [Fact]
    [Requires("transmission-show", "aria2c")]
    public async Task Standard_clients_read_our_torrents()
    {
        using var dir = new TempDirectory("readers");
        var img = FsImage.SampleExt4(dir.File("sda1.img"), 64 << 20);
        var torrent = dir.File("img.torrent");
        var r = await CliRunner.RunAsync("create", "--source", img, "--map", "nonzero", "--tracker", "http://127.0.0.1:6969/announce", "-o", torrent);
        Assert.True(r.ExitCode == 0, r.StdErr);
        var t = Torrent.Load(torrent);
        var show = Tool.Run("transmission-show", torrent).StdOut;
        Assert.Contains(t.InfoHash.ToHex(), show);
        Assert.Contains($"{t.Name}/{t.Files[0].Path[0]}", show);
        var aria = Tool.Run("aria2c", "--show-files", torrent).StdOut;
        Assert.Contains(t.InfoHash.ToHex(), aria);
        Assert.Contains(t.Files[^1].Path[0], aria);
    }

    [Fact]
    public async Task Verify_reports_a_corrupted_piece_and_passes_a_good_copy()
    {
        using var dir = new TempDirectory("verify");
        var img = FsImage.SampleExt4(dir.File("sda1.img"), 64 << 20);
        var torrent = dir.File("img.torrent");
        Assert.Equal(0, (await CliRunner.RunAsync("create", "--source", img, "--map", "all", "--piece-size", "1MiB", "-o", torrent)).ExitCode);
        var ok = await CliRunner.RunAsync("verify", "--torrent", torrent, "--target", img);
        Assert.True(ok.ExitCode == 0, ok.StdErr + ok.StdOut);
        using (var f = new FileStream(img, FileMode.Open))
        {
            f.Position = (5L << 20) + 17;
            f.WriteByte(0xff);
        }
        var bad = await CliRunner.RunAsync("verify", "--torrent", torrent, "--target", img);
        Assert.Equal(ExitCodes.VerifyFailed, bad.ExitCode);
        Assert.Contains("1 of 64 pieces differ", bad.StdOut);
        Assert.Contains("piece 5:", bad.StdOut);
    }

    [Fact]
    public async Task Bad_input_gives_a_clear_error_and_writes_nothing()
    {
        using var dir = new TempDirectory("bad");
        var outPath = dir.File("out.torrent");

        var missing = await CliRunner.RunAsync("create", "--source", dir.File("nope.img"), "-o", outPath);
        Assert.Equal(ExitCodes.Error, missing.ExitCode);
        Assert.Contains("no such file", missing.StdErr);

        var empty = dir.File("empty.img");
        File.WriteAllBytes(empty, []);
        var e = await CliRunner.RunAsync("create", "--source", empty, "-o", outPath);
        Assert.Equal(ExitCodes.Error, e.ExitCode);
        Assert.Contains("empty", e.StdErr);

        var img = dir.File("small.img");
        File.WriteAllBytes(img, new byte[1 << 20]);
        var info = dir.File("torrent.info");
        File.WriteAllText(info, "block_size: 4096\nblocks_total: 256\noffset: 00000000000000000000000000000000\nlength: zz\n");
        var m = await CliRunner.RunAsync("create", "--source", img, "--map", "partclone:" + info, "-o", outPath);
        Assert.Equal(ExitCodes.Error, m.ExitCode);
        Assert.Contains("line 4", m.StdErr);

        File.WriteAllText(info, "block_size: 4096\nblocks_total: 256\noffset: 00000000000000000000000000000000\nlength: 00000000000000000000000000200000\n");
        var past = await CliRunner.RunAsync("create", "--source", img, "--map", "partclone:" + info, "-o", outPath);
        Assert.Equal(ExitCodes.Error, past.ExitCode);
        Assert.Contains("past the device size", past.StdErr);

        var zeros = await CliRunner.RunAsync("create", "--source", img, "--map", "nonzero", "-o", outPath);
        Assert.Equal(ExitCodes.Error, zeros.ExitCode);
        Assert.Contains("no used bytes", zeros.StdErr);

        var usage = await CliRunner.RunAsync("create", "--piece-size", "3MiB");
        Assert.Equal(ExitCodes.Usage, usage.ExitCode);

        File.WriteAllText(dir.File("broken.torrent"), "d4:infoi1ee");
        var insp = await CliRunner.RunAsync("inspect", dir.File("broken.torrent"));
        Assert.Equal(ExitCodes.Error, insp.ExitCode);
        Assert.Contains("key 'info' must be a dictionary", insp.StdErr);

        Assert.False(File.Exists(outPath));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public async Task Inspect_json_lists_extents_and_trackers()
    {
        using var dir = new TempDirectory("inspect");
        var img = dir.File("disk.img");
        var bytes = new byte[4 << 20];
        bytes[0] = 1;
        bytes[(3 << 20) + 5] = 2;
        File.WriteAllBytes(img, bytes);
        var torrent = dir.File("disk.torrent");
        Assert.Equal(0, (await CliRunner.RunAsync("create", "--source", img, "--map", "nonzero", "--tracker", "http://a/announce", "-o", torrent)).ExitCode);
        var r = await CliRunner.RunAsync("inspect", torrent, "--json");
        using var doc = System.Text.Json.JsonDocument.Parse(r.StdOut);
        Assert.Equal("disk", doc.RootElement.GetProperty("name").GetString());
        var extents = doc.RootElement.GetProperty("extents");
        Assert.Equal(2, extents.GetArrayLength());
        Assert.Equal(3 << 20, extents[1].GetProperty("offset").GetInt64());
        Assert.Equal("http://a/announce", doc.RootElement.GetProperty("trackers")[0][0].GetString());
    }
}
