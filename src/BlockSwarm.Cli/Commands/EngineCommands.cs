using System.CommandLine;
using System.Net;
using BlockSwarm.Deploy;
using BlockSwarm.Engine;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Devices;

namespace BlockSwarm.Cli.Commands;

/// <summary><c>blockswarm seed</c> and <c>blockswarm fetch</c>: the engine without orchestration.</summary>
public static class EngineCommands
{
    public static Command BuildSeed(CliContext ctx)
    {
        var torrent = new Option<string>("--torrent", "-t") { Description = "The torrent", Required = true };
        var source = new Option<string>("--source", "-s") { Description = "Device or image to seed (block-image torrents), a partclone -T directory, or a directory of plain files", Required = true };
        var listen = new Option<string>("--listen") { Description = "IP:PORT to accept peers on", DefaultValueFactory = _ => "0.0.0.0:6881" };
        var peers = new Option<string[]>("--peer") { Description = "IP:PORT of a peer to dial (repeatable)", Arity = ArgumentArity.ZeroOrMore };
        var limit = new Option<string?>("--upload-limit") { Description = "Upload limit, e.g. 100MiB (per second); default unlimited" };
        var slowStart = new Option<int>("--slow-start") { Description = "Seconds over which the upload limit ramps up from a quarter (protects weak switches)" };
        var verifySource = new Option<bool>("--verify-source") { Description = "Hash the source before seeding instead of trusting it" };
        var files = new Option<bool>("--files") { Description = "Treat the torrent as plain files under --source (standard layout)" };
        var (noPex, lsd) = DiscoveryOptions();
        var maxPeers = MaxPeersOption();
        var cmd = new Command("seed", "Seed a torrent from a device, image, partclone slice directory or plain files") { torrent, source, listen, peers, limit, slowStart, verifySource, files, noPex, lsd, maxPeers };
        cmd.SetAction(async (pr, outer) =>
        {
            using var cts = EngineHost.CancelOnSignal(outer);
            var ct = cts.Token;
            try
            {
                var t = Torrent.Load(pr.GetValue(torrent)!);
                await using var storage = EngineHost.OpenStorage(t, pr.GetValue(source)!, writable: false, pr.GetValue(files), new StorageOptions());
                Bitfield have;
                if (pr.GetValue(verifySource))
                {
                    have = await ProgressDisplay.RunAsync(ctx, "verifying source", t.TotalLength,
                        report => PieceRecovery.Rehash(storage, t, progress: report, cancellationToken: ct)).ConfigureAwait(false);
                    if (!have.IsComplete) ctx.Warn($"the source has only {have.Count} of {have.Length} pieces right; seeding those");
                    storage.MarkDurable(have);
                }
                else
                {
                    have = PieceRecovery.TrustSeed(storage).Pieces;
                }
                long rate = pr.GetValue(limit) is { } l ? SizeParser.Parse(l) : 0;
                int ss = pr.GetValue(slowStart);
                await using var session = new TorrentSession(t, storage, have, new SessionOptions
                {
                    Listen = EngineHost.ParseEndPoint(pr.GetValue(listen)!),
                    UploadLimit = rate,
                    SlowStart = ss > 0 ? TimeSpan.FromSeconds(ss) : null,
                    Pex = !pr.GetValue(noPex),
                    MaxConnections = Math.Max(1, pr.GetValue(maxPeers)),
                });
                session.Start();
                foreach (var p in pr.GetValue(peers) ?? []) session.AddPeer(EngineHost.ParseEndPoint(p));
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
                await using var announcer = TrackerAnnouncer.Start(session, TrackerAnnouncer.TiersOf(t), http, AnnounceAddress(session), m => ctx.Warn($"tracker: {m}"), ct);
                await using var local = pr.GetValue(lsd) ? await LocalDiscovery.StartAsync(session).ConfigureAwait(false) : null;
                ctx.Err.WriteLine($"seeding {t.Name} ({t.InfoHash.ToHex()}) on {session.LocalEndPoint}{(announcer is null ? "" : ", announcing to the torrent's trackers")}");
                await EngineHost.RunAsync(ctx, session, "seed", untilComplete: false, null, ct).ConfigureAwait(false);
                return ExitCodes.Ok;
            }
            catch (OperationCanceledException)
            {
                return ExitCodes.Ok;
            }
            catch (Exception ex) when (EngineHost.IsOperatorError(ex))
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Error;
            }
        });
        return cmd;
    }

    public static Command BuildFetch(CliContext ctx)
    {
        var torrent = new Option<string>("--torrent", "-t") { Description = "The torrent", Required = true };
        var target = new Option<string>("--target") { Description = "Device or image file to write (block-image torrents; an image file is created if missing), or a directory for plain files", Required = true };
        var listen = new Option<string?>("--listen") { Description = "IP:PORT to accept peers on (others can fetch from us)" };
        var peers = new Option<string[]>("--peer") { Description = "IP:PORT of a peer to dial (repeatable)", Arity = ArgumentArity.ZeroOrMore };
        var seedAfter = new Option<int>("--seed-after") { Description = "Keep seeding this many seconds after completing" };
        var cache = new Option<string>("--cache") { Description = "Write-back cache size (pushes back on the network when full)", DefaultValueFactory = _ => "256MiB" };
        var directIO = DirectIOOption();
        var resume = new Option<string?>("--resume") { Description = "Resume file (default: TARGET.blockswarm-resume for image files)" };
        var files = new Option<bool>("--files") { Description = "Write plain files under --target (standard layout)" };
        var size = new Option<string?>("--size") { Description = "Size of a new image file (default: just large enough for the torrent's extents)" };
        var (noPex, lsd) = DiscoveryOptions();
        var maxPeers = MaxPeersOption();
        var cmd = new Command("fetch", "Download a torrent into a device, image file or directory; exits 0 only when every piece is verified and fsynced")
        {
            torrent, target, listen, peers, seedAfter, cache, directIO, resume, files, size, noPex, lsd, maxPeers,
        };
        cmd.SetAction(async (pr, outer) =>
        {
            using var cts = EngineHost.CancelOnSignal(outer);
            var ct = cts.Token;
            try
            {
                var t = Torrent.Load(pr.GetValue(torrent)!);
                var targetPath = pr.GetValue(target)!;
                if (pr.GetValue(directIO) && (pr.GetValue(files) || !BlockImageLayout.IsBlockImage(t)))
                {
                    ctx.Fail("--direct-io applies to a device or image file target of a block-image torrent, not to plain files");
                    return ExitCodes.Usage;
                }
                // --cache bounds all the piece data the fetch holds, not just the write-back cache: a quarter for pieces
                // being assembled and hashed, up to a quarter (64 MiB at most) for the upload read cache, the rest for
                // verified pieces waiting to be written. Peak RSS is then about the cache plus the runtime.
                long cacheBytes = StorageOptions.ClampCacheBytes(SizeParser.Parse(pr.GetValue(cache)!), t.PieceLength);
                long assemblingBytes = Math.Max(2L * t.PieceLength, cacheBytes / 4);
                long readCacheBytes = Math.Min(StorageOptions.DefaultReadCacheBytes, cacheBytes / 4);
                var storageOptions = new StorageOptions
                {
                    CacheBytes = Math.Max(t.PieceLength, cacheBytes - assemblingBytes - readCacheBytes),
                    ReadCacheBytes = readCacheBytes,
                    DirectIO = pr.GetValue(directIO),
                };
                long? createSize = pr.GetValue(size) is { } s ? SizeParser.Parse(s) : null;
                // A target that does not exist yet becomes a new (sparse) image file: it holds no piece, so hashing it is wasted work.
                bool fresh = !File.Exists(targetPath) && !Directory.Exists(targetPath) && !pr.GetValue(files) && BlockImageLayout.IsBlockImage(t);
                await using var storage = EngineHost.OpenStorage(t, targetPath, writable: true, pr.GetValue(files), storageOptions, createSize);
                var resumePath = pr.GetValue(resume) ?? (File.Exists(targetPath) && !Directory.Exists(targetPath) && !IsBlockDevice(targetPath)
                    ? ResumeFile.DefaultPathFor(targetPath)
                    : Path.Combine(Directory.Exists(targetPath) ? targetPath : Path.GetTempPath(), $".{t.InfoHash.ToHex()}.blockswarm-resume"));
                var recovered = await ProgressDisplay.RunAsync(ctx, "checking target", t.TotalLength,
                    report => PieceRecovery.Recover(storage, t, resumePath, new RecoveryOptions { Progress = report, RehashWhenUntrusted = !fresh }, ct)).ConfigureAwait(false);
                ctx.Err.WriteLine(recovered.Reason);
                await using var session = new TorrentSession(t, storage, recovered.Pieces, new SessionOptions
                {
                    Listen = pr.GetValue(listen) is { } l ? EngineHost.ParseEndPoint(l) : null,
                    LocalAddress = pr.GetValue(listen) is { } l2 ? EngineHost.ParseEndPoint(l2).Address : null,
                    ResumePath = resumePath,
                    MaxBufferedBytes = assemblingBytes,
                    Pex = !pr.GetValue(noPex),
                    MaxConnections = Math.Max(1, pr.GetValue(maxPeers)),
                });
                session.Start();
                foreach (var p in pr.GetValue(peers) ?? []) session.AddPeer(EngineHost.ParseEndPoint(p));
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
                await using var announcer = TrackerAnnouncer.Start(session, TrackerAnnouncer.TiersOf(t), http, AnnounceAddress(session), m => ctx.Warn($"tracker: {m}"), ct);
                await using var local = pr.GetValue(lsd) ? await LocalDiscovery.StartAsync(session).ConfigureAwait(false) : null;
                bool ok = await EngineHost.RunAsync(ctx, session, "fetch", untilComplete: true, TimeSpan.FromSeconds(pr.GetValue(seedAfter)), ct).ConfigureAwait(false);
                return ok ? ExitCodes.Ok : ExitCodes.Interrupted;
            }
            catch (OperationCanceledException)
            {
                ctx.Fail("interrupted; verified pieces are kept and the resume file lets the next run continue");
                return ExitCodes.Interrupted;
            }
            catch (Exception ex) when (EngineHost.IsOperatorError(ex))
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Error;
            }
        });
        return cmd;
    }

    /// <summary>O_DIRECT writes of the target, shared by fetch and deploy.</summary>
    internal static Option<bool> DirectIOOption() =>
        new("--direct-io") { Description = "Write the target with O_DIRECT, bypassing the page cache (unaligned extent edges stay buffered; fsync as always). Refused where the file system does not support it" };

    /// <summary>The connection limit shared by seed, fetch and deploy.</summary>
    internal static Option<int> MaxPeersOption() =>
        new("--max-peers") { Description = "Most simultaneous peer connections (keep it modest, above ln N)", DefaultValueFactory = _ => 48 };

    /// <summary>Peer discovery switches shared by seed and fetch: PEX on unless --no-pex, LSD off unless --lsd.</summary>
    internal static (Option<bool> NoPex, Option<bool> Lsd) DiscoveryOptions() => (
        new Option<bool>("--no-pex") { Description = "Do not exchange peer lists with peers (BEP 11 PEX is on by default)" },
        new Option<bool>("--lsd") { Description = "Announce on and listen to the LAN's Local Service Discovery multicast group (BEP 14; off by default)" });

    /// <summary>The listen address when it is a specific one (several peers on one host); null lets the tracker use the source address.</summary>
    private static IPAddress? AnnounceAddress(TorrentSession session) =>
        session.LocalEndPoint is { } ep && !ep.Address.Equals(IPAddress.Any) && !ep.Address.Equals(IPAddress.IPv6Any) ? ep.Address : null;

    private static bool IsBlockDevice(string path)
    {
        try
        {
            using var d = DeviceFile.OpenRead(path);
            return d.IsBlockDevice;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
