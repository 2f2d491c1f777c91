using System.Net;
using System.Net.Sockets;
using BlockSwarm.Cli;
using BlockSwarm.Metainfo;
using BlockSwarm.Security;
using BlockSwarm.Testing;
using BlockSwarm.Tracker.Client;

namespace BlockSwarm.Cli.Tests;

public sealed class TrackerDiscoveryTests
{
    private static Task<int> Run(CancellationToken ct, params string[] args) =>
        CliApp.RunAsync(args, new CliContext(TextWriter.Null, TextWriter.Null, interactive: false), ct);

    [Fact]
    public async Task Fetch_finds_the_seeder_through_the_tracker_command_without_any_peer_given()
    {
        using var dir = new TempDirectory("tracker-cli");
        var ct = TestContext.Current.CancellationToken;
        var img = FsImage.SampleExt4(dir.File("sda1.img"), 48 << 20);
        int trackerPort = FreePort.Tcp(IPAddress.Loopback);
        var torrent = dir.File("t.torrent");
        Assert.Equal(0, (await CliRunner.RunAsync("create", "--source", img, "--tracker", $"http://127.0.0.1:{trackerPort}/announce", "-o", torrent)).ExitCode);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var tracker = Run(stop.Token, "tracker", "--listen", $"127.0.0.1:{trackerPort}");
        var seedAddress = IPAddress.Parse("127.0.0.31");
        var seed = Run(stop.Token, "seed", "-t", torrent, "-s", img, "--listen", $"127.0.0.31:{FreePort.Tcp(seedAddress)}");
        try
        {
            var target = dir.File("target.img");
            using var fetchTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            fetchTimeout.CancelAfter(TimeSpan.FromSeconds(60));
            var fetch = await CliRunner.RunWithTokenAsync(fetchTimeout.Token, "fetch", "-t", torrent, "--target", target, "--listen", "127.0.0.32:0");
            Assert.True(fetch.ExitCode == 0, fetch.StdErr);
            var verify = await CliRunner.RunAsync("verify", "-t", torrent, "--target", target);
            Assert.True(verify.ExitCode == 0, verify.StdOut + verify.StdErr);
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(0, await tracker);
            Assert.Equal(0, await seed);
        }
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Tracker_with_a_secret_file_answers_only_announces_that_prove_it()
    {
        using var dir = new TempDirectory("tracker-secret");
        var ct = TestContext.Current.CancellationToken;
        var missing = await CliRunner.RunAsync("tracker", "--secret-file", dir.File("nope"));
        Assert.Equal(ExitCodes.Usage, missing.ExitCode); // as for seed, fetch, serve and deploy --secret-file
        Assert.Contains("does not exist", missing.StdErr, StringComparison.Ordinal);

        var path = dir.File("swarm.secret");
        var secret = SwarmSecret.CreateFile(path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        int port = FreePort.Tcp(IPAddress.Loopback);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var running = CliRunner.RunWithTokenAsync(stop.Token, "tracker", "--listen", $"127.0.0.1:{port}", "--secret-file", path);
        var announce = new Uri($"http://127.0.0.1:{port}/announce");
        using var http = new HttpClient();
        AnnounceParameters P(int peer) => new()
        {
            InfoHash = new InfoHash(new byte[20]),
            PeerId = System.Text.Encoding.ASCII.GetBytes($"-BS0100-{peer:D12}"),
            Port = 7000 + peer,
            Left = 1,
        };
        var member = new TrackerClient(http, secret);
        await Eventually.UntilAsync(async () =>
        {
            try
            {
                await member.AnnounceAsync(announce, P(1), ct);
                return true;
            }
            catch (TrackerException ex) when (!ex.IsFailureReason)
            {
                return false; // not listening yet
            }
        }, TimeSpan.FromSeconds(20), "the tracker to listen", ct: ct);
        Assert.Single((await member.AnnounceAsync(announce, P(2), ct)).Peers);
        var outsider = await Assert.ThrowsAsync<TrackerException>(() => new TrackerClient(http).AnnounceAsync(announce, P(3), ct));
        Assert.Contains("standard BitTorrent clients cannot join it", outsider.Message, StringComparison.Ordinal);

        await stop.CancelAsync();
        var r = await running;
        Assert.Equal(0, r.ExitCode);
        Assert.Contains($"only for holders of swarm secret {secret.Id}", r.StdOut, StringComparison.Ordinal);
        Assert.Contains($"warning: the swarm secret file {path} can be read by other users", r.StdErr, StringComparison.Ordinal);
    }
}
