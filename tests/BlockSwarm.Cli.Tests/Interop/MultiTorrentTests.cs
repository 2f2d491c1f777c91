using System.Diagnostics;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests.Interop;

/// <summary>
/// One process, several torrents, one port — what Clonezilla's BitTorrent mode does with one torrent per partition.
/// A single <c>blockswarm seed</c> serves two block images and a plain multi-file torrent on 127.0.0.2:6881;
/// python3-libtorrent (one session holding all three) and a <c>blockswarm fetch</c> (one process, three targets) each
/// download all three through that port and are checked byte for byte; a handshake for an info-hash the seed does
/// not have gets the connection closed without a byte.
/// </summary>
[Collection(nameof(InteropCollection))]
public sealed class MultiTorrentTests(ITestOutputHelper output)
{
    private const string Seed = "127.0.0.2";
    private const int SeedPort = 6881;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    /// <summary>Connects, sends a handshake for argv[3], prints the bytes received and whether the seed closed the connection.</summary>
    private const string HandshakeProbe = """
        import os, socket, sys
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
        s.sendall(bytes([19]) + b"BitTorrent protocol" + bytes(8) + bytes.fromhex(sys.argv[3]) + os.urandom(20))
        n, closed = 0, False
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    closed = True
                    break
                n += len(b)
        except socket.timeout:
            pass
        print(n, "closed" if closed else "open")
        """;

    [Fact]
    [Requires(Need.Root, Need.NetworkNamespaces, Need.PythonLibtorrent)]
    public async Task One_seed_process_serves_three_torrents_on_one_port_to_libtorrent_and_to_a_BlockSwarm_fetch()
    {
        using var dir = new TempDirectory("interop-multi");
        using var dirA = new TempDirectory("interop-multi-a");
        using var dirB = new TempDirectory("interop-multi-b");
        string torrentA = dir.File("a.torrent"), torrentB = dir.File("b.torrent"), torrentC = dir.File("c.torrent");
        var (tA, imgA) = await InteropData.BlockImageAsync(dirA, torrentA, seed: 11, name: "disk-a");
        var (tB, imgB) = await InteropData.BlockImageAsync(dirB, torrentB, seed: 12, name: "disk-b");
        var plainSource = Directory.CreateDirectory(dir.File("plain")).FullName;
        InteropData.WriteNestedTree(Path.Combine(plainSource, "payload"));
        LtScript.Create(Path.Combine(plainSource, "payload"), torrentC, 64 << 10);
        var tC = Torrent.Load(torrentC);
        Assert.NotEqual(tA.InfoHash, tB.InfoHash);
        using var net = NetworkNamespace.Create("interop", output.WriteLine);

        // No PEX from the seed: the two downloaders never learn of each other, so every byte comes through its port.
        var seed = net.StartBlockSwarm("blockswarm seed (3 torrents)", "seed", "--torrent", torrentA, "--source", imgA,
            "--torrent", torrentB, "--source", imgB, "--torrent", torrentC, "--source", plainSource,
            "--listen", $"{Seed}:{SeedPort}", "--no-pex", "--log-level", "debug");
        await net.WaitListeningAsync(Seed, SeedPort, seed, TimeSpan.FromSeconds(30));

        var stranger = Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData("not a torrent here"u8));
        Assert.Equal("0 closed", net.Run(Tool.SystemPython, ["-c", HandshakeProbe, Seed, $"{SeedPort}", stranger]).StdOut.Trim());
        var known = net.Run(Tool.SystemPython, ["-c", HandshakeProbe, Seed, $"{SeedPort}", tA.InfoHash.ToHex()]).StdOut.Trim().Split(' ');
        Assert.True(int.Parse(known[0], System.Globalization.CultureInfo.InvariantCulture) >= 68 && known[1] == "open", $"known torrent: {string.Join(' ', known)}");

        var clock = Stopwatch.StartNew();
        var ltOut = Directory.CreateDirectory(dir.File("lt-out")).FullName;
        var lt = net.Start(LtScript.Spec("libtorrent leecher (3 torrents)", "fetch", [torrentA, ltOut, "--also", torrentB, "--also", torrentC,
            "--listen", "127.0.0.3:6882", "--connect", $"{Seed}:{SeedPort}", "--timeout", "110", "--plain-handshake", "--alerts", "error,peer"]));
        var bsOut = Directory.CreateDirectory(dir.File("bs-out")).FullName;
        string targetA = Path.Combine(bsOut, "a.img"), targetB = Path.Combine(bsOut, "b.img"), targetC = Path.Combine(bsOut, "plain");
        var fetch = net.StartBlockSwarm("blockswarm fetch (3 torrents)", "fetch", "--torrent", torrentA, "--target", targetA,
            "--torrent", torrentB, "--target", targetB, "--torrent", torrentC, "--target", targetC,
            "--listen", "127.0.0.4:6883", "--peer", $"{Seed}:{SeedPort}", "--no-pex", "--cache", "64MiB");
        Assert.Equal(0, await lt.WaitForExitAsync(Timeout));
        Assert.Equal(0, await fetch.WaitForExitAsync(Timeout));
        net.Note($"libtorrent and BlockSwarm fetched 3 torrents ({(tA.TotalLength + tB.TotalLength + tC.TotalLength) >> 20} MiB each) in {clock.Elapsed.TotalSeconds:0.00} s");
        Assert.Contains("complete: 3 torrents", fetch.StdOut, StringComparison.Ordinal);

        // libtorrent keeps the block images as plain files named by their offsets; BlockSwarm writes them into images.
        var expected = Directory.CreateDirectory(dir.File("expected")).FullName;
        InteropData.WritePlainFiles(tA, imgA, expected);
        InteropData.WritePlainFiles(tB, imgB, expected);
        InteropData.AssertSameFiles(tA, expected, ltOut);
        InteropData.AssertSameFiles(tB, expected, ltOut);
        InteropData.AssertSameFiles(tC, plainSource, ltOut);
        Assert.Null(BlockImageLayout.Create(tA).FirstDifference(imgA, targetA));
        Assert.Null(BlockImageLayout.Create(tB).FirstDifference(imgB, targetB));
        InteropData.AssertSameFiles(tC, plainSource, targetC);

        // The seed logged its refusal of the stranger, naming the info-hash.
        Assert.Contains($"no torrent here has info-hash {stranger}", seed.Output, StringComparison.Ordinal);
    }
}
