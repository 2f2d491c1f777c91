using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests.Interop;

/// <summary>
/// A secret swarm against real outsiders (issue 18), in a private network namespace: a BlockSwarm seeder with
/// <c>--secret-file</c>; python3-libtorrent and aria2c holding the torrent, and a BlockSwarm fetch with another
/// secret, all dial it and get not one byte of payload (their targets stay empty), while a fetch with the secret
/// completes bit-exact. The seeder says in one log line per outsider why it was refused.
/// </summary>
[Collection(nameof(InteropCollection))]
public sealed class SecretSwarmInteropTests(ITestOutputHelper output)
{
    private const string Seeder = "127.0.0.2:6881";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    [Requires(Need.Root, Need.NetworkNamespaces, Need.PythonLibtorrent, "aria2c")]
    public async Task Outsiders_with_the_torrent_get_no_byte_while_a_member_deploys_bit_exact()
    {
        using var dir = new TempDirectory("secret-interop");
        var seedDir = Directory.CreateDirectory(dir.File("seed")).FullName;
        var torrent = dir.File("t.torrent");
        var t = await InteropData.BlockImageTorrentAsync(dir, seedDir, torrent);
        string secret = dir.File("swarm.secret"), wrong = dir.File("other.secret");
        Security.SwarmSecret.CreateFile(secret);
        Security.SwarmSecret.CreateFile(wrong);
        string Out(string name) => Directory.CreateDirectory(dir.File(name)).FullName;
        using var net = NetworkNamespace.Create("secret", output.WriteLine);

        var seed = net.StartBlockSwarm("blockswarm seed (secret)", "seed", "--torrent", torrent, "--source", seedDir, "--files",
            "--listen", Seeder, "--secret-file", secret);
        await net.WaitListeningAsync("127.0.0.2", 6881, seed, TimeSpan.FromSeconds(30));

        string ltDir = Out("lt"), ariaDir = Out("aria"), wrongDir = Out("wrong"), memberDir = Out("member");
        var lt = net.Start(LtScript.Spec("libtorrent outsider", "fetch", [torrent, ltDir, "--listen", "127.0.0.3:6882", "--connect", Seeder,
            "--timeout", "12", "--plain-handshake", "--alerts", "error,peer,connect", "--progress"]));
        var aria = net.Start("aria2c outsider", "aria2c", ["--dir=" + ariaDir, "--interface=127.0.0.4", "--listen-port=6883",
            "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--disable-ipv6=true",
            "--bt-require-crypto=false", "--bt-min-crypto-level=plain", "--file-allocation=none", "--summary-interval=0",
            "--bt-stop-timeout=12", "--console-log-level=notice", "--seed-time=0", torrent]);
        var outsider = net.StartBlockSwarm("blockswarm with another secret", "fetch", "--torrent", torrent, "--target", wrongDir, "--files",
            "--listen", "127.0.0.5:6884", "--peer", Seeder, "--secret-file", wrong);
        var member = net.StartBlockSwarm("blockswarm member", "fetch", "--torrent", torrent, "--target", memberDir, "--files",
            "--listen", "127.0.0.6:6885", "--peer", Seeder, "--secret-file", secret);

        // aria2c dials only peers it hears of (no tracker here): a member dials it instead, as a swarm peer would, and
        // must give up without a BitTorrent byte.
        await net.WaitListeningAsync("127.0.0.4", 6883, aria, TimeSpan.FromSeconds(30));
        var dialer = net.StartBlockSwarm("blockswarm member dialing aria2c", "fetch", "--torrent", torrent, "--target", Out("dialer"), "--files",
            "--listen", "127.0.0.7:6886", "--peer", "127.0.0.4:6883", "--secret-file", secret);

        Assert.Equal(0, await member.WaitForExitAsync(Timeout));
        InteropData.AssertSameFiles(t, seedDir, memberDir);
        Assert.Equal(3, await lt.WaitForExitAsync(TimeSpan.FromSeconds(40))); // lt.py: timeout, not complete
        await aria.WaitForExitAsync(TimeSpan.FromSeconds(40));
        await Eventually.UntilAsync(() => seed.Output.Contains("different secret", StringComparison.Ordinal), TimeSpan.FromSeconds(20),
            "the seeder refused the other secret", () => seed.Tail());
        outsider.Kill();
        dialer.Kill();

        Assert.Contains("plain BitTorrent handshake", seed.Output, StringComparison.Ordinal);
        Assert.Contains("gave up on 127.0.0.4:6883", dialer.Output, StringComparison.Ordinal);
        foreach (var (who, path) in new[] { ("libtorrent", ltDir), ("aria2c", ariaDir), ("the other secret", wrongDir) })
        {
            long payload = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                .Where(f => !f.EndsWith(".aria2", StringComparison.Ordinal) && !f.Contains("resume", StringComparison.Ordinal))
                .Sum(f => File.ReadAllBytes(f).Count(b => b != 0));
            output.WriteLine($"{who}: {payload} non-zero payload bytes received");
            Assert.Equal(0, payload);
        }
        output.WriteLine(string.Join('\n', seed.Output.Split('\n').Where(l => l.Contains("refused", StringComparison.Ordinal))));
    }
}
