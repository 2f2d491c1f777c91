using System.Net;
using System.Net.Sockets;
using BlockSwarm.Cli;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using BlockSwarm.Devices;

namespace BlockSwarm.Cli.Tests;

/// <summary>
/// <c>blockswarm fetch</c>'s write modes end to end over loopback: by default (auto) O_DIRECT into an image file on a disk
/// file system and into a loop device, buffered into tmpfs with one line saying why; <c>--write-mode direct</c> (and its
/// old spelling <c>--direct-io</c>) and <c>--write-mode buffered</c>.
/// </summary>
public sealed class DirectIOFetchTests
{
    private const byte Pattern = 0x5A;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void FillPattern(string path, long size)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Write);
        var block = new byte[1 << 20];
        Array.Fill(block, Pattern);
        for (long pos = 0; pos < size; pos += block.Length) f.Write(block, 0, (int)Math.Min(block.Length, size - pos));
    }

    /// <summary>A 40 MiB ext4 image with 1 KiB blocks (used-block extents off the 4 KiB O_DIRECT alignment) and its torrent.</summary>
    private static async Task<(string Image, string TorrentPath, IReadOnlyList<Extent> Extents)> SourceAsync(TempDirectory dir)
    {
        var img = FsImage.SampleExt4(dir.File("sda1.img"), 40 << 20, blockSize: 1024);
        var torrent = dir.File("t.torrent");
        Assert.Equal(0, (await CliRunner.RunAsync("create", "--source", img, "--piece-size", "64KiB", "-o", torrent)).ExitCode);
        var extents = BlockImageLayout.Create(Torrent.Load(torrent)).Stream.Extents;
        Assert.Contains(extents, e => e.Offset % 4096 != 0 || e.Length % 4096 != 0);
        return (img, torrent, extents);
    }

    /// <summary>Seeds <paramref name="img"/> in this process while <paramref name="body"/> fetches from the endpoint it is given.</summary>
    private static async Task WithSeed(string torrent, string img, string address, Func<string, Task> body)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        int port = FreePort.Tcp(IPAddress.Parse(address));
        var seed = CliApp.RunAsync(["seed", "-t", torrent, "-s", img, "--listen", $"{address}:{port}"],
            new CliContext(TextWriter.Null, TextWriter.Null, interactive: false), stop.Token);
        try
        {
            await body($"{address}:{port}");
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(0, await seed);
        }
    }

    private static async Task<ProcessResult> Fetch(string torrent, string target, string peer, string resume, params string[] more)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(90));
        return await CliRunner.RunWithTokenAsync(timeout.Token, ["fetch", "-t", torrent, "--target", target, "--cache", "8MiB",
            "--resume", resume, "--peer", peer, .. more]);
    }

    /// <summary>Every extent holds the source's bytes; with <paramref name="pattern"/>, every byte outside them still holds it.</summary>
    private static void AssertWritten(string source, string target, IReadOnlyList<Extent> extents, bool pattern)
    {
        var src = File.ReadAllBytes(source);
        using var d = DeviceFile.OpenRead(target);
        // A new image file is just long enough for the last extent.
        var written = new byte[Math.Min(src.Length, d.Size)];
        d.ReadExactly(0, written);
        var inside = new bool[written.Length];
        foreach (var e in extents)
        {
            Assert.True(src.AsSpan((int)e.Offset, (int)e.Length).SequenceEqual(written.AsSpan((int)e.Offset, (int)e.Length)), $"extent at {e.Offset} differs");
            inside.AsSpan((int)e.Offset, (int)e.Length).Fill(true);
        }
        if (!pattern) return;
        for (int i = 0; i < written.Length; i++)
            if (!inside[i] && written[i] != Pattern) Assert.Fail($"byte {i} outside the extents was changed");
    }

    [Theory]
    [InlineData(false, "default")]
    [InlineData(true, "default")]
    [InlineData(false, "--direct-io")]
    [InlineData(true, "--write-mode direct")]
    public async Task Fetch_writes_a_1KiB_block_ext4_with_O_DIRECT_bit_exact_and_leaves_the_rest_alone(bool loopDevice, string mode)
    {
        if (!loopDevice) Requires.All(Need.DirectIO);
        using var dir = new TempDirectory("fetch-direct");
        var (img, torrent, extents) = await SourceAsync(dir);
        long size = new FileInfo(img).Length;
        var backing = dir.File("target.img");
        File.WriteAllBytes(backing, []);
        FillPattern(backing, size);
        using var loop = loopDevice ? LoopDevice.Attach(backing) : null;
        string target = loop?.Path ?? backing;

        await WithSeed(torrent, img, "127.0.0.41", async peer =>
        {
            string[] flags = mode == "default" ? [] : mode.Split(' ');
            var fetch = await Fetch(torrent, target, peer, dir.File("resume"), [.. flags, "--log-level", "debug"]);
            Assert.True(fetch.ExitCode == 0, fetch.StdErr);
            var said = Assert.Single(fetch.StdErr.Split('\n'), l => l.Contains("O_DIRECT", StringComparison.Ordinal));
            Assert.Contains($"{target}: writing with O_DIRECT, past the page cache", said, StringComparison.Ordinal);
        });
        AssertWritten(img, target, extents, pattern: true);
    }

    [Fact]
    public async Task Fetch_into_tmpfs_writes_buffered_by_default_saying_why_once_refuses_direct_and_takes_buffered()
    {
        using var dir = new TempDirectory("fetch-tmpfs");
        using var shm = TempDirectory.OnTmpfs("fetch-tmpfs");
        var (img, torrent, extents) = await SourceAsync(dir);
        await WithSeed(torrent, img, "127.0.0.42", async peer =>
        {
            // Default: buffered, one information line naming the target and why, bit-exact.
            string target = shm.File("auto.img");
            var auto = await Fetch(torrent, target, peer, shm.File("auto.resume"));
            Assert.True(auto.ExitCode == 0, auto.StdErr);
            var said = Assert.Single(auto.StdErr.Split('\n'), l => l.Contains("O_DIRECT", StringComparison.Ordinal));
            Assert.Contains($" info ", said, StringComparison.Ordinal);
            Assert.Contains($"{target}: writing through the page cache, not with O_DIRECT: tmpfs keeps files in memory", said, StringComparison.Ordinal);
            AssertWritten(img, target, extents, pattern: false);

            // Asked for explicitly, O_DIRECT is all or nothing: exit 1 and why, before a byte is written.
            string strict = shm.File("direct.img");
            var direct = await Fetch(torrent, strict, peer, shm.File("direct.resume"), "--write-mode", "direct");
            Assert.Equal(ExitCodes.Error, direct.ExitCode);
            Assert.Contains($"{strict}: cannot write with O_DIRECT: tmpfs keeps files in memory", direct.StdErr, StringComparison.Ordinal);
            Assert.Contains("--write-mode auto or buffered", direct.StdErr, StringComparison.Ordinal);

            // Buffered: asked for, so nothing to explain.
            string buffered = shm.File("buffered.img");
            var plain = await Fetch(torrent, buffered, peer, shm.File("buffered.resume"), "--write-mode", "buffered");
            Assert.True(plain.ExitCode == 0, plain.StdErr);
            Assert.DoesNotContain("O_DIRECT", plain.StdErr, StringComparison.Ordinal);
            AssertWritten(img, buffered, extents, pattern: false);
        });
    }

    [Theory]
    [InlineData("--files", "--write-mode", "direct")]
    [InlineData("--files", "--direct-io")]
    [InlineData("--direct-io", "--write-mode", "buffered")]
    [InlineData("--write-mode", "sideways")]
    public async Task Write_modes_that_cannot_apply_are_usage_errors(params string[] flags)
    {
        using var dir = new TempDirectory("fetch-direct-usage");
        var img = FsImage.SampleExt4(dir.File("sda1.img"), 40 << 20);
        var torrent = dir.File("t.torrent");
        Assert.Equal(0, (await CliRunner.RunAsync("create", "--source", img, "-o", torrent)).ExitCode);
        var r = await CliRunner.RunAsync(["fetch", "-t", torrent, "--target", dir.File("out"), .. flags]);
        Assert.Equal(ExitCodes.Usage, r.ExitCode);
        Assert.Contains(flags[^1] == "sideways" ? "'sideways' not recognized" : "--write-mode", r.StdErr);
    }
}
