using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests.Interop;

/// <summary>
/// BlockSwarm against Debian's transmission-cli (3.x/4.x). Transmission will not talk to peers on
/// 127.0.0.0/8 and cannot be handed a peer, so each test runs on an <see cref="InteropLan"/> (two
/// namespaces joined by a veth pair): BlockSwarm and <c>blockswarm tracker</c> on one end, transmission
/// on the other, finding each other only through the tracker named in the torrent. Transmission runs
/// with its Debian defaults except DHT, LSD, uTP and port mapping (off, so the tracker is the only way
/// in) and the bind address; its encryption stays "preferred", so every connection it makes first tries
/// MSE, which we do not speak, and falls back to a plain handshake. It never exits by itself: completion
/// is its "Seeding" status line, which it shows only once every piece is verified (after downloading, or
/// after checking the data it was started on). Every transfer is checked byte for byte against the image.
/// </summary>
[Collection(nameof(InteropCollection))]
public sealed class TransmissionInteropTests(ITestOutputHelper output)
{
    private const int TrackerPort = 6969;
    private const int OurPort = 6881;
    private const int TheirPort = 51413;
    private const string TransmissionCli = "transmission-cli";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Transmission decides whom it is interested in, and whom it unchokes, every 10 s: one of those
    /// rounds (and its verification of local data when seeding) comes before any transfer.
    /// </summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static string Announce => $"http://{InteropLan.OurIp}:{TrackerPort}/announce";

    [Fact]
    public async Task Transmission_fetches_a_block_image_from_a_BlockSwarm_seeder_found_through_our_tracker()
    {
        SkipUnlessAvailable();
        using var dir = new TempDirectory("interop-tr-leech");
        var outDir = Directory.CreateDirectory(dir.File("out")).FullName;
        var torrent = dir.File("t.torrent");
        var (t, image) = await InteropData.BlockImageAsync(dir, torrent, createArgs: ["--tracker", Announce]);
        using var lan = InteropLan.Create(output);

        await StartTrackerAsync(lan, t);
        // The seeder serves the image itself (block-image storage); transmission writes ROOT/disk/<hex32>.
        var seed = lan.Ours.StartBlockSwarm("blockswarm seed", "seed", "--torrent", torrent, "--source", image, "--listen", $"{InteropLan.OurIp}:{OurPort}");
        await lan.Ours.WaitListeningAsync(InteropLan.OurIp, OurPort, seed, StartTimeout);
        await WaitForTrackerPeersAsync(lan, t, seeds: 1);

        var clock = Stopwatch.StartNew();
        var tr = StartTransmission(lan, dir.File("transmission"), outDir, torrent);
        await tr.WaitForOutputAsync("Seeding", Timeout);
        lan.Ours.Note($"transmission fetched {t.Files.Length} files ({t.TotalLength} bytes) from BlockSwarm in {clock.Elapsed.TotalSeconds:0.00} s");
        InteropData.AssertFilesMatchImage(t, image, outDir);
        Assert.False(seed.HasExited, "the seeder exited");
    }

    [Fact]
    public async Task BlockSwarm_fetches_a_block_image_from_a_transmission_seeder_found_through_our_tracker()
    {
        SkipUnlessAvailable();
        using var dir = new TempDirectory("interop-tr-seed");
        var seedDir = Directory.CreateDirectory(dir.File("seed")).FullName;
        var torrent = dir.File("t.torrent");
        var target = dir.File("target.img");
        var (t, image) = await InteropData.BlockImageAsync(dir, torrent, createArgs: ["--tracker", Announce]);
        InteropData.WritePlainFiles(t, image, seedDir);
        using var lan = InteropLan.Create(output);

        await StartTrackerAsync(lan, t);
        var clock = Stopwatch.StartNew();
        // Started on complete data, transmission verifies it and seeds ("Seeding" only once every piece checked).
        var tr = StartTransmission(lan, dir.File("transmission"), seedDir, torrent);
        await tr.WaitForOutputAsync("Seeding", StartTimeout);
        lan.Ours.Note($"transmission verified its data and seeds after {clock.Elapsed.TotalSeconds:0.00} s");
        await WaitForTrackerPeersAsync(lan, t, seeds: 0);

        clock.Restart();
        var fetch = lan.Ours.StartBlockSwarm("blockswarm fetch", "fetch", "--torrent", torrent, "--target", target, "--listen", $"{InteropLan.OurIp}:{OurPort}");
        Assert.Equal(0, await fetch.WaitForExitAsync(Timeout));
        lan.Ours.Note($"fetched {t.TotalLength} bytes from transmission in {clock.Elapsed.TotalSeconds:0.00} s");
        Assert.Null(BlockImageLayout.Create(t).FirstDifference(image, target));
    }

    private static void SkipUnlessAvailable()
    {
        if (InteropLan.Unavailable(TransmissionCli, "curl") is { } why) Assert.Skip(why);
    }

    /// <summary><c>blockswarm tracker</c> on our end, serving only this torrent.</summary>
    private static async Task StartTrackerAsync(InteropLan lan, Torrent t)
    {
        var tracker = lan.Ours.StartBlockSwarm("blockswarm tracker", "tracker", "--listen", $"{InteropLan.OurIp}:{TrackerPort}", "--allow", t.InfoHash.ToHex());
        await lan.Ours.WaitListeningAsync(InteropLan.OurIp, TrackerPort, tracker, StartTimeout);
    }

    /// <summary>
    /// Waits until the tracker's scrape counts at least <paramref name="seeds"/> seeds and one peer in all,
    /// so the client started next is sure to be told about it in its first announce (the next would be 30 s later).
    /// </summary>
    private static async Task WaitForTrackerPeersAsync(InteropLan lan, Torrent t, int seeds)
    {
        var url = $"http://{InteropLan.OurIp}:{TrackerPort}/scrape?info_hash={t.InfoHash.ToUrlEncoded()}";
        var clock = Stopwatch.StartNew();
        string body = "";
        while (clock.Elapsed < StartTimeout)
        {
            body = Tool.Run("ip", ["netns", "exec", lan.Ours.Name, "curl", "-sf", "--max-time", "5", url], check: false, timeout: TimeSpan.FromSeconds(10)).StdOut;
            int complete = Count(body, "complete"), incomplete = Count(body, "incomplete");
            if (complete >= seeds && complete + incomplete >= 1)
            {
                lan.Ours.Note($"tracker knows {complete} seed(s) and {incomplete} leecher(s)");
                return;
            }
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException($"the tracker did not count {seeds} seed(s) within {StartTimeout}: {body}");

        static int Count(string scrape, string key) =>
            Regex.Match(scrape, $"{key.Length}:{key}i(\\d+)e") is { Success: true } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>
    /// transmission-cli on the far end with a fresh config dir: its settings.json turns off every way to
    /// find peers but the tracker, binds it to its address, and keeps logging at "info" for the test log.
    /// </summary>
    private static PeerProcess StartTransmission(InteropLan lan, string configDir, string downloadDir, string torrent)
    {
        Directory.CreateDirectory(configDir);
        File.WriteAllText(Path.Combine(configDir, "settings.json"), $$"""
            {
              "bind-address-ipv4": "{{InteropLan.TheirIp}}",
              "peer-port": {{TheirPort}},
              "peer-port-random-on-start": false,
              "dht-enabled": false,
              "lpd-enabled": false,
              "utp-enabled": false,
              "port-forwarding-enabled": false,
              "rpc-enabled": false,
              "blocklist-enabled": false,
              "ratio-limit-enabled": false,
              "idle-seeding-limit-enabled": false,
              "message-level": 2
            }
            """);
        string[] cli =
        [
            TransmissionCli, "--config-dir", configDir, "--download-dir", downloadDir, "--no-portmap", "--no-downlimit", "--no-uplimit",
            "--port", TheirPort.ToString(CultureInfo.InvariantCulture), torrent,
        ];
        // Its status line goes to a pipe here, block-buffered: unbuffered, "Seeding" shows when it happens, not ~10 s later.
        return Tool.Exists("stdbuf")
            ? lan.Theirs.Start("transmission-cli", "stdbuf", ["-o0", .. cli])
            : lan.Theirs.Start("transmission-cli", cli[0], cli[1..]);
    }
}
