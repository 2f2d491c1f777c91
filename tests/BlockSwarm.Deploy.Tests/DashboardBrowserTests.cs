using System.Collections.Concurrent;
using System.Net;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Deploy.Client;
using BlockSwarm.Deploy.Server;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using Microsoft.Playwright;
using BlockSwarm.Devices;

namespace BlockSwarm.Deploy.Tests;

/// <summary>
/// The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, watches a
/// real deployment (in-process server and two in-process clients over loopback) reach 100%.
/// Set BLOCKSWARM_SCREENSHOT=path/to.png to save what the browser shows at the end.
/// </summary>
public sealed class DashboardBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact(Timeout = 60_000)]
    [Requires(Chromium, "mkfs.ext4")]
    public async Task Dashboard_shows_two_clients_reaching_100_percent()
    {
        var ct = TestContext.Current.CancellationToken;
        using var dir = new TempDirectory("dashboard");
        // A small real ext4 image (32 MiB, about 12 MiB of seeded random data).
        var image = FsImage.SampleExt4(dir.File("lab.img"), 32 << 20, seed: 6, bigBytes: 10 << 20, mediumBytes: 2 << 20);
        var torrent = CreateTorrent(image);

        await using var source = DeviceStorage.Open(image, torrent, new StorageOptions(), writable: false);
        source.MarkDurable(PieceRecovery.TrustSeed(source).Pieces);
        await using var server = new DeployServer(torrent, source, new FileInfo(image).Length, new ServeOptions
        {
            Listen = IPAddress.Loopback,
            HttpPort = 0,
            BitTorrentPort = 0,
            // Slow enough that the two clients trade pieces with each other, fast enough for a quick test.
            UploadLimit = 6L << 20,
            Policy = new CompletionPolicy { Mode = "until-all-done", Expected = 2 },
        });
        await server.StartAsync(ct);
        var url = server.HttpAddress!;
        Assert.NotEqual(0, url.Port);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(Directory.CreateDirectory(dir.File("chromium-profile")).FullName,
            new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                    "--no-first-run", "--disable-quic", "--disable-sync"],
                ViewportSize = new ViewportSize { Width = 1280, Height = 720 },
                Timeout = 20_000,
            });
        browser.SetDefaultTimeout(20_000);
        var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();
        var consoleErrors = new ConcurrentQueue<string>();
        page.Console += (_, m) => { if (m.Type == "error") consoleErrors.Enqueue(m.Text); };
        page.PageError += (_, e) => consoleErrors.Enqueue(e);

        await page.GotoAsync(url.ToString());
        await page.WaitForSelectorAsync("#connection.live");
        Assert.Equal(torrent.Name, await page.TextContentAsync("#job-name"));
        Assert.True(await page.IsVisibleAsync("#empty"), "before any client reports, the page says so");

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var events = new ConcurrentQueue<string>();
        var clients = new[] { ("lab-pc-01", "127.0.0.11"), ("lab-pc-02", "127.0.0.12") }.Select(c =>
        {
            var target = dir.File(c.Item1 + ".img");
            using (var fs = File.Create(target)) fs.SetLength(new FileInfo(image).Length);
            var client = new DeployClient(new DeployOptions
            {
                Server = url,
                Target = target,
                Yes = true,
                AllowFile = true,
                Listen = new IPEndPoint(IPAddress.Parse(c.Item2), 0),
                Hostname = c.Item1,
                ClientId = c.Item1,
                ReportInterval = TimeSpan.FromMilliseconds(500),
                MaxSeeding = TimeSpan.FromSeconds(30),
            }, new Reporter(c.Item1, events));
            return Task.Run(() => client.RunAsync(stop.Token), CancellationToken.None);
        }).ToArray();

        try
        {
            await page.WaitForFunctionAsync("() => document.getElementById('t-done').dataset.done === '2'", null,
                new PageWaitForFunctionOptions { Timeout = 30_000, PollingInterval = 200 });
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the dashboard never showed 2 clients done; it shows '{await page.TextContentAsync("#t-done")}'\n"
                + $"rows: {string.Join(" | ", await page.Locator("tr[data-client]").AllInnerTextsAsync())}\nclient events:\n{string.Join('\n', events)}");
        }

        var rows = page.Locator("tr[data-client]");
        Assert.Equal(2, await rows.CountAsync());
        Assert.Equal(["lab-pc-01", "lab-pc-02"], (await rows.EvaluateAllAsync<string[]>("rs => rs.map(r => r.dataset.client)")).Order());
        Assert.All(await page.Locator("tr[data-client] .pct").AllTextContentsAsync(), pct => Assert.Equal("100.0%", pct));
        Assert.Equal("2 / 2", (await page.TextContentAsync("#t-done"))?.Trim());
        Assert.True(NonZeroBytes(await page.TextContentAsync("#t-origin")), "origin uploaded bytes shown");
        Assert.True(NonZeroBytes(await page.TextContentAsync("#t-peers")), $"peer uploaded bytes shown (clients traded pieces): {await page.TextContentAsync("#t-peers")}");
        var snap = server.Snapshot();
        Assert.True(snap.Totals.OriginUploaded > 0 && snap.Totals.PeerUploaded > 0);

        if (Environment.GetEnvironmentVariable("BLOCKSWARM_SCREENSHOT") is { Length: > 0 } shot)
        {
            // Let the clients' final "done" reports land so the picture shows the finished room.
            await page.WaitForFunctionAsync("() => [...document.querySelectorAll('tr[data-client]')].every(tr => tr.dataset.state === 'done')", null,
                new PageWaitForFunctionOptions { Timeout = 10_000, PollingInterval = 200 });
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.GetFullPath(shot), Type = ScreenshotType.Png });
        }
        Assert.Empty(consoleErrors);

        var codes = await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(20), ct);
        Assert.All(codes, code => Assert.Equal(DeployExitCodes.Ok, code));
        foreach (var c in new[] { "lab-pc-01", "lab-pc-02" })
            Assert.True(FilesEqualInUsedBlocks(image, dir.File(c + ".img"), torrent), $"{c}: target differs from the image");
    }

    private static Torrent CreateTorrent(string image)
    {
        using var dev = DeviceFile.OpenRead(image);
        var resolved = MapResolver.Resolve(MapSpec.Parse("auto"), dev);
        return TorrentCreator.Create(dev, resolved.Map, new CreateOptions
        {
            Name = "lab",
            PieceLength = 256 << 10,
            CreationDate = DateTimeOffset.UnixEpoch,
        });
    }

    private static bool NonZeroBytes(string? text) =>
        text is { Length: > 0 } t && t != "–" && double.TryParse(t.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out var v) && v > 0;

    /// <summary>Every extent of the torrent reads back identical from the target.</summary>
    private static bool FilesEqualInUsedBlocks(string image, string target, Torrent torrent)
    {
        var layout = BlockImageLayout.Create(torrent);
        using var a = File.OpenHandle(image);
        using var b = File.OpenHandle(target);
        var bufA = new byte[1 << 20];
        var bufB = new byte[1 << 20];
        foreach (var e in layout.Extents)
        {
            for (long off = 0; off < e.Length; off += bufA.Length)
            {
                int n = (int)Math.Min(bufA.Length, e.Length - off);
                if (RandomAccess.Read(a, bufA.AsSpan(0, n), e.Offset + off) != n || RandomAccess.Read(b, bufB.AsSpan(0, n), e.Offset + off) != n)
                    return false;
                if (!bufA.AsSpan(0, n).SequenceEqual(bufB.AsSpan(0, n))) return false;
            }
        }
        return true;
    }

    private sealed class Reporter(string name, ConcurrentQueue<string> events) : IDeployReporter
    {
        public void Event(string kind, string message, IReadOnlyDictionary<string, object?>? data = null) =>
            events.Enqueue($"{name}: {kind}: {message}");

        public void Progress(SessionStats stats, string state)
        {
        }
    }
}
