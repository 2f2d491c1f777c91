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

    /// <summary>The /24 both ends live on; any private range will do, as it exists only inside the test's namespaces.</summary>
    private const string Subnet = "10.213.77";
    private const string OurIp = Subnet + ".1";
    private const string TheirIp = Subnet + ".2";

    private static string Announce => $"http://{OurIp}:{TrackerPort}/announce";

    /// <summary>
    /// Our end and theirs on a LAN (two namespaces on a bridge in a third) that exists only inside them: Transmission
    /// refuses peers on 127.0.0.0/8. Their output lands in the test log when the LAN is disposed.
    /// </summary>
    private (SwitchedLan Lan, NetworkNamespace Ours, NetworkNamespace Theirs) Lan()
    {
        var lan = SwitchedLan.Create("bs-interop-", Subnet, log: output.WriteLine);
        try
        {
            return (lan, lan.AddHost("ours", 1).Namespace, lan.AddHost("theirs", 2).Namespace);
        }
        catch
        {
            lan.Dispose();
            throw;
        }
    }

    [Fact]
    [Requires(Need.Root, Need.NetworkNamespaces, TransmissionCli, "curl")]
    public async Task Transmission_fetches_a_block_image_from_a_BlockSwarm_seeder_found_through_our_tracker()
    {
        using var dir = new TempDirectory("interop-tr-leech");
        var outDir = Directory.CreateDirectory(dir.File("out")).FullName;
        var torrent = dir.File("t.torrent");
        var (t, image) = await InteropData.BlockImageAsync(dir, torrent, createArgs: ["--tracker", Announce]);
        var (lan, ours, theirs) = Lan();
        using var _ = lan;

        await StartTrackerAsync(ours, t);
        // The seeder serves the image itself (block-image storage); transmission writes ROOT/disk/<hex32>.
        var seed = ours.StartBlockSwarm("blockswarm seed", "seed", "--torrent", torrent, "--source", image, "--listen", $"{OurIp}:{OurPort}");
        await ours.WaitListeningAsync(OurIp, OurPort, seed, StartTimeout);
        await WaitForTrackerPeersAsync(ours, t, seeds: 1);

        var clock = Stopwatch.StartNew();
        var tr = StartTransmission(theirs, dir.File("transmission"), outDir, torrent);
        await tr.WaitForOutputAsync("Seeding", Timeout);
        ours.Note($"transmission fetched {t.Files.Length} files ({t.TotalLength} bytes) from BlockSwarm in {clock.Elapsed.TotalSeconds:0.00} s");
        InteropData.AssertFilesMatchImage(t, image, outDir);
        Assert.False(seed.HasExited, "the seeder exited");
    }

    [Fact]
    [Requires(Need.Root, Need.NetworkNamespaces, TransmissionCli, "curl")]
    public async Task BlockSwarm_fetches_a_block_image_from_a_transmission_seeder_found_through_our_tracker()
    {
        using var dir = new TempDirectory("interop-tr-seed");
        var seedDir = Directory.CreateDirectory(dir.File("seed")).FullName;
        var torrent = dir.File("t.torrent");
        var target = dir.File("target.img");
        var (t, image) = await InteropData.BlockImageAsync(dir, torrent, createArgs: ["--tracker", Announce]);
        InteropData.WritePlainFiles(t, image, seedDir);
        var (lan, ours, theirs) = Lan();
        using var _ = lan;

        await StartTrackerAsync(ours, t);
        var clock = Stopwatch.StartNew();
        // Started on complete data, transmission verifies it and seeds ("Seeding" only once every piece checked).
        var tr = StartTransmission(theirs, dir.File("transmission"), seedDir, torrent);
        await tr.WaitForOutputAsync("Seeding", StartTimeout);
        ours.Note($"transmission verified its data and seeds after {clock.Elapsed.TotalSeconds:0.00} s");
        await WaitForTrackerPeersAsync(ours, t, seeds: 0);

        clock.Restart();
        var fetch = ours.StartBlockSwarm("blockswarm fetch", "fetch", "--torrent", torrent, "--target", target, "--listen", $"{OurIp}:{OurPort}");
        Assert.Equal(0, await fetch.WaitForExitAsync(Timeout));
        ours.Note($"fetched {t.TotalLength} bytes from transmission in {clock.Elapsed.TotalSeconds:0.00} s");
        Assert.Null(BlockImageLayout.Create(t).FirstDifference(image, target));
    }

    /// <summary><c>blockswarm tracker</c> on our end, serving only this torrent.</summary>
    private static async Task StartTrackerAsync(NetworkNamespace ours, Torrent t)
    {
        var tracker = ours.StartBlockSwarm("blockswarm tracker", "tracker", "--listen", $"{OurIp}:{TrackerPort}", "--allow", t.InfoHash.ToHex());
        await ours.WaitListeningAsync(OurIp, TrackerPort, tracker, StartTimeout);
    }

    /// <summary>
    /// Waits until the tracker's scrape counts at least <paramref name="seeds"/> seeds and one peer in all,
    /// so the client started next is sure to be told about it in its first announce (the next would be 30 s later).
    /// </summary>
    private static async Task WaitForTrackerPeersAsync(NetworkNamespace ours, Torrent t, int seeds)
    {
        var url = $"http://{OurIp}:{TrackerPort}/scrape?info_hash={t.InfoHash.ToUrlEncoded()}";
        string body = "";
        await Eventually.UntilAsync(() =>
        {
            body = ours.HttpGet(url) ?? "";
            int complete = Count(body, "complete"), incomplete = Count(body, "incomplete");
            if (complete < seeds || complete + incomplete < 1) return false;
            ours.Note($"tracker knows {complete} seed(s) and {incomplete} leecher(s)");
            return true;
        }, StartTimeout, $"the tracker to count {seeds} seed(s) and a peer", () => "last scrape: " + body, TimeSpan.FromMilliseconds(200),
            TestContext.Current.CancellationToken);

        static int Count(string scrape, string key) =>
            Regex.Match(scrape, $"{key.Length}:{key}i(\\d+)e") is { Success: true } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>
    /// transmission-cli on the far end with a fresh config dir: its settings.json turns off every way to
    /// find peers but the tracker, binds it to its address, and keeps logging at "info" for the test log.
    /// </summary>
    private static RunningProcess StartTransmission(NetworkNamespace theirs, string configDir, string downloadDir, string torrent)
    {
        Directory.CreateDirectory(configDir);
        File.WriteAllText(Path.Combine(configDir, "settings.json"), $$"""
            {
              "bind-address-ipv4": "{{TheirIp}}",
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
            ? theirs.Start("transmission-cli", "stdbuf", ["-o0", .. cli])
            : theirs.Start("transmission-cli", cli[0], cli[1..]);
    }
}
