using System.Net;
using System.Net.Sockets;
using BlockSwarm.Cli;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Cli.Tests;

/// <summary><c>blockswarm fetch --direct-io</c> end to end over loopback, into an image file and a loop device.</summary>
public sealed class DirectIOFetchTests
{
    private const byte Pattern = 0x5A;

    private static void FillPattern(string path, long size)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Write);
        var block = new byte[1 << 20];
        Array.Fill(block, Pattern);
        for (long pos = 0; pos < size; pos += block.Length) f.Write(block, 0, (int)Math.Min(block.Length, size - pos));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Fetch_with_direct_io_writes_a_1KiB_block_ext4_bit_exact_and_leaves_the_rest_alone(bool loopDevice)
    {
        var ct = TestContext.Current.CancellationToken;
        using var dir = new TempDirectory("fetch-direct");
        // 1 KiB blocks: the used-block extents start and end off the 4 KiB O_DIRECT alignment.
        var img = FsImage.SampleExt4(dir.File("sda1.img"), 40 << 20, blockSize: 1024);
        var torrent = dir.File("t.torrent");
        Assert.Equal(0, (await CliRunner.RunAsync("create", "--source", img, "--piece-size", "64KiB", "-o", torrent)).ExitCode);
        var t = Torrent.Load(torrent);
        var extents = BlockImageLayout.Create(t).Stream.Extents;
        Assert.Contains(extents, e => e.Offset % 4096 != 0 || e.Length % 4096 != 0);

        long size = new FileInfo(img).Length;
        var backing = dir.File("target.img");
        File.WriteAllBytes(backing, []);
        FillPattern(backing, size);
        using var loop = loopDevice ? LoopDevice.Attach(backing) : null;
        string target = loop?.Path ?? backing;

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        int port = FreePort.Tcp(IPAddress.Parse("127.0.0.41"));
        var seed = CliApp.RunAsync(["seed", "-t", torrent, "-s", img, "--listen", $"127.0.0.41:{port}"],
            new CliContext(TextWriter.Null, TextWriter.Null, interactive: false), stop.Token);
        try
        {
            using var fetchTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            fetchTimeout.CancelAfter(TimeSpan.FromSeconds(90));
            var fetch = await CliRunner.RunWithTokenAsync(fetchTimeout.Token, "fetch", "-t", torrent, "--target", target, "--direct-io",
                "--cache", "8MiB", "--resume", dir.File("resume"), "--peer", $"127.0.0.41:{port}");
            Assert.True(fetch.ExitCode == 0, fetch.StdErr);
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(0, await seed);
        }

        var source = File.ReadAllBytes(img);
        var written = new byte[size];
        using (var d = DeviceFile.OpenRead(target)) d.ReadExactly(0, written);
        var inside = new bool[size];
        foreach (var e in extents)
        {
            Assert.True(source.AsSpan((int)e.Offset, (int)e.Length).SequenceEqual(written.AsSpan((int)e.Offset, (int)e.Length)), $"extent at {e.Offset} differs");
            inside.AsSpan((int)e.Offset, (int)e.Length).Fill(true);
        }
        for (int i = 0; i < size; i++)
            if (!inside[i] && written[i] != Pattern) Assert.Fail($"byte {i} outside the extents was changed");
    }

    [Fact]
    public async Task Direct_io_with_plain_files_is_a_usage_error()
    {
        using var dir = new TempDirectory("fetch-direct-files");
        var img = FsImage.SampleExt4(dir.File("sda1.img"), 40 << 20);
        var torrent = dir.File("t.torrent");
        Assert.Equal(0, (await CliRunner.RunAsync("create", "--source", img, "-o", torrent)).ExitCode);
        var r = await CliRunner.RunAsync("fetch", "-t", torrent, "--target", dir.File("out"), "--files", "--direct-io");
        Assert.Equal(ExitCodes.Usage, r.ExitCode);
        Assert.Contains("--direct-io", r.StdErr);
    }
}
