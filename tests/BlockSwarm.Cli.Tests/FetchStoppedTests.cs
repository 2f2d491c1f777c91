using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using BlockSwarm.Cli;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests;

/// <summary>
/// A fetch stopped before it completed (Ctrl-C, SIGTERM) says exactly what it got: pieces verified, payload and wire
/// bytes. The swarm lab counts an outsider's payload with it (a secret swarm's outsider must end at 0).
/// </summary>
public sealed partial class FetchStoppedTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [GeneratedRegex(@"^stopped before complete: (\d+)/(\d+) pieces verified, (\d+) bytes of payload downloaded \((\d+) bytes on the wire\) in [\d.]+ s$", RegexOptions.Multiline)]
    private static partial Regex StopLine();

    private static async Task<(string Image, string Torrent)> SourceAsync(TempDirectory dir)
    {
        var img = dir.File("src.img");
        await File.WriteAllBytesAsync(img, RandomNumberGenerator.GetBytes(8 << 20), Ct);
        var torrent = dir.File("t.torrent");
        Assert.Equal(0, (await CliRunner.RunAsync("create", "--source", img, "--map", "all", "--piece-size", "64KiB", "-o", torrent)).ExitCode);
        return (img, torrent);
    }

    private static async Task<ProcessResult> FetchUntilStoppedAsync(TimeSpan after, params string[] args)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        stop.CancelAfter(after);
        return await CliRunner.RunWithTokenAsync(stop.Token, ["fetch", .. args]);
    }

    private static (long Pieces, long Of, long Payload, long Wire) Counts(ProcessResult r)
    {
        var m = StopLine().Match(r.StdOut);
        Assert.True(m.Success, $"no stop line:\n{r.StdOut}\n{r.StdErr}");
        return (long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
            long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_fetch_with_no_peer_stopped_says_it_got_nothing()
    {
        using var dir = new TempDirectory("fetch-stopped");
        var (_, torrent) = await SourceAsync(dir);

        var r = await FetchUntilStoppedAsync(TimeSpan.FromSeconds(2), "--torrent", torrent, "--target", dir.File("out.img"));

        Assert.Equal(ExitCodes.Interrupted, r.ExitCode);
        Assert.Equal((0L, 128L, 0L, 0L), Counts(r));
    }

    [Fact]
    public async Task A_fetch_stopped_halfway_counts_the_pieces_and_bytes_it_got()
    {
        using var dir = new TempDirectory("fetch-stopped");
        var (img, torrent) = await SourceAsync(dir);
        int port = FreePort.Tcp(IPAddress.Loopback);
        using var stopSeed = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        // 2 MiB/s: about a third of the 8 MiB arrives before the fetch is stopped.
        var seed = CliApp.RunAsync(["seed", "-t", torrent, "-s", img, "--listen", $"127.0.0.1:{port}", "--upload-limit", "2MiB"],
            new CliContext(TextWriter.Null, TextWriter.Null, interactive: false), stopSeed.Token);

        var r = await FetchUntilStoppedAsync(TimeSpan.FromSeconds(1.5), "--torrent", torrent, "--target", dir.File("out.img"), "--peer", $"127.0.0.1:{port}");
        await stopSeed.CancelAsync();
        Assert.Equal(0, await seed);

        Assert.Equal(ExitCodes.Interrupted, r.ExitCode);
        var (pieces, of, payload, wire) = Counts(r);
        Assert.Equal(128, of);
        Assert.InRange(pieces, 1, of - 1);
        Assert.True(payload >= pieces * 65536, $"{payload} payload bytes for {pieces} verified pieces of 64 KiB");
        Assert.True(wire > payload, $"{wire} bytes on the wire for {payload} of payload");
    }
}
