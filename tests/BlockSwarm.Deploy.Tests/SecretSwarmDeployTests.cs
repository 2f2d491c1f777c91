using System.Net;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Deploy.Client;
using BlockSwarm.Deploy.Server;
using BlockSwarm.Metainfo;
using BlockSwarm.Security;
using BlockSwarm.Testing;
using Microsoft.Extensions.Logging;
using static BlockSwarm.Deploy.Tests.TrustTestKit;

namespace BlockSwarm.Deploy.Tests;

/// <summary>
/// serve and deploy with a swarm secret (issue 18): clients with it deploy bit-exact over encrypted connections and a
/// tracker that checks their proofs; a client without it, or with another, is told which secret the swarm needs before it
/// touches its target; the job names the secret's public id, never the secret.
/// </summary>
public sealed class SecretSwarmDeployTests(ITestOutputHelper output)
{
    private static readonly SwarmSecret Secret = SwarmSecret.FromText("room 12's imaging secret", "test");
    private static readonly SwarmSecret Other = SwarmSecret.FromText("room 13's imaging secret", "test");

    private static DeployOptions Client(Uri server, string target, SwarmSecret? secret, ILoggerFactory log, int n) => new()
    {
        Server = server,
        Target = target,
        Yes = true,
        AllowFile = true,
        Listen = new IPEndPoint(IPAddress.Parse($"127.0.0.{n}"), 0),
        ReportInterval = TimeSpan.FromMilliseconds(300),
        MaxSeeding = TimeSpan.FromSeconds(30),
        SwarmSecret = secret,
        LoggerFactory = log,
    };

    [Fact]
    public async Task Clients_with_the_secret_deploy_bit_exact_and_the_job_names_only_its_id()
    {
        using var dir = new TempDirectory("secret-deploy");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var serverLog = new RecordingLoggerFactory { MinLevel = LogLevel.Information };
        var (server, storage) = await StartAsync(img, torrent, new ServeOptions
        {
            SwarmSecret = Secret,
            Policy = new CompletionPolicy { Mode = "until-all-done", Expected = 2 },
            LoggerFactory = serverLog,
        }, ct);
        await using var _ = storage;
        await using var __ = server;
        Assert.Equal(Secret.Id, server.Job.SecretId);
        using (var http = new HttpClient())
        {
            string job = await http.GetStringAsync(new Uri(server.HttpAddress!, "/api/job"), ct);
            Assert.Contains($"\"secretId\":\"{Secret.Id}\"", job, StringComparison.Ordinal);
            // The announce of a standard client is refused by serve's own tracker.
            string announce = await http.GetStringAsync(new Uri(server.HttpAddress!,
                $"/announce?info_hash={string.Concat(torrent.InfoHash.Span.ToArray().Select(b => $"%{b:X2}"))}&peer_id=-TR3000-000000000000&port=51413&uploaded=0&downloaded=0&left=1&compact=1"), ct);
            Assert.Contains("swarm secret", announce, StringComparison.Ordinal);
        }

        var logs = new[] { new RecordingLoggerFactory(), new RecordingLoggerFactory() };
        var targets = new[] { dir.File("a.img"), dir.File("b.img") };
        foreach (var t in targets)
            await using (var f = new FileStream(t, FileMode.Create)) f.SetLength(new FileInfo(img).Length);
        var runs = targets.Select((t, i) => new DeployClient(Client(server.HttpAddress!, t, Secret, logs[i], 41 + i), new DeployEndToEndTests.CollectingReporter()).RunAsync(ct)).ToArray();
        var codes = await Task.WhenAll(runs);
        foreach (var e in logs.SelectMany(l => l.Entries).Where(e => e.Level >= LogLevel.Warning)) output.WriteLine(e.ToString());
        Assert.All(codes, rc => Assert.Equal(DeployExitCodes.Ok, rc));
        foreach (var t in targets) Assert.Null(BlockImageLayout.Create(torrent).FirstDifference(img, t));
        Assert.Contains(serverLog.Entries, e => e.EventId.Id == 13 && e.Message.Contains(Secret.Id, StringComparison.Ordinal));
        Assert.DoesNotContain(serverLog.Entries, e => e.EventId.Id is 11 or 12);
        // The one refused announce is the standard client's above: every client's proofs held.
        Assert.Single(serverLog.Entries, e => e.EventId.Id == 2013);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("other")]
    public async Task A_client_without_the_secret_or_with_another_is_told_so_and_writes_nothing(string which)
    {
        using var dir = new TempDirectory("secret-deploy-refused");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var (server, storage) = await StartAsync(img, torrent, new ServeOptions { SwarmSecret = Secret }, ct);
        await using var _ = storage;
        await using var __ = server;
        var target = PatternedTarget(dir, "t.img", new FileInfo(img).Length);
        var before = await File.ReadAllBytesAsync(target, ct);
        var log = new RecordingLoggerFactory();
        var reporter = new DeployEndToEndTests.CollectingReporter();

        int rc = await new DeployClient(Client(server.HttpAddress!, target, which == "other" ? Other : null, log, 45), reporter).RunAsync(ct);

        Assert.Equal(DeployExitCodes.Error, rc);
        Assert.Equal(before, await File.ReadAllBytesAsync(target, ct));
        var line = Assert.Single(log.Entries, e => e.Level >= LogLevel.Error);
        output.WriteLine(line.Message);
        Assert.Equal(1130, line.EventId.Id);
        Assert.Contains($"needs swarm secret {Secret.Id}", line.Message, StringComparison.Ordinal);
        if (which == "other") Assert.Contains(Other.Id, line.Message, StringComparison.Ordinal);
        Assert.Contains(target, line.Message, StringComparison.Ordinal);
        Assert.Empty(server.Registry.List());
        Assert.Equal(0, server.Seeder.GetStats().WireUploaded);
    }

    [Fact]
    public async Task Outsiders_cannot_enrol_in_a_secret_swarm_so_they_cannot_claim_ids_nor_report()
    {
        using var dir = new TempDirectory("secret-enrol");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var serverLog = new RecordingLoggerFactory { MinLevel = LogLevel.Information };
        var (server, storage) = await StartAsync(img, torrent, new ServeOptions { SwarmSecret = Secret, LoggerFactory = serverLog }, ct);
        await using var _ = storage;
        await using var __ = server;
        using var http = new HttpClient();
        var now = DateTimeOffset.UtcNow;
        async Task<HttpStatusCode> EnrolAsync(string id, string? proof)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.HttpAddress!, $"/api/clients/{id}/enrol"));
            if (proof is not null) request.Headers.Add(EnrolProof.Header, proof);
            using var response = await http.SendAsync(request, ct);
            return response.StatusCode;
        }
        string good = EnrolProof.Create(Secret, "pc07", now);
        Assert.Equal(HttpStatusCode.Forbidden, await EnrolAsync("pc07", null));
        Assert.Equal(HttpStatusCode.Forbidden, await EnrolAsync("pc07", EnrolProof.Create(Other, "pc07", now)));
        Assert.Equal(HttpStatusCode.Forbidden, await EnrolAsync("pc07", EnrolProof.Create(Secret, "pc07", now.AddMinutes(-6))));
        Assert.Equal(HttpStatusCode.Forbidden, await EnrolAsync("pc08", good)); // a proof for another id
        Assert.Equal(HttpStatusCode.Forbidden, await EnrolAsync("pc07", good[..^1] + (good[^1] == '0' ? '1' : '0')));
        Assert.Empty(server.Registry.List());
        var refusals = serverLog.Entries.Where(e => e.EventId.Id == 1015).Select(e => e.Message).ToList();
        foreach (var r in refusals) output.WriteLine(r);
        Assert.Equal(5, refusals.Count);
        Assert.Contains(refusals, m => m.Contains("no proof of the swarm secret", StringComparison.Ordinal));
        Assert.Contains(refusals, m => m.Contains("different secret", StringComparison.Ordinal));
        Assert.Contains(refusals, m => m.Contains("minutes from this server's clock", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, await EnrolAsync("pc07", good));
    }

    [Fact]
    public void A_client_with_a_secret_is_told_when_the_swarm_is_open()
    {
        var job = new JobInfo
        {
            JobId = "j", Name = "n", InfoHash = new string('0', 40), TorrentUrl = "/job.torrent", AnnounceUrl = "/announce",
            RequiredTargetSize = 1, SourceSize = 1, TotalBytes = 1, PieceLength = 16384, PieceCount = 1, OriginPort = 1,
            Policy = new CompletionPolicy(),
        };
        Assert.Null(DeployClient.SecretMismatch(job, null));
        Assert.Contains("the server's swarm is open", DeployClient.SecretMismatch(job, Secret), StringComparison.Ordinal);
        Assert.Null(DeployClient.SecretMismatch(job with { SecretId = Secret.Id }, Secret));
    }
}
