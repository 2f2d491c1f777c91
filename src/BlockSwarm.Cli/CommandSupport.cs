using System.Diagnostics;
using System.Net;
using BlockSwarm.Engine;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Devices;

namespace BlockSwarm.Cli;

/// <summary>Shared plumbing of the commands: storage choice, endpoints, progress, signals, error mapping.</summary>
public static class CommandSupport
{
    /// <summary>Opens the storage for a torrent: a block device/image for block-image torrents, plain files otherwise (or when forced).</summary>
    public static MappedPieceStorage OpenStorage(Torrent torrent, string path, bool writable, bool plainFiles, StorageOptions options, long? createSize = null)
    {
        if (plainFiles || !BlockImageLayout.IsBlockImage(torrent))
        {
            Directory.CreateDirectory(path);
            return FileStorage.Open(path, torrent, options, writable);
        }
        if (!writable && ImageDirectorySource.IsImageDirectory(path))
            return ImageDirectorySource.OpenStorageFor(torrent, path, options);
        if (Directory.Exists(path) && File.Exists(Path.Combine(path, "torrent.info")) && !writable)
            return PartcloneSliceSource.Open(path, torrent, options);
        if (writable && !File.Exists(path))
            return DeviceStorage.CreateImage(path, torrent, createSize, options);
        return DeviceStorage.Open(path, torrent, options, writable);
    }

    public static IPEndPoint ParseEndPoint(string text, int defaultPort = 6881)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (IPEndPoint.TryParse(text, out var ep))
        {
            if (ep.Port == 0 && !text.EndsWith(":0", StringComparison.Ordinal)) ep.Port = defaultPort;
            return ep;
        }
        throw new FormatException($"'{text}' is not IP:PORT (e.g. 127.0.0.2:6881 or [::1]:6881)");
    }

    /// <summary>
    /// Shows progress until every session completes (or forever when <paramref name="untilComplete"/> is false): one line
    /// for all the torrents of the process, rewritten in place on a terminal, every 2 s in a log. Stopped before it
    /// completed, it prints the pieces verified and the payload and wire bytes received, exactly.
    /// </summary>
    public static async Task<bool> RunAsync(CliContext ctx, IReadOnlyList<TorrentSession> sessions, string label, bool untilComplete, TimeSpan? extraSeeding, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var lastLine = TimeSpan.Zero;
        var all = Task.WhenAll(sessions.Select(s => s.Completion));
        while (!ct.IsCancellationRequested)
        {
            var done = untilComplete ? all : Task.Delay(Timeout.Infinite, ct);
            await Task.WhenAny(done, Task.Delay(TimeSpan.FromMilliseconds(ctx.Interactive ? 500 : 1000), ct)).ConfigureAwait(false);
            if (ctx.Interactive || sw.Elapsed - lastLine >= TimeSpan.FromSeconds(2) || done.IsCompleted)
            {
                lastLine = sw.Elapsed;
                var line = ProgressLine(label, sessions);
                if (ctx.Interactive) ctx.Err.Write("\r" + line.PadRight(100));
                else ctx.Err.WriteLine(line);
            }
            if (done.IsCompleted) break;
        }
        if (ctx.Interactive) ctx.Err.WriteLine();
        if (untilComplete)
        {
            if (!all.IsCompleted)
            {
                // Exact counts, not a rate: what a stopped fetch got is a fact to check (an outsider of a secret swarm: nothing).
                var got = sessions.Select(s => s.GetStats()).ToList();
                ctx.Out.WriteLine($"stopped before complete: {got.Sum(s => s.PiecesHave)}/{got.Sum(s => s.PieceCount)} pieces verified, "
                    + $"{got.Sum(s => s.PayloadDownloaded)} bytes of payload downloaded ({got.Sum(s => s.WireDownloaded)} bytes on the wire) in {sw.Elapsed.TotalSeconds:0.0} s");
                return false;
            }
            await all.ConfigureAwait(false); // throws the storage error if one failed
            var stats = sessions.Select(s => s.GetStats()).ToList();
            long bytes = stats.Sum(s => s.TotalBytes);
            string what = sessions.Count == 1 ? SizeParser.Format(bytes) : $"{sessions.Count} torrents, {SizeParser.Format(bytes)}";
            ctx.Out.WriteLine($"complete: {what} in {sw.Elapsed.TotalSeconds:0.0} s ({ProgressDisplay.Rate(stats.Sum(s => s.PayloadDownloaded), sw.Elapsed)}), every piece SHA-1 verified and fsynced");
            long zPayload = stats.Sum(s => s.Compression?.ReceivedPayload ?? 0), zWire = stats.Sum(s => s.Compression?.ReceivedWire ?? 0);
            if (zPayload > 0)
                ctx.Out.WriteLine($"compressed: {SizeParser.Format(zPayload)} of it arrived zstd-compressed as {SizeParser.Format(zWire)} ({(double)zPayload / zWire:0.00}×)");
            if (extraSeeding is { } seedFor && seedFor > TimeSpan.Zero)
            {
                ctx.Err.WriteLine($"seeding for {seedFor.TotalSeconds:0} s");
                try { await Task.Delay(seedFor, ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
            }
        }
        return true;
    }

    private static string ProgressLine(string label, IReadOnlyList<TorrentSession> sessions)
    {
        var st = sessions.Select(s => s.GetStats()).ToList();
        long total = st.Sum(s => s.TotalBytes), have = st.Sum(s => s.BytesHave);
        double progress = total == 0 ? 1 : (double)have / total;
        string torrents = sessions.Count == 1 ? "" : $"{st.Count(s => s.Complete)}/{sessions.Count} torrents  ";
        return $"{label}: {progress * 100,5:0.0}%  {torrents}{st.Sum(s => s.PiecesHave)}/{st.Sum(s => s.PieceCount)} pieces  down {SizeParser.Format((long)st.Sum(s => s.DownloadRate))}/s  up {SizeParser.Format((long)st.Sum(s => s.UploadRate))}/s  peers {st.Sum(s => s.Peers)} (seeds {st.Sum(s => s.Seeds)})";
    }

    /// <summary>
    /// Errors of the engine commands that are the operator's to fix (bad input, I/O, storage, network):
    /// reported as one line and exit 1. Anything else is a bug and keeps its stack trace.
    /// </summary>
    public static bool IsOperatorError(Exception ex) =>
        ex is IOException or TorrentException or StorageException or FormatException or BlockMapException or System.Net.Sockets.SocketException or UnauthorizedAccessException
            or Security.SecretException;

    /// <summary>
    /// Runs a command's body with a token cancelled by Ctrl-C / SIGTERM and maps its errors to exit codes: interruption
    /// to <paramref name="onInterrupt"/>'s, options that do not fit together to 2, the operator's errors (I/O, storage,
    /// malformed torrents…) to one line and 1. Anything else is a bug and keeps its stack trace.
    /// </summary>
    public static async Task<int> RunGuardedAsync(CliContext ctx, Func<int> onInterrupt, Func<CancellationToken, Task<int>> body, CancellationToken outer)
    {
        using var cts = CancelOnSignal(outer);
        try
        {
            return await body(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return onInterrupt();
        }
        catch (UsageException ex)
        {
            ctx.Fail(ex.Message);
            return ExitCodes.Usage;
        }
        catch (Exception ex) when (IsOperatorError(ex))
        {
            ctx.Fail(ex.Message);
            return ExitCodes.Error;
        }
    }

    /// <summary>A token cancelled by Ctrl-C / SIGTERM.</summary>
    public static CancellationTokenSource CancelOnSignal(CancellationToken outer)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            try { cts.Cancel(); } catch (ObjectDisposedException) { }
        };
        return cts;
    }
}
