using System.CommandLine;
using BlockSwarm.Security;
using BlockSwarm.Devices;
using BlockSwarm.Engine;
using BlockSwarm.Engine.Hosting;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Cli.Commands;

/// <summary>
/// <c>blockswarm seed</c> and <c>blockswarm fetch</c>: the engine without orchestration. Each takes one or more
/// <c>--torrent</c> with a <c>--source</c> (or <c>--target</c>) each, paired in order, and runs them all in one engine:
/// one port, one peer id, one memory budget and one upload limit (Clonezilla's BitTorrent mode adds one torrent per
/// partition to one client process the same way).
/// </summary>
public static class EngineCommands
{
    public static Command BuildSeed(CliContext ctx)
    {
        var torrents = TorrentOption();
        var sources = new Option<string[]>("--source", "-s")
        {
            Description = "Device or image to seed (block-image torrents), a partclone -T directory, or a directory of plain files; one per --torrent, in the same order",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
        };
        var listen = new Option<string>("--listen") { Description = "IP:PORT to accept peers on (every torrent shares it)", DefaultValueFactory = _ => "0.0.0.0:6881" };
        var peers = PeerOption();
        var limit = new Option<string?>("--upload-limit") { Description = "Upload limit of the whole process, e.g. 100MiB (per second); default unlimited" };
        var slowStart = new Option<int>("--slow-start") { Description = "Seconds over which the upload limit ramps up from a quarter (protects weak switches)" };
        var verifySource = new Option<bool>("--verify-source") { Description = "Hash each source before seeding instead of trusting it" };
        var files = new Option<bool>("--files") { Description = "Treat every torrent as plain files under its --source (standard layout)" };
        var (noPex, lsd) = DiscoveryOptions();
        var maxPeers = MaxPeersOption();
        var switchPrefix = SwitchPrefixOption();
        var compression = CompressionOption();
        var secretFile = SecretFileOption();
        var cmd = new Command("seed", "Seed torrents from devices, images, partclone slice directories or plain files, all on one port")
        {
            torrents, sources, listen, peers, limit, slowStart, verifySource, files, noPex, lsd, maxPeers, switchPrefix, compression, secretFile,
        };
        cmd.SetAction((pr, outer) => CommandSupport.RunGuardedAsync(ctx, onInterrupt: () => ExitCodes.Ok, body: async ct =>
        {
            int? prefix = ParseSwitchPrefix(pr.GetValue(switchPrefix)).PrefixLength; // option errors before files are opened
            var pairs = Pair(pr.GetValue(torrents)!, pr.GetValue(sources)!, "--source");
            long rate = pr.GetValue(limit) is { } l ? SizeParser.Parse(l) : 0;
            int ss = pr.GetValue(slowStart);
            int level = ParseCompression(pr.GetValue(compression))!.Value;
            var secret = LoadSecret(ctx, pr.GetValue(secretFile), pr.GetValue(lsd));
            var memory = PieceMemory.Split(EngineOptions.DefaultMemoryBytes, pairs.Max(p => p.Torrent.PieceLength));
            var storages = new List<MappedPieceStorage>();
            try
            {
                var haves = new List<Bitfield>();
                foreach (var (t, path) in pairs)
                {
                    var storage = CommandSupport.OpenStorage(t, path, writable: false, pr.GetValue(files), new StorageOptions { Memory = memory });
                    storages.Add(storage);
                    haves.Add(await SourcePiecesAsync(ctx, t, storage, pr.GetValue(verifySource), ct).ConfigureAwait(false));
                }
                await using var engine = new TorrentEngine(new EngineOptions
                {
                    Listen = [CommandSupport.ParseEndPoint(pr.GetValue(listen)!)],
                    UploadLimit = rate,
                    SlowStart = ss > 0 ? TimeSpan.FromSeconds(ss) : null,
                    Memory = memory,
                    CompressionLevel = level,
                    SwarmSecret = secret,
                    LoggerFactory = ctx.LoggerFactory,
                    Discovery = new DiscoveryOptions { Pex = !pr.GetValue(noPex), Lsd = pr.GetValue(lsd) },
                });
                engine.Start();
                var torrentOptions = new TorrentOptions { MaxConnections = Math.Max(1, pr.GetValue(maxPeers)), Peers = ParsePeers(pr.GetValue(peers)) }.WithSwitchPrefix(prefix);
                var sessions = pairs.Select((p, i) => engine.Add(p.Torrent, storages[i], haves[i], torrentOptions)).ToList();
                foreach (var s in sessions)
                    ctx.Err.WriteLine($"seeding {s.Name} ({s.Torrent.InfoHash.ToHex()}) on {engine.LocalEndPoint}{(s.Torrent.TrackerTiers.IsEmpty ? "" : ", announcing to its trackers")}");
                await CommandSupport.RunAsync(ctx, sessions, "seed", untilComplete: false, null, ct).ConfigureAwait(false);
                return ExitCodes.Ok;
            }
            finally
            {
                foreach (var s in storages) await s.DisposeAsync().ConfigureAwait(false);
            }
        }, outer: outer));
        return cmd;
    }

    public static Command BuildFetch(CliContext ctx)
    {
        var torrents = TorrentOption();
        var targets = new Option<string[]>("--target")
        {
            Description = "Device or image file to write (block-image torrents; an image file is created if missing), or a directory for plain files; one per --torrent, in the same order",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
        };
        var listen = new Option<string?>("--listen") { Description = "IP:PORT to accept peers on (others can fetch from us); its address is also used for outgoing connections" };
        var peers = PeerOption();
        var seedAfter = new Option<int>("--seed-after") { Description = "Keep seeding this many seconds after every torrent completed" };
        var cache = new Option<string>("--cache") { Description = "All the piece data the process may hold (assembling, write-back, upload cache), shared by every torrent; pushes back on the network when full", DefaultValueFactory = _ => "256MiB" };
        var (writeMode, directIO) = WriteModeOptions();
        var resume = new Option<string?>("--resume") { Description = "Resume file (one torrent only; default: TARGET.blockswarm-resume for image files)" };
        var files = new Option<bool>("--files") { Description = "Write plain files under each --target (standard layout)" };
        var size = new Option<string?>("--size") { Description = "Size of a new image file (one torrent only; default: just large enough for the torrent's extents)" };
        var (noPex, lsd) = DiscoveryOptions();
        var maxPeers = MaxPeersOption();
        var switchPrefix = SwitchPrefixOption();
        var compression = CompressionOption();
        var secretFile = SecretFileOption();
        var cmd = new Command("fetch", "Download torrents into devices, image files or directories, all on one port; exits 0 only when every piece of every torrent is verified and fsynced")
        {
            torrents, targets, listen, peers, seedAfter, cache, writeMode, directIO, resume, files, size, noPex, lsd, maxPeers, switchPrefix, compression, secretFile,
        };
        cmd.SetAction((pr, outer) => CommandSupport.RunGuardedAsync(ctx, onInterrupt: () =>
        {
            ctx.Fail("interrupted; verified pieces are kept and the resume file lets the next run continue");
            return ExitCodes.Interrupted;
        }, body: async ct =>
        {
            int? prefix = ParseSwitchPrefix(pr.GetValue(switchPrefix)).PrefixLength; // option errors before files are opened
            var pairs = Pair(pr.GetValue(torrents)!, pr.GetValue(targets)!, "--target");
            bool plainFiles = pr.GetValue(files);
            if (pairs.Count > 1 && (pr.GetValue(resume) is not null || pr.GetValue(size) is not null))
                throw new UsageException("--resume and --size name one target: use them with a single --torrent");
            var mode = GetWriteMode(pr, writeMode, directIO);
            var secret = LoadSecret(ctx, pr.GetValue(secretFile), pr.GetValue(lsd));
            if (mode == WriteMode.Direct && (plainFiles || pairs.Any(p => !BlockImageLayout.IsBlockImage(p.Torrent))))
                throw new UsageException("--write-mode direct applies to device or image file targets of block-image torrents, not to plain files (always written buffered)");
            var memory = PieceMemory.Split(StorageOptions.ClampCacheBytes(SizeParser.Parse(pr.GetValue(cache)!), pairs.Max(p => p.Torrent.PieceLength)),
                pairs.Max(p => p.Torrent.PieceLength));
            var storageOptions = new StorageOptions { Memory = memory, WriteMode = mode, LoggerFactory = ctx.LoggerFactory };
            long? createSize = pr.GetValue(size) is { } s ? SizeParser.Parse(s) : null;
            var storages = new List<MappedPieceStorage>();
            try
            {
                var starts = new List<(Bitfield Have, string ResumePath)>();
                foreach (var (t, targetPath) in pairs)
                {
                    // A target that does not exist yet becomes a new (sparse) image file: it holds no piece, so hashing it is wasted work.
                    bool fresh = !File.Exists(targetPath) && !Directory.Exists(targetPath) && !plainFiles && BlockImageLayout.IsBlockImage(t);
                    var storage = CommandSupport.OpenStorage(t, targetPath, writable: true, plainFiles, storageOptions, createSize);
                    storages.Add(storage);
                    var resumePath = pr.GetValue(resume) ?? DefaultResumePath(t, targetPath);
                    var recovered = await ProgressDisplay.RunAsync(ctx, pairs.Count > 1 ? $"checking {t.Name}" : "checking target", t.TotalLength,
                        report => PieceRecovery.Recover(storage, t, resumePath, new RecoveryOptions { Progress = report, RehashWhenUntrusted = !fresh }, ct)).ConfigureAwait(false);
                    ctx.Err.WriteLine(pairs.Count > 1 ? $"{t.Name}: {recovered.Reason}" : recovered.Reason);
                    starts.Add((recovered.Pieces, resumePath));
                }
                var listenAt = pr.GetValue(listen) is { } l ? CommandSupport.ParseEndPoint(l) : null;
                await using var engine = new TorrentEngine(new EngineOptions
                {
                    Listen = listenAt is null ? [] : [listenAt],
                    LocalAddress = listenAt?.Address,
                    Memory = memory,
                    CompressionLevel = ParseCompression(pr.GetValue(compression))!.Value,
                    SwarmSecret = secret,
                    LoggerFactory = ctx.LoggerFactory,
                    Discovery = new DiscoveryOptions { Pex = !pr.GetValue(noPex), Lsd = pr.GetValue(lsd) },
                });
                engine.Start();
                var peerList = ParsePeers(pr.GetValue(peers));
                var sessions = pairs.Select((p, i) => engine.Add(p.Torrent, storages[i], starts[i].Have, new TorrentOptions
                {
                    ResumePath = starts[i].ResumePath,
                    MaxConnections = Math.Max(1, pr.GetValue(maxPeers)),
                    Peers = peerList,
                }.WithSwitchPrefix(prefix))).ToList();
                bool ok = await CommandSupport.RunAsync(ctx, sessions, "fetch", untilComplete: true, TimeSpan.FromSeconds(pr.GetValue(seedAfter)), ct).ConfigureAwait(false);
                return ok ? ExitCodes.Ok : ExitCodes.Interrupted;
            }
            finally
            {
                foreach (var st in storages) await st.DisposeAsync().ConfigureAwait(false);
            }
        }, outer: outer));
        return cmd;
    }

    /// <summary>Names of <see cref="WriteMode"/> on the command line, in help order.</summary>
    internal static readonly string[] WriteModeNames = ["auto", "direct", "buffered"];

    /// <summary>
    /// How device and image-file targets are written, shared by fetch, deploy and ezio: <c>--write-mode</c>, and
    /// <c>--direct-io</c>, its spelling from before O_DIRECT was the default, hidden and kept for scripts (= direct).
    /// </summary>
    internal static (Option<string> WriteMode, Option<bool> DirectIO) WriteModeOptions()
    {
        var mode = new Option<string>("--write-mode")
        {
            Description = "How device and image-file targets are written: auto writes with O_DIRECT, past the page cache, where the target takes it "
                + "and buffered where it does not (tmpfs; file systems refusing O_DIRECT), saying why in one log line; direct fails there instead; "
                + "buffered always goes through the page cache. Unaligned extent edges and plain files are always buffered; fsync at the end either way",
            HelpName = string.Join('|', WriteModeNames),
            DefaultValueFactory = _ => "auto",
        };
        mode.AcceptOnlyFromAmong(WriteModeNames);
        var directIO = new Option<bool>("--direct-io") { Description = "Same as --write-mode direct (the default is auto)", Hidden = true };
        return (mode, directIO);
    }

    /// <summary>The write mode asked for; <c>--direct-io</c> with another <c>--write-mode</c> than direct is a usage error.</summary>
    internal static WriteMode GetWriteMode(ParseResult pr, Option<string> writeMode, Option<bool> directIO)
    {
        var mode = ParseWriteMode(pr.GetValue(writeMode)!);
        if (!pr.GetValue(directIO)) return mode;
        if (pr.GetResult(writeMode) is { Implicit: false } && mode != WriteMode.Direct)
            throw new UsageException($"--direct-io means --write-mode direct; it contradicts --write-mode {pr.GetValue(writeMode)}");
        return WriteMode.Direct;
    }

    internal static WriteMode ParseWriteMode(string name) => name switch
    {
        "auto" => WriteMode.Auto,
        "direct" => WriteMode.Direct,
        "buffered" => WriteMode.Buffered,
        _ => throw new UsageException($"--write-mode must be one of {string.Join(", ", WriteModeNames)}, not '{name}'"),
    };

    /// <summary>
    /// <c>--compression</c>, shared by seed, fetch, serve and deploy: zstd runs between BlockSwarm peers (bs_zstd), or off.
    /// <paramref name="fromJob"/>: deploy, where no value means the server's choice.
    /// </summary>
    internal static Option<string?> CompressionOption(bool fromJob = false)
    {
        var option = new Option<string?>("--compression")
        {
            Description = fromJob
                ? "Compressed transfer between BlockSwarm peers: zstd, zstd:LEVEL (1-19) or off; default: what the server says (zstd:3)"
                : $"Compressed transfer between BlockSwarm peers: zstd (level {EngineOptions.DefaultCompressionLevel}), zstd:LEVEL (1-19; 1 for a slow CPU on 10 GbE) or off. Other clients always get plain pieces",
        };
        if (!fromJob) option.DefaultValueFactory = _ => "zstd";
        return option;
    }

    /// <summary>The zstd level of a <c>--compression</c> value (0 = off); null for none given.</summary>
    internal static int? ParseCompression(string? value)
    {
        if (value is null) return null;
        var v = value.Trim().ToLowerInvariant();
        if (v is "off" or "none" or "0") return 0;
        if (v == "zstd") return EngineOptions.DefaultCompressionLevel;
        if (v.StartsWith("zstd:", StringComparison.Ordinal) && int.TryParse(v.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int level) && level is >= 1 and <= 19)
            return level;
        throw new UsageException($"--compression '{value}' is not zstd, zstd:LEVEL (1-19) or off");
    }

    /// <summary>
    /// <c>--switch-prefix</c>, shared by seed, fetch, serve and deploy: which peers are behind another switch (asked only for
    /// pieces no peer of ours has, one importer per piece per switch). <paramref name="fromJob"/>: deploy, where no value
    /// means the server's choice.
    /// </summary>
    internal static Option<string?> SwitchPrefixOption(bool fromJob = false)
    {
        var option = new Option<string?>("--switch-prefix")
        {
            Description = fromJob
                ? "Which peers are behind another switch: auto (another subnet by our netmask), a prefix length N (one /N per switch), or off; default: what the server says (auto)"
                : "Which peers are behind another switch, so that each piece crosses each uplink about once: auto (another subnet by our interface's netmask), "
                  + "a prefix length N (one /N per switch, e.g. 24 in a flat /16), or off",
        };
        if (!fromJob) option.DefaultValueFactory = _ => "auto";
        return option;
    }

    /// <summary>
    /// A <c>--switch-prefix</c> value: (false, _) for none given; else (true, null) for auto (the netmask), (true, 0) for
    /// off (every peer is behind our switch), (true, N) for a prefix length of 1-128.
    /// </summary>
    internal static (bool Given, int? PrefixLength) ParseSwitchPrefix(string? value)
    {
        if (value is null) return (false, null);
        var v = value.Trim().TrimStart('/').ToLowerInvariant();
        if (v == "auto") return (true, null);
        if (v is "off" or "none" or "0") return (true, 0);
        if (int.TryParse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 128)
            return (true, n);
        throw new UsageException($"--switch-prefix '{value}' is not auto, off or a prefix length (1-128)");
    }

    /// <summary><c>--secret-file</c>, shared by seed, fetch, serve and deploy.</summary>
    internal static Option<string?> SecretFileOption() => new("--secret-file")
    {
        Description = "Swarm secret (a file from `blockswarm secret new`): peer connections are mutually authenticated and encrypted, "
            + "and only holders of the same secret can join; standard BitTorrent clients cannot",
    };

    /// <summary>The swarm secret of <c>--secret-file</c> (null without one); a loose file mode is a warning, an unusable secret a usage error.</summary>
    internal static SwarmSecret? LoadSecret(CliContext ctx, string? path, bool lsd = false)
    {
        if (path is null) return null;
        if (lsd) throw new UsageException("--lsd multicasts info-hashes to the whole LAN: it cannot be used with --secret-file");
        try
        {
            var secret = SwarmSecret.Load(path);
            if (secret.FileModeWarning is { } warning) ctx.Warn(warning);
            return secret;
        }
        catch (SecretException ex)
        {
            throw new UsageException(ex.Message);
        }
    }

    /// <summary>The connection limit shared by seed, fetch and deploy.</summary>
    internal static Option<int> MaxPeersOption() =>
        new("--max-peers") { Description = "Most simultaneous peer connections per torrent (keep it modest, above ln N)", DefaultValueFactory = _ => 48 };

    /// <summary>Peer discovery switches shared by seed and fetch: PEX on unless --no-pex, LSD off unless --lsd.</summary>
    internal static (Option<bool> NoPex, Option<bool> Lsd) DiscoveryOptions() => (
        new Option<bool>("--no-pex") { Description = "Do not exchange peer lists with peers (BEP 11 PEX is on by default)" },
        new Option<bool>("--lsd") { Description = "Announce on and listen to the LAN's Local Service Discovery multicast group (BEP 14; off by default)" });

    private static Option<string[]> TorrentOption() => new("--torrent", "-t")
    {
        Description = "A torrent file; repeat it (with its --source/--target) to run several torrents in one process on one port",
        Required = true,
        Arity = ArgumentArity.OneOrMore,
    };

    private static Option<string[]> PeerOption() => new("--peer")
    {
        Description = "IP:PORT of a peer to dial for every torrent (repeatable)",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private static List<System.Net.IPEndPoint> ParsePeers(string[]? peers) => [.. (peers ?? []).Select(p => CommandSupport.ParseEndPoint(p))];

    /// <summary>Loads each torrent and pairs it with the path given in the same position; refuses counts that differ or a torrent given twice.</summary>
    private static List<(Torrent Torrent, string Path)> Pair(string[] torrentPaths, string[] paths, string pathOption)
    {
        if (torrentPaths.Length != paths.Length)
            throw new UsageException($"--torrent is given {torrentPaths.Length} time(s) but {pathOption} {paths.Length}: give one {pathOption} per --torrent, in the same order");
        var pairs = new List<(Torrent, string)>();
        var seen = new Dictionary<InfoHash, string>();
        for (int i = 0; i < torrentPaths.Length; i++)
        {
            var t = Torrent.Load(torrentPaths[i]);
            if (!seen.TryAdd(t.InfoHash, torrentPaths[i]))
                throw new UsageException($"{torrentPaths[i]} and {seen[t.InfoHash]} are the same torrent (info-hash {t.InfoHash.ToHex()})");
            pairs.Add((t, paths[i]));
        }
        return pairs;
    }

    /// <summary>The pieces a seed source offers: all of them (trusted), or those whose hash matches with --verify-source.</summary>
    private static async Task<Bitfield> SourcePiecesAsync(CliContext ctx, Torrent t, MappedPieceStorage storage, bool verify, CancellationToken ct)
    {
        if (!verify) return PieceRecovery.TrustSeed(storage).Pieces;
        var have = await ProgressDisplay.RunAsync(ctx, $"verifying {t.Name}", t.TotalLength,
            report => PieceRecovery.Rehash(storage, t, progress: report, cancellationToken: ct)).ConfigureAwait(false);
        if (!have.IsComplete) ctx.Warn($"{t.Name}: the source has only {have.Count} of {have.Length} pieces right; seeding those");
        storage.MarkDurable(have);
        return have;
    }

    private static string DefaultResumePath(Torrent t, string targetPath) =>
        File.Exists(targetPath) && !Directory.Exists(targetPath) && !IsBlockDevice(targetPath)
            ? ResumeFile.DefaultPathFor(targetPath)
            : Path.Combine(Directory.Exists(targetPath) ? targetPath : Path.GetTempPath(), $".{t.InfoHash.ToHex()}.blockswarm-resume");

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
