using System.Net;
using System.Security.Cryptography;
using BlockSwarm.Cli;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests;

/// <summary>serve's status lines (stderr, every 5 s in a log): once every expected client is done, one line says so and the loop goes quiet.</summary>
public sealed class ServeStatusTests
{
    [Fact]
    public async Task Serve_says_all_done_once_and_does_not_spin_after_the_last_client()
    {
        var ct = TestContext.Current.CancellationToken;
        using var dir = new TempDirectory("serve-status");
        var source = dir.File("source.img");
        await File.WriteAllBytesAsync(source, RandomNumberGenerator.GetBytes(4 << 20), ct);
        int httpPort = FreePort.Tcp(IPAddress.Loopback), btPort = FreePort.Tcp(IPAddress.Loopback);
        var serveErr = new StringWriter();
        var serveLog = TextWriter.Synchronized(serveErr); // locks itself: read under the same lock
        using var stopServe = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var serve = CliApp.RunAsync(["serve", "-s", source, "--map", "all", "--listen", "127.0.0.1", "--http-port", $"{httpPort}", "--bt-port", $"{btPort}",
            "--expect", "1", "--signing-key", dir.File("key.pem"), "--operator-token-file", dir.File("operator-token")],
            new CliContext(TextWriter.Null, serveLog, interactive: false), stopServe.Token);
        string ServeErr()
        {
            lock (serveLog) return serveErr.ToString();
        }
        try
        {
            var server = $"http://127.0.0.1:{httpPort}/";
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            await Eventually.UntilAsync(async () =>
            {
                Assert.False(serve.IsCompleted, ServeErr());
                try { return (await http.GetAsync(server + "api/job", ct)).IsSuccessStatusCode; }
                catch (HttpRequestException) { return false; }
                catch (TaskCanceledException) when (!ct.IsCancellationRequested) { return false; }
            }, TimeSpan.FromSeconds(60), "serve's job", () => ServeErr(), ct: ct);
            var target = dir.File("target.img");
            await using (var f = File.Create(target)) f.SetLength(4 << 20);
            var deploy = await CliRunner.RunAsync("deploy", "--server", server, "--target", target, "--allow-file", "--yes", "--listen", "127.0.0.2:0", "--max-seed", "10");
            Assert.True(deploy.ExitCode == 0, deploy.StdOut + deploy.StdErr);
            await Eventually.UntilAsync(() => ServeErr().Contains("clients 1/1 done", StringComparison.Ordinal), TimeSpan.FromSeconds(10),
                "serve's all-done line", () => ServeErr(), ct: ct);
            // Quiet from then on: the next status line is 5 s away.
            await Task.Delay(1500, ct);
            int doneLines = ServeErr().Split('\n').Count(l => l.StartsWith("clients 1/1 done", StringComparison.Ordinal));
            Assert.True(doneLines == 1, $"serve printed its all-done status line {doneLines} times");
        }
        finally
        {
            await stopServe.CancelAsync();
            Assert.Equal(0, await serve);
        }
    }
}
