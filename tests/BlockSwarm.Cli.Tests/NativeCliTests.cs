using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests;

/// <summary>
/// The CLI as it ships: the NativeAOT binary that build/PublishCli.targets publishes into artifacts/cli-aot-CONFIG/
/// when the bench or lab projects build (the solution build in test.sh does). Code that only fails without a JIT or
/// full metadata (reflection-based JSON, anonymous types in API answers) passes every in-process test, so these run
/// the binary itself through serve, deploy, seed/fetch and inspect.
/// </summary>
public sealed class NativeCliTests
{
    internal static string Binary() => PublishedCli.Binary();

    [Fact]
    public void Demo_deploys_bit_exact_with_the_native_binary()
    {
        string bin = Binary();
        var r = Tool.Run(bin, ["demo", "--clients", "2", "--size-mib", "96"], check: false, timeout: TimeSpan.FromMinutes(3));
        Assert.True(r.ExitCode == 0, r.StdOut + r.StdErr);
        Assert.Contains("all 2 clients bit-exact", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("e2fsck -fn on a copy: clean", r.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_api_and_deploy_json_work_without_a_jit()
    {
        string bin = Binary();
        var ct = TestContext.Current.CancellationToken;
        using var dir = new TempDirectory("native-cli");
        var source = dir.File("source.img");
        var data = new byte[24 << 20];
        new Random(7).NextBytes(data);
        await File.WriteAllBytesAsync(source, data, ct);
        int httpPort = FreePort.Tcp(), btPort = FreePort.Tcp();

        // JSON log lines at debug: the hand-written JSON formatter and every log call site run without a JIT too.
        using var serve = RunningProcess.Start(bin, "--log-format", "json", "--log-level", "debug", "serve", "-s", source, "--map", "all",
            "--listen", "127.0.0.1", "--http-port", $"{httpPort}", "--bt-port", $"{btPort}", "--expect", "1",
            "--signing-key", dir.File("key.pem"), "--operator-token-file", dir.File("operator-token"));
        string ServeLog() => serve.StdErr;
        var server = new Uri($"http://127.0.0.1:{httpPort}/");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        JobInfo? job = null;
        await Eventually.UntilAsync(async () =>
        {
            Assert.False(serve.HasExited, $"serve exited {(serve.HasExited ? serve.ExitCode : 0)}: {ServeLog()}");
            try { job = await http.GetFromJsonAsync(new Uri(server, "/api/job"), DeployJson.Default.JobInfo, ct); }
            catch (HttpRequestException) { }
            return job != null;
        }, TimeSpan.FromSeconds(20), "serve's job API", ServeLog, TimeSpan.FromMilliseconds(100), ct);
        Assert.NotNull(job);
        Assert.Equal(data.Length, job.TotalBytes);
        Assert.Equal(btPort, job.OriginPort);

        // A malformed report is a 400 with a typed {"error": ...} body, not a 500 from a serializer that needs reflection
        // (after enrolling: a report without its client's token is refused before it is read).
        using var enrol = await http.PostAsync(new Uri(server, "/api/clients/x/enrol"), null, ct);
        var enrolled = await enrol.Content.ReadFromJsonAsync(DeployJson.Default.EnrolReply, ct);
        using var badReport = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "/api/clients/x/status")) { Content = new StringContent("{not json", Encoding.UTF8, "application/json") };
        badReport.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", enrolled!.Token);
        using (var bad = await http.SendAsync(badReport, ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var error = await bad.Content.ReadFromJsonAsync(DeployJson.Default.ApiError, ct);
            Assert.StartsWith("malformed status report", error!.Error, StringComparison.Ordinal);
        }
        var metrics = await http.GetStringAsync(new Uri(server, "/metrics"), ct);
        Assert.Contains("blockswarm_origin_uploaded_bytes_total", metrics, StringComparison.Ordinal);
        Assert.Contains("blockswarm_engine_memory_capacity_bytes", metrics, StringComparison.Ordinal);
        var check = Promtool.CheckMetrics(metrics);
        Assert.True(check.ExitCode == 0, $"promtool check metrics: {check.StdOut}{check.StdErr}\n{metrics}");

        // deploy --json: every line is one JSON object; the run ends with "complete" and the target holds the data.
        var target = dir.File("target.img");
        using (var blank = File.Create(target)) blank.SetLength(data.Length);
        // Pinned to the key serve made: the job's ECDSA signature is checked by the native binary too.
        using (var made = Security.ServerIdentity.LoadOrCreate(dir.File("key.pem"))) Assert.Equal(job.ServerKey, made.Fingerprint);
        var deploy = Tool.Run(bin, ["deploy", "--server", server.ToString(), "--server-key", job.ServerKey!, "--target", target, "--allow-file", "--yes", "--json",
            "--listen", "127.0.0.1:0", "--max-seed", "0", "--id", "native-test"], check: false, timeout: TimeSpan.FromMinutes(2));
        Assert.True(deploy.ExitCode == 0, deploy.ExitCode == 0 ? "" : deploy.StdOut + deploy.StdErr + ServeLog());
        var events = deploy.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Contains(events, e => (string?)e["event"] == "complete");
        Assert.Contains(events, e => (string?)e["event"] == "progress" && e["totalBytes"]!.GetValue<long>() == data.Length);
        var written = await File.ReadAllBytesAsync(target, ct);
        Assert.True(data.AsSpan().SequenceEqual(written), "target differs from the source");

        var snapshot = await http.GetFromJsonAsync(new Uri(server, "/api/clients"), DeployJson.Default.Snapshot, ct);
        Assert.Contains(snapshot!.Clients, c => c.Id == "native-test");
        // deploy logs text lines on stderr (stdout holds only its JSON events); serve's log lines are JSON objects.
        Assert.Contains("info  DeployClient[1113] Complete: ", deploy.StdErr, StringComparison.Ordinal);
        Assert.Contains("info  DeployClient[1123] ServerAuthenticated: ", deploy.StdErr, StringComparison.Ordinal);
        var logEvents = ServeLog().Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Contains(logEvents, e => (string?)e["EventName"] == "JobPublished" && (int?)e["EventId"] == 1000 && ((string?)e["Timestamp"])!.EndsWith('Z'));
        Assert.Contains(logEvents, e => (string?)e["EventName"] == "ClientRegistered" && (string?)e["State"]!["ClientId"] == "native-test");
        Assert.Contains(logEvents, e => (string?)e["EventName"] == "ReportRejected" && (string?)e["LogLevel"] == "Warning");
        // The origin engine logs through the same factory: its listener, and the client's connection at debug.
        Assert.Contains(logEvents, e => (string?)e["EventName"] == "Listening");
        Assert.Contains(logEvents, e => (string?)e["EventName"] == "PeerConnected");

        // inspect --json from the native binary parses and names the same torrent.
        var torrent = dir.File("job.torrent");
        await File.WriteAllBytesAsync(torrent, await http.GetByteArrayAsync(new Uri(server, "/job.torrent"), ct), ct);
        var inspect = JsonNode.Parse(Tool.Run(bin, "inspect", torrent, "--json").StdOut)!;
        Assert.Equal(job.InfoHash, (string?)inspect["infoHash"]);
    }

    /// <summary>
    /// serve --tls as it ships: the key made 0600 and said so, the fingerprint printed for the clients, deploy pinned to
    /// it over https (TLS and ECDSA from OpenSSL under NativeAOT), a wrong pin refused with exit 6 and nothing written,
    /// and the operator's POST /api/stop with the token from the generated file.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Serve_over_tls_is_pinned_by_the_key_it_prints_and_stops_for_the_operator()
    {
        string bin = Binary();
        var ct = TestContext.Current.CancellationToken;
        using var dir = new TempDirectory("native-tls");
        var source = dir.File("source.img");
        var data = new byte[8 << 20];
        new Random(8).NextBytes(data);
        await File.WriteAllBytesAsync(source, data, ct);
        int httpPort = FreePort.Tcp(), btPort = FreePort.Tcp();
        string keyFile = dir.File("state/key.pem"), tokenFile = dir.File("state/operator-token");
        using var serve = RunningProcess.Start(bin, "serve", "-s", source, "--map", "all", "--listen", "127.0.0.1", "--http-port", $"{httpPort}",
            "--bt-port", $"{btPort}", "--tls", "--signing-key", keyFile, "--operator-token-file", tokenFile, "--policy", "none");
        string? fingerprint = null;
        await Eventually.UntilAsync(() =>
        {
            Assert.False(serve.HasExited, serve.Tail());
            fingerprint = serve.StdOut.Split('\n').FirstOrDefault(l => l.StartsWith("server key sha256:", StringComparison.Ordinal))?["server key ".Length..].Trim();
            return Task.FromResult(fingerprint != null);
        }, TimeSpan.FromSeconds(20), "serve's server key line", () => serve.Tail(), TimeSpan.FromMilliseconds(100), ct);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        Assert.Contains($"SigningKeyCreated: created signing key {keyFile} (mode 0600), fingerprint {fingerprint}", serve.StdErr, StringComparison.Ordinal);
        Assert.Contains($"--server-key {fingerprint}", serve.StdOut, StringComparison.Ordinal);
        var url = $"https://127.0.0.1:{httpPort}/";

        var wrong = dir.File("wrong.img");
        await File.WriteAllBytesAsync(wrong, new byte[data.Length], ct);
        using var other = Security.ServerIdentity.Generate();
        var refused = Tool.Run(bin, ["deploy", "--server", url, "--server-key", other.Fingerprint, "--target", wrong, "--allow-file", "--yes",
            "--listen", "127.0.0.1:0"], check: false, timeout: TimeSpan.FromMinutes(1));
        Assert.True(refused.ExitCode == 6, refused.StdOut + refused.StdErr);
        Assert.Contains($"ServerRefused: server {url} refused: its TLS certificate's key is not the pinned one", refused.StdErr, StringComparison.Ordinal);
        Assert.Contains($"(expected key {other.Fingerprint}, offered {fingerprint})", refused.StdErr, StringComparison.Ordinal);
        Assert.True((await File.ReadAllBytesAsync(wrong, ct)).All(b => b == 0), "the refused target was written");

        var target = dir.File("target.img");
        await File.WriteAllBytesAsync(target, new byte[data.Length], ct);
        var deploy = Tool.Run(bin, ["deploy", "--server", url, "--server-key", fingerprint!, "--target", target, "--allow-file", "--yes",
            "--listen", "127.0.0.1:0", "--max-seed", "0"], check: false, timeout: TimeSpan.FromMinutes(2));
        Assert.True(deploy.ExitCode == 0, deploy.StdOut + deploy.StdErr + serve.Tail());
        var deployed = await File.ReadAllBytesAsync(target, ct);
        Assert.True(data.AsSpan().SequenceEqual(deployed), "target differs from the source");

        // Stop needs the operator token: without it nothing happens; with it serve exits 0.
        var pinned = new System.Net.Http.SocketsHttpHandler();
        pinned.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && Security.ServerTrust.CertificateFingerprint(cert) == fingerprint;
        using var http = new HttpClient(pinned);
        using (var anonymous = await http.PostAsync(new Uri(new Uri(url), "/api/stop"), null, ct))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.False(serve.HasExited);
        using var stop = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(url), "/api/stop"));
        stop.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(tokenFile, ct)).Trim());
        using (var stopped = await http.SendAsync(stop, ct)) Assert.Equal(HttpStatusCode.Accepted, stopped.StatusCode);
        Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromSeconds(30), ct));
        Assert.Contains("stopped by an operator", serve.StdOut, StringComparison.Ordinal);
    }
}
