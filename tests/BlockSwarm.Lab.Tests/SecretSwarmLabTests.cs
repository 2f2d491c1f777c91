using BlockSwarm.Testing;

namespace BlockSwarm.Lab.Tests;

/// <summary>
/// Issue 18's lab scenario (<see cref="SecretSwarmScenario"/>, the core of <c>blockswarm-lab secret</c>) on a small lab:
/// two clients, an outsider host running python3-libtorrent and a fetch with another secret, a rogue serve with another
/// signing key. Real counts, not just exit codes: what each outsider reports and wrote, the rogue's event and the
/// target's bytes, every copy against the image's used data.
/// </summary>
[Collection(nameof(LabCollection))]
[Requires(Need.Root, Need.NetworkNamespaces, Need.PythonLibtorrent, "tc")]
public sealed class SecretSwarmLabTests(ITestOutputHelper output) : IDisposable
{
    private const int ImageMib = 24;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(50);
    private readonly TempDirectory _dir = new("lab-secret");
    private LabNetwork? _net;

    public void Dispose()
    {
        _net?.Dispose();
        _dir.Dispose();
    }

    /// <summary>A random image (every byte sent: map all) and its torrent, as the lab's own random image.</summary>
    private LabImage MakeImage()
    {
        var made = RandomLabImage.Make(_dir, ImageMib);
        return new LabImage("random", made.Image, made.Torrent, made.TotalLength, made.Bytes, null, _dir.Path);
    }

    [Fact]
    public async Task Outsiders_get_no_byte_a_rogue_server_is_refused_by_every_client_and_every_copy_is_bit_exact()
    {
        LabNetwork.Cli = RepoPaths.CliDll;
        _net = LabNetwork.Create(2, 100, output.WriteLine, dumpOutputOnDispose: true);
        var scenario = SecretSwarmScenario.Create(_net, MakeImage(), _dir.File("secret"), output.WriteLine);

        var r = await scenario.RunAsync(Timeout, TestContext.Current.CancellationToken);
        output.WriteLine(new SecretLabResult(r, []).Markdown());

        Assert.NotEqual(r.ServerKey, r.RogueServerKey);
        Assert.Equal(2, r.Rogue.Count);
        foreach (var attempt in r.Rogue)
        {
            Assert.Equal(6, attempt.ExitCode);
            Assert.Equal(1, attempt.ServerRefusedEvents);
            Assert.Contains(r.ServerKey, attempt.Refusal, StringComparison.Ordinal);
            Assert.Contains(r.RogueServerKey, attempt.Refusal, StringComparison.Ordinal);
            Assert.True(attempt.TargetUnchanged, $"{attempt.Client}'s target changed although the rogue was refused");
        }
        Assert.Equal(2, r.Outsiders.Count);
        foreach (var o in r.Outsiders)
        {
            Assert.True(o.ReportedPayloadBytes == 0, $"{o.Who} reports {o.ReportedPayloadBytes} payload bytes: {o.Report}");
            Assert.True(o.NonZeroBytesWritten == 0, $"{o.Who} wrote {o.NonZeroBytesWritten} non-zero bytes");
        }
        // Both outsiders reached the swarm and were turned away: every refusal is counted at serve, and both announced.
        Assert.True(r.Refusals.ServeRefusedConnections >= 2, $"serve refused {r.Refusals.ServeRefusedConnections} connections");
        Assert.True(r.Refusals.ServeEvent11 >= 1);
        Assert.True(r.Refusals.ServeEvent2013 >= 2, $"serve refused {r.Refusals.ServeEvent2013} announces");
        Assert.True(r.Refusals.OutsiderFetchEvent12 >= 1);
        Assert.Contains($"{_net.Server.Ip}:6881", r.Refusals.FetchPeersReached);
        Assert.Contains($"{_net.Server.Ip}:6881", r.Refusals.LibtorrentPeersReached);
        Assert.True(r.Refusals.LibtorrentTrackerRefusals >= 1, "libtorrent's announce was not refused");
        Assert.Equal(2, r.Copies.Count);
        Assert.All(r.Copies, c => Assert.True(c.BitExact, $"{c.Client} differs at byte {c.FirstDifference}"));
        Assert.True(r.Passed, string.Join("; ", r.Failures));
    }
}
