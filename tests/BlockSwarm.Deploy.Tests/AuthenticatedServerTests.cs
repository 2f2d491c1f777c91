using System.Net;
using System.Net.Http.Json;
using System.Text;
using BlockSwarm.Bencode;
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
/// Issue 18's authenticated server: deploy pins serve's key (job signature, torrent hash, TLS certificate) and refuses
/// anything else before it writes a byte, with one log line naming the server, the key expected and the key offered.
/// </summary>
public sealed class AuthenticatedServerTests(ITestOutputHelper output)
{
    private static DeployOptions Client(Uri server, string target, ServerTrust trust, ILoggerFactory log, int n = 31) => new()
    {
        Server = server,
        Target = target,
        Yes = true,
        AllowFile = true,
        Listen = new IPEndPoint(IPAddress.Parse($"127.0.0.{n}"), 0),
        ReportInterval = TimeSpan.FromMilliseconds(300),
        MaxSeeding = TimeSpan.Zero,
        ServerTrust = trust,
        LoggerFactory = log,
    };

    /// <summary>The one warning-or-worse line of a refused deploy: event 1121, naming the server URL and both keys.</summary>
    private static RecordedLog AssertOneRefusal(RecordingLoggerFactory log, Uri server, string? expected, string offered, string reasonPart)
    {
        var line = Assert.Single(log.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Equal(new EventId(1121, "ServerRefused"), line.EventId);
        Assert.Equal(server, line["Server"]);
        if (expected is not null) Assert.Equal(expected, line["Expected"]);
        Assert.Equal(offered, line["Offered"]);
        Assert.Contains(reasonPart, line.Message, StringComparison.Ordinal);
        return line;
    }

    [Fact]
    public async Task A_job_signed_by_another_key_is_refused_and_the_target_is_byte_for_byte_unchanged()
    {
        using var dir = new TempDirectory("trust-rogue");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        using var real = ServerIdentity.Generate();
        using var rogueKey = ServerIdentity.Generate();
        // The rogue serve has the same image and the same API: only its key differs.
        var (rogue, storage) = await StartAsync(img, torrent, new ServeOptions { Identity = rogueKey }, ct);
        await using var _ = storage;
        await using var __ = rogue;
        var target = PatternedTarget(dir, "t.img", new FileInfo(img).Length);
        var before = await File.ReadAllBytesAsync(target, ct);
        var log = new RecordingLoggerFactory();
        var reporter = new DeployEndToEndTests.CollectingReporter();

        int rc = await new DeployClient(Client(rogue.HttpAddress!, target, ServerTrust.Pinned(real.Fingerprint), log), reporter).RunAsync(ct);

        Assert.Equal(DeployExitCodes.ServerNotTrusted, rc);
        Assert.Equal(before, await File.ReadAllBytesAsync(target, ct));
        Assert.False(File.Exists(BlockSwarm.Engine.Storage.ResumeFile.DefaultPathFor(target)), "a resume file was written");
        var line = AssertOneRefusal(log, rogue.HttpAddress!, real.Fingerprint, rogueKey.Fingerprint, "not the pinned one");
        Assert.Contains(target, line.Message, StringComparison.Ordinal);
        output.WriteLine(line.Message);
        Assert.Empty(rogue.Registry.List()); // it never enrolled nor reported to the rogue
        Assert.Contains(reporter.Events, e => e.Name == "refused");
    }

    public static TheoryData<string> Tamperings => ["job", "torrent", "unsigned"];

    [Theory]
    [MemberData(nameof(Tamperings))]
    public async Task A_man_in_the_middle_rewriting_the_job_or_the_torrent_is_refused(string tampering)
    {
        using var dir = new TempDirectory("trust-mitm");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var (server, storage) = await StartAsync(img, torrent, new ServeOptions(), ct);
        await using var _ = storage;
        await using var __ = server;
        int rewritten = 0;
        byte[] Rewrite(string path, HttpResponseMessage response, byte[] body)
        {
            switch (tampering, path)
            {
                case ("job", "/api/job"):
                    // Another image's name and a larger target: the body no longer matches its signature.
                    Interlocked.Increment(ref rewritten);
                    return Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body).Replace("\"name\":\"sda1\"", "\"name\":\"evil\"", StringComparison.Ordinal));
                case ("unsigned", "/api/job"):
                    Interlocked.Increment(ref rewritten);
                    response.Headers.Remove(SignedMessage.KeyHeader);
                    response.Headers.Remove(SignedMessage.SignatureHeader);
                    return body;
                case ("torrent", "/job.torrent"):
                    // Same info dictionary (same info-hash), another announce URL: only the signed SHA-256 catches it.
                    Interlocked.Increment(ref rewritten);
                    var root = (BDictionary)BencodeDecoder.Decode(body);
                    root["announce"] = new BString("http://10.6.6.6:8080/announce");
                    return BencodeEncoder.Encode(root);
                default:
                    return body;
            }
        }
        await using var proxy = await StartProxyAsync(server.HttpAddress!, Rewrite, ct);
        var via = Address(proxy);
        var target = PatternedTarget(dir, "t.img", new FileInfo(img).Length);
        var before = await File.ReadAllBytesAsync(target, ct);
        var log = new RecordingLoggerFactory();

        int rc = await new DeployClient(Client(via, target, ServerTrust.Pinned(server.Identity.Fingerprint), log), new DeployEndToEndTests.CollectingReporter()).RunAsync(ct);

        Assert.Equal(DeployExitCodes.ServerNotTrusted, rc);
        Assert.True(rewritten > 0);
        Assert.Equal(before, await File.ReadAllBytesAsync(target, ct));
        var line = Assert.Single(log.Entries, e => e.Level >= LogLevel.Warning);
        output.WriteLine(line.Message);
        switch (tampering)
        {
            case "job":
                AssertOneRefusal(log, via, server.Identity.Fingerprint, server.Identity.Fingerprint, "changed on the way");
                break;
            case "unsigned":
                AssertOneRefusal(log, via, server.Identity.Fingerprint, "(none)", "not signed");
                break;
            default:
                Assert.Equal(new EventId(1126, "TorrentRefused"), line.EventId);
                Assert.Contains("the signed job names", line.Message, StringComparison.Ordinal);
                Assert.Contains(target, line.Message, StringComparison.Ordinal);
                break;
        }
        Assert.Empty(server.Registry.List());
    }

    [Fact]
    public async Task Tls_with_the_right_pin_deploys_and_a_wrong_pin_or_no_pin_is_refused()
    {
        using var dir = new TempDirectory("trust-tls");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        using var identity = ServerIdentity.Generate();
        using var cert = identity.CreateTlsCertificate(["localhost"], [IPAddress.Loopback], DateTimeOffset.UtcNow);
        var serverLog = new RecordingLoggerFactory();
        var (server, storage) = await StartAsync(img, torrent, new ServeOptions
        {
            Identity = identity, TlsCertificate = cert, Policy = new CompletionPolicy { Expected = 1, Mode = "none" }, LoggerFactory = serverLog,
        }, ct);
        await using var _ = storage;
        await using var __ = server;
        Assert.Equal("https", server.HttpAddress!.Scheme);
        Assert.Equal(identity.Fingerprint, Assert.Single(serverLog.Named("TlsOn"))["Fingerprint"]);

        // A wrong pin: refused at the TLS handshake, naming the key the server offered.
        using var other = ServerIdentity.Generate();
        var wrongTarget = PatternedTarget(dir, "wrong.img", new FileInfo(img).Length);
        var before = await File.ReadAllBytesAsync(wrongTarget, ct);
        var wrongLog = new RecordingLoggerFactory();
        int rc = await new DeployClient(Client(server.HttpAddress!, wrongTarget, ServerTrust.Pinned(other.Fingerprint), wrongLog, 32), new DeployEndToEndTests.CollectingReporter()).RunAsync(ct);
        Assert.Equal(DeployExitCodes.ServerNotTrusted, rc);
        output.WriteLine(AssertOneRefusal(wrongLog, server.HttpAddress!, other.Fingerprint, identity.Fingerprint, "TLS certificate").Message);
        Assert.Equal(before, await File.ReadAllBytesAsync(wrongTarget, ct));

        // No pin and a self-signed certificate: refused too (https without a pin is only for certificates a CA vouches for).
        var noPinLog = new RecordingLoggerFactory();
        rc = await new DeployClient(Client(server.HttpAddress!, wrongTarget, ServerTrust.None, noPinLog, 33), new DeployEndToEndTests.CollectingReporter()).RunAsync(ct);
        Assert.Equal(DeployExitCodes.ServerNotTrusted, rc);
        output.WriteLine(AssertOneRefusal(noPinLog, server.HttpAddress!, null, identity.Fingerprint, "no --server-key").Message);
        Assert.Equal(before, await File.ReadAllBytesAsync(wrongTarget, ct));
        Assert.Empty(server.Registry.List());

        // The right pin: the whole deployment over https (job, torrent, enrolment, reports, tracker announces), bit-exact.
        var target = dir.File("t.img");
        await using (var f = new FileStream(target, FileMode.Create)) f.SetLength(new FileInfo(img).Length);
        var log = new RecordingLoggerFactory();
        rc = await new DeployClient(Client(server.HttpAddress!, target, ServerTrust.Pinned(identity.Fingerprint), log, 34) with { ClientId = "tls-pc" }, new DeployEndToEndTests.CollectingReporter()).RunAsync(ct);
        Assert.Equal(DeployExitCodes.Ok, rc);
        Assert.Null(BlockImageLayout.Create(torrent).FirstDifference(img, target));
        Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Warning);
        var trusted = Assert.Single(log.Named("ServerAuthenticated"));
        Assert.Equal(identity.Fingerprint, trusted["Fingerprint"]);
        Assert.Equal("done", Assert.Single(server.Registry.List()).Report.State);
        Assert.True(server.AllDone.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Trust_on_first_use_records_the_first_servers_key_then_refuses_a_changed_one()
    {
        using var dir = new TempDirectory("trust-tofu");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var record = dir.File("known-server");
        using var first = ServerIdentity.Generate();
        var (server, storage) = await StartAsync(img, torrent, new ServeOptions { Identity = first, Policy = new CompletionPolicy { Mode = "none" } }, ct);
        await using (storage)
        await using (server)
        {
            var target = dir.File("t.img");
            await using (var f = new FileStream(target, FileMode.Create)) f.SetLength(new FileInfo(img).Length);
            var log = new RecordingLoggerFactory();
            int rc = await new DeployClient(Client(server.HttpAddress!, target, ServerTrust.Parse("tofu:" + record), log), new DeployEndToEndTests.CollectingReporter()).RunAsync(ct);
            Assert.Equal(DeployExitCodes.Ok, rc);
            // Never silent: the first use says what it recorded, where.
            var recorded = Assert.Single(log.Named("ServerKeyRecorded"));
            Assert.Equal(LogLevel.Warning, recorded.Level);
            Assert.Equal(first.Fingerprint, recorded["Fingerprint"]);
            Assert.Equal(first.Fingerprint + "\n", await File.ReadAllTextAsync(record, ct));
        }

        // The same URL later answered by a server with another key: refused, the record kept.
        using var changed = ServerIdentity.Generate();
        var (other, otherStorage) = await StartAsync(img, torrent, new ServeOptions { Identity = changed }, ct);
        await using var _ = otherStorage;
        await using var __ = other;
        var target2 = PatternedTarget(dir, "t2.img", new FileInfo(img).Length);
        var before = await File.ReadAllBytesAsync(target2, ct);
        var log2 = new RecordingLoggerFactory();
        int rc2 = await new DeployClient(Client(other.HttpAddress!, target2, ServerTrust.Parse("tofu:" + record), log2, 32), new DeployEndToEndTests.CollectingReporter()).RunAsync(ct);
        Assert.Equal(DeployExitCodes.ServerNotTrusted, rc2);
        output.WriteLine(AssertOneRefusal(log2, other.HttpAddress!, first.Fingerprint, changed.Fingerprint, record).Message);
        Assert.Equal(before, await File.ReadAllBytesAsync(target2, ct));
        Assert.Equal(first.Fingerprint + "\n", await File.ReadAllTextAsync(record, ct));
    }

    [Fact]
    public async Task Without_a_pin_deploy_works_as_before_and_says_once_that_the_server_is_not_authenticated()
    {
        using var dir = new TempDirectory("trust-none");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var (server, storage) = await StartAsync(img, torrent, new ServeOptions { Policy = new CompletionPolicy { Mode = "none" } }, ct);
        await using var _ = storage;
        await using var __ = server;
        var target = dir.File("t.img");
        await using (var f = new FileStream(target, FileMode.Create)) f.SetLength(new FileInfo(img).Length);
        var log = new RecordingLoggerFactory();
        int rc = await new DeployClient(Client(server.HttpAddress!, target, ServerTrust.None, log), new DeployEndToEndTests.CollectingReporter()).RunAsync(ct);
        Assert.Equal(DeployExitCodes.Ok, rc);
        var warning = Assert.Single(log.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Equal(new EventId(1122, "ServerNotAuthenticated"), warning.EventId);
        // It names the key the server offered, ready to be pinned.
        Assert.Contains($"--server-key {server.Identity.Fingerprint}", warning.Message, StringComparison.Ordinal);
        Assert.Null(BlockImageLayout.Create(torrent).FirstDifference(img, target));
    }

    [Fact]
    public async Task The_signed_job_names_its_time_its_torrents_sha256_and_the_key_and_verifies_as_documented()
    {
        using var dir = new TempDirectory("trust-job");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var (server, storage) = await StartAsync(img, torrent, new ServeOptions(), ct);
        await using var _ = storage;
        await using var __ = server;
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(server.HttpAddress!, "/api/job"), ct);
        byte[] body = await response.Content.ReadAsByteArrayAsync(ct);
        string key = response.Headers.GetValues("BlockSwarm-Key").Single();
        string signature = response.Headers.GetValues("BlockSwarm-Signature").Single();
        Assert.StartsWith("ecdsa-p256-sha256 ", signature, StringComparison.Ordinal);
        // Checked from first principles: ECDSA P-256/SHA-256 over "BlockSwarm job v1\n" + the body, r‖s base64url.
        using (var ec = System.Security.Cryptography.ECDsa.Create())
        {
            ec.ImportSubjectPublicKeyInfo(Convert.FromBase64String(key), out int read);
            Assert.True(read > 0);
            byte[] signed = [.. "BlockSwarm job v1\n"u8.ToArray(), .. body];
            Assert.True(ec.VerifyData(signed, System.Buffers.Text.Base64Url.DecodeFromChars(signature.AsSpan("ecdsa-p256-sha256 ".Length)),
                System.Security.Cryptography.HashAlgorithmName.SHA256));
        }
        var job = System.Text.Json.JsonSerializer.Deserialize(body, DeployJson.Default.JobInfo)!;
        Assert.Equal(server.Identity.Fingerprint, job.ServerKey);
        Assert.InRange(job.IssuedAt!.Value, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
        var torrentBytes = await http.GetByteArrayAsync(new Uri(server.HttpAddress!, job.TorrentUrl), ct);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(torrentBytes)), job.TorrentSha256);
        // The dashboard shows the fingerprint (the snapshot's job carries it).
        var snapshot = await http.GetFromJsonAsync(new Uri(server.HttpAddress!, "/api/clients"), DeployJson.Default.Snapshot, ct);
        Assert.Equal(server.Identity.Fingerprint, snapshot!.Job.ServerKey);
    }
}
