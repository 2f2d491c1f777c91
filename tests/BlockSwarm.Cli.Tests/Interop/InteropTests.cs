using System.Diagnostics;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests.Interop;

/// <summary>
/// BlockSwarm against real BitTorrent clients from Debian packages (aria2c, python3-libtorrent), each
/// run as its own process in a private network namespace. BlockSwarm is always 127.0.0.2:6881 and the
/// other client 127.0.0.3:6882 (libtorrent keeps one peer per IP by default, so they must differ).
/// Every transfer is checked byte for byte, and every client's output lands in the test log.
/// </summary>
[Collection(nameof(InteropCollection))]
public sealed class InteropTests(ITestOutputHelper output)
{
    private const string Ours = "127.0.0.2";
    private const int OurPort = 6881;
    private const string Theirs = "127.0.0.3";
    private const int TheirPort = 6882;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    /// <summary>lt.py's options for talking to BlockSwarm: a plain handshake first, and a log a failure can be read from.</summary>
    private static readonly string[] LtInterop = ["--plain-handshake", "--alerts", "error,peer,status,connect", "--progress"];

    private static string[] Aria2Common(string dir, string ip = Theirs, int port = TheirPort) =>
    [
        "--dir=" + dir,
        "--interface=" + ip,
        "--listen-port=" + port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
        "--disable-ipv6=true", "--bt-require-crypto=false", "--bt-min-crypto-level=plain",
        "--file-allocation=none", "--summary-interval=0", "--console-log-level=notice",
        "--log=-", "--log-level=info",
    ];

    [Fact]
    [Requires(Need.Root, Need.NetworkNamespaces, "aria2c")]
    public async Task BlockSwarm_fetches_from_an_aria2c_seeder()
    {
        using var dir = new TempDirectory("interop-aria2-seed");
        var (seedDir, outDir, torrent) = Dirs(dir);
        var t = await InteropData.BlockImageTorrentAsync(dir, seedDir, torrent);
        using var net = Net();

        var aria = net.Start("aria2c seeder", "aria2c", [.. Aria2Common(seedDir), "--check-integrity=true", "--seed-ratio=0.0", torrent]);
        await net.WaitListeningAsync(Theirs, TheirPort, aria, StartTimeout);
        var clock = Stopwatch.StartNew();
        var fetch = net.StartBlockSwarm("blockswarm fetch", "fetch", "--torrent", torrent, "--target", outDir, "--files",
            "--listen", $"{Ours}:{OurPort}", "--peer", $"{Theirs}:{TheirPort}");
        Assert.Equal(0, await fetch.WaitForExitAsync(Timeout));
        net.Note($"fetched {t.TotalLength >> 20} MiB from aria2c in {clock.Elapsed.TotalSeconds:0.00} s");
        InteropData.AssertSameFiles(t, seedDir, outDir);
    }

    [Fact]
    [Requires(Need.Root, Need.NetworkNamespaces, Need.PythonLibtorrent)]
    public async Task BlockSwarm_fetches_from_a_libtorrent_seeder_that_dials_in()
    {
        using var dir = new TempDirectory("interop-lt-seed");
        var (seedDir, outDir, torrent) = Dirs(dir);
        var t = await InteropData.BlockImageTorrentAsync(dir, seedDir, torrent);
        using var net = Net();

        var clock = Stopwatch.StartNew();
        var fetch = net.StartBlockSwarm("blockswarm fetch", "fetch", "--torrent", torrent, "--target", outDir, "--files", "--listen", $"{Ours}:{OurPort}");
        await net.WaitListeningAsync(Ours, OurPort, fetch, StartTimeout);
        net.Start(LtScript.Spec("libtorrent seeder", "seed", [torrent, seedDir, "--listen", $"{Theirs}:{TheirPort}", "--connect", $"{Ours}:{OurPort}", .. LtInterop]));
        Assert.Equal(0, await fetch.WaitForExitAsync(Timeout));
        net.Note($"fetched {t.TotalLength >> 20} MiB from libtorrent in {clock.Elapsed.TotalSeconds:0.00} s");
        InteropData.AssertSameFiles(t, seedDir, outDir);
    }

    [Fact]
    [Requires(Need.Root, Need.NetworkNamespaces, "aria2c")]
    public async Task Aria2c_fetches_from_a_BlockSwarm_seeder()
    {
        using var dir = new TempDirectory("interop-aria2-leech");
        var (seedDir, outDir, torrent) = Dirs(dir);
        var t = await InteropData.BlockImageTorrentAsync(dir, seedDir, torrent);
        using var net = Net();

        var aria = net.Start("aria2c leecher", "aria2c", [.. Aria2Common(outDir), "--seed-time=0", torrent]);
        await net.WaitListeningAsync(Theirs, TheirPort, aria, StartTimeout);
        var clock = Stopwatch.StartNew();
        net.StartBlockSwarm("blockswarm seed", "seed", "--torrent", torrent, "--source", seedDir, "--files",
            "--listen", $"{Ours}:{OurPort}", "--peer", $"{Theirs}:{TheirPort}");
        Assert.Equal(0, await aria.WaitForExitAsync(Timeout));
        net.Note($"aria2c fetched {t.TotalLength >> 20} MiB from BlockSwarm in {clock.Elapsed.TotalSeconds:0.00} s");
        InteropData.AssertSameFiles(t, seedDir, outDir);
    }

    [Fact]
    [Requires(Need.Root, Need.NetworkNamespaces, Need.PythonLibtorrent)]
    public async Task Libtorrent_fetches_from_a_BlockSwarm_seeder()
    {
        using var dir = new TempDirectory("interop-lt-leech");
        var (seedDir, outDir, torrent) = Dirs(dir);
        var t = await InteropData.BlockImageTorrentAsync(dir, seedDir, torrent);
        using var net = Net();

        var seed = net.StartBlockSwarm("blockswarm seed", "seed", "--torrent", torrent, "--source", seedDir, "--files", "--listen", $"{Ours}:{OurPort}");
        await net.WaitListeningAsync(Ours, OurPort, seed, StartTimeout);
        var clock = Stopwatch.StartNew();
        var lt = net.Start(LtScript.Spec("libtorrent leecher", "fetch", [torrent, outDir, "--listen", $"{Theirs}:{TheirPort}",
            "--connect", $"{Ours}:{OurPort}", "--timeout", Timeout.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), .. LtInterop]));
        Assert.Equal(0, await lt.WaitForExitAsync(Timeout + TimeSpan.FromSeconds(10)));
        net.Note($"libtorrent fetched {t.TotalLength >> 20} MiB from BlockSwarm in {clock.Elapsed.TotalSeconds:0.00} s");
        InteropData.AssertSameFiles(t, seedDir, outDir);
    }

    [Fact]
    [Requires(Need.Root, Need.NetworkNamespaces, Need.PythonLibtorrent)]
    public async Task BlockSwarm_fetches_a_libtorrent_made_multi_file_torrent_with_nested_dirs()
    {
        using var dir = new TempDirectory("interop-lt-tree");
        var (seedDir, outDir, torrent) = Dirs(dir);
        InteropData.WriteNestedTree(Path.Combine(seedDir, "payload"));
        LtScript.Create(Path.Combine(seedDir, "payload"), torrent, 64 << 10);
        var t = Metainfo.Torrent.Load(torrent);
        Assert.Equal("payload", t.Name);
        Assert.Contains(t.Files, f => f.Path.Count == 6);
        using var net = Net();

        var lt = net.Start(LtScript.Spec("libtorrent seeder", "seed", [torrent, seedDir, "--listen", $"{Theirs}:{TheirPort}", .. LtInterop]));
        // libtorrent drops peers of a torrent it is still checking (and we would back off 4 s): wait for the seed.
        await lt.WaitForOutputAsync("] seeding", StartTimeout);
        var clock = Stopwatch.StartNew();
        var fetch = net.StartBlockSwarm("blockswarm fetch", "fetch", "--torrent", torrent, "--target", outDir, "--files", "--peer", $"{Theirs}:{TheirPort}");
        Assert.Equal(0, await fetch.WaitForExitAsync(Timeout));
        net.Note($"fetched {t.Files.Length} files ({t.TotalLength} bytes) from libtorrent in {clock.Elapsed.TotalSeconds:0.00} s");
        InteropData.AssertSameFiles(t, seedDir, outDir);
    }

    [Fact]
    [Requires(Need.Root, Need.NetworkNamespaces, "aria2c", Need.PythonLibtorrent)]
    public async Task A_BlockSwarm_leecher_completes_from_aria2c_and_libtorrent_leechers_that_share_what_they_get()
    {
        using var dir = new TempDirectory("interop-swarm");
        var (seedDir, _, torrent) = Dirs(dir);
        var t = await InteropData.BlockImageTorrentAsync(dir, seedDir, torrent);
        string ltDir = Directory.CreateDirectory(dir.File("lt")).FullName;
        string ariaDir = Directory.CreateDirectory(dir.File("aria2")).FullName;
        string bsDir = Directory.CreateDirectory(dir.File("bs")).FullName;
        const string origin = "127.0.0.2:6881", lt = "127.0.0.3:6882", aria = "127.0.0.4:6883", leecher = "127.0.0.5:6884";
        using var net = Net();

        // The BlockSwarm leecher never talks to the origin: every byte it gets went through aria2c or
        // libtorrent, which start empty and serve pieces as they verify them (HAVEs, mid-stream
        // bitfields, their chokers), and they in turn fetch from it. aria2c cannot be told about
        // peers, so the others dial it; it and libtorrent keep seeding after they complete.
        var ariaProc = net.Start("aria2c leecher", "aria2c", [.. Aria2Common(ariaDir, "127.0.0.4", 6883), "--seed-ratio=0.0", torrent]);
        await net.WaitListeningAsync("127.0.0.4", 6883, ariaProc, StartTimeout);
        var fetch = net.StartBlockSwarm("blockswarm leecher", "fetch", "--torrent", torrent, "--target", bsDir, "--files", "--listen", leecher, "--peer", aria);
        await net.WaitListeningAsync("127.0.0.5", 6884, fetch, StartTimeout);
        var clock = Stopwatch.StartNew();
        var seed = net.StartBlockSwarm("blockswarm origin", "seed", "--torrent", torrent, "--source", seedDir, "--files", "--listen", origin, "--peer", aria);
        await net.WaitListeningAsync("127.0.0.2", 6881, seed, StartTimeout);
        var ltProc = net.Start(LtScript.Spec("libtorrent leecher", "fetch", [torrent, ltDir, "--listen", lt,
            "--connect", origin, "--connect", leecher, "--connect", aria, "--linger", "600", .. LtInterop]));

        await ltProc.WaitForOutputAsync("] complete", Timeout);
        net.Note($"libtorrent complete after {clock.Elapsed.TotalSeconds:0.00} s");
        await ariaProc.WaitForOutputAsync("The download was complete.", Timeout);
        net.Note($"aria2c complete after {clock.Elapsed.TotalSeconds:0.00} s");
        Assert.Equal(0, await fetch.WaitForExitAsync(Timeout));
        net.Note($"blockswarm leecher complete after {clock.Elapsed.TotalSeconds:0.00} s");
        InteropData.AssertSameFiles(t, seedDir, ltDir);
        InteropData.AssertSameFiles(t, seedDir, ariaDir);
        InteropData.AssertSameFiles(t, seedDir, bsDir);
    }

    /// <summary>A private namespace whose processes' output lands in the test log when it is disposed.</summary>
    private NetworkNamespace Net() => NetworkNamespace.Create("interop", output.WriteLine);

    private static (string SeedDir, string OutDir, string Torrent) Dirs(TempDirectory dir)
    {
        var seedDir = Directory.CreateDirectory(dir.File("seed")).FullName;
        var outDir = Directory.CreateDirectory(dir.File("out")).FullName;
        return (seedDir, outDir, dir.File("t.torrent"));
    }
}

/// <summary>Interop tests spawn several processes each: run them one at a time (2 cores are shared).</summary>
[CollectionDefinition(nameof(InteropCollection), DisableParallelization = true)]
public sealed class InteropCollection;
