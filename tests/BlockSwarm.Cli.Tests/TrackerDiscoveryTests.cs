using System.Net;
using System.Net.Sockets;
using BlockSwarm.Cli;
using BlockSwarm.Testing;

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
}
