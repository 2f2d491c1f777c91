using System.CommandLine;
using System.Net;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Ezio;

namespace BlockSwarm.Cli.Commands;

/// <summary>
/// <c>blockswarm ezio</c>, also the whole program when started through a link named <c>ezio</c>: an EZIO-compatible
/// daemon (EZIO v2.0.29's command line and gRPC API) on the BlockSwarm engine, so Clonezilla's BitTorrent mode can run
/// it in place of EZIO without changing a script.
/// </summary>
public static class EzioCommand
{
    /// <summary>The name a link to the binary has when it is to behave as <c>ezio</c>.</summary>
    public const string LinkName = "ezio";

    private const string Description = "EZIO-compatible daemon: Clonezilla's BitTorrent tools add torrents, watch them and shut it down over EZIO's gRPC API; every torrent on one BitTorrent port, verified and fsynced";

    /// <summary>
    /// True when the program was started through a link named <c>ezio</c>: argv[0] as the kernel passed it
    /// (/proc/self/cmdline; the runtime may report the resolved binary instead), or <paramref name="argv0"/>.
    /// </summary>
    public static bool IsInvokedAsEzio(string? argv0 = null)
    {
        argv0 ??= InvokedAs();
        return argv0 is not null && Path.GetFileName(argv0) == LinkName;
    }

    private static string? InvokedAs()
    {
        try
        {
            var cmdline = File.ReadAllBytes("/proc/self/cmdline");
            int end = Array.IndexOf(cmdline, (byte)0);
            return System.Text.Encoding.UTF8.GetString(cmdline, 0, end < 0 ? cmdline.Length : end);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var args = Environment.GetCommandLineArgs();
            return args.Length > 0 ? args[0] : null;
        }
    }

    /// <summary><c>blockswarm ezio</c>.</summary>
    public static Command Build(CliContext ctx) => Configure(new Command(LinkName, Description), ctx);

    /// <summary>
    /// The whole program as <c>ezio</c>: the same options at the top level (<c>ezio -F -l ADDR:PORT</c>), and
    /// <c>-v/--version</c> EZIO's rather than the parser's own version option.
    /// </summary>
    public static RootCommand BuildRoot(CliContext ctx)
    {
        var root = new RootCommand(Description);
        foreach (var builtIn in root.Options.OfType<VersionOption>().ToList()) root.Options.Remove(builtIn);
        Configure(root, ctx);
        return root;
    }

    private static Command Configure(Command cmd, CliContext ctx)
    {
        var file = new Option<bool>("--file", "-F") { Description = "Save paths are directories holding each torrent's files (SAVE_PATH/NAME/FILE), not raw disks or partitions" };
        var listen = new Option<string>("--listen", "-l") { Description = "gRPC address and port (HTTP/2 without TLS)", HelpName = "ADDR:PORT", DefaultValueFactory = _ => EzioServer.DefaultListen };
        var cacheSize = new Option<int>("--cache-size") { Description = "All the piece data the daemon holds, in MB (assembling, write-back and read cache of every torrent); at least two 16 MiB pieces are kept for assembling", HelpName = "MB", DefaultValueFactory = _ => 512 };
        var aioThreads = new Option<int>("--aio-threads") { Description = "EZIO's disk and hashing threads: here caps hashing threads at the number of cores (more hash no faster); each target has one sorting, coalescing writer", HelpName = "N", DefaultValueFactory = _ => 16 };
        var slowStart = new Option<bool>("--slow-start") { Description = "Cap uploads at 10 MB/s, 10 MB/s more every --slow-start-period from the first upload, no cap from 100 MB/s on" };
        var slowStartPeriod = new Option<int>("--slow-start-period") { Description = "Seconds between slow-start steps", HelpName = "S", DefaultValueFactory = _ => 10 };
        var port = new Option<int>("--port", "-p") { Description = $"BitTorrent port every torrent shares (0: {EzioOptions.DefaultPeerPort})", HelpName = "N", DefaultValueFactory = _ => 0 };
        var bindIp = new Option<string?>("--bind-ip") { Description = "Listen for peers only on this address and dial from it (several daemons on one host, multi-homed servers)", HelpName = "IP" };
        var version = new Option<bool>("--version", "-v") { Description = "Print the version and exit" };
        var noPex = new Option<bool>("--no-pex") { Description = "Do not exchange peer lists with peers (BEP 11 PEX is on by default, as in EZIO)" };
        var lsd = new Option<bool>("--lsd") { Description = "Local Service Discovery on the LAN's multicast group (BEP 14; off by default: its multicast leaves the host)" };
        var resumeDir = new Option<string?>("--resume-dir") { Description = "Where resume checkpoints of disk targets go (default: the temp directory); with -F they sit in the save path", HelpName = "DIR" };
        var (writeMode, _) = EngineCommands.WriteModeOptions();
        foreach (var o in new Option[] { file, listen, cacheSize, aioThreads, slowStart, slowStartPeriod, port, bindIp, version, noPex, lsd, resumeDir, writeMode })
            cmd.Options.Add(o);
        cmd.SetAction(async (pr, outer) =>
        {
            if (pr.GetValue(version))
            {
                ctx.Out.WriteLine($"ezio {EzioVersion.Text}");
                return ExitCodes.Ok;
            }
            EzioOptions options;
            string listenAt = pr.GetValue(listen)!;
            try
            {
                options = Options(ctx, pr.GetValue(file), pr.GetValue(cacheSize), pr.GetValue(aioThreads), pr.GetValue(slowStart), pr.GetValue(slowStartPeriod),
                    pr.GetValue(port), pr.GetValue(bindIp), !pr.GetValue(noPex), pr.GetValue(lsd), pr.GetValue(resumeDir), pr.GetValue(writeMode)!);
                EzioServer.ParseListen(listenAt);
            }
            catch (FormatException ex)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Usage;
            }
            // EZIO prints its version on start-up; scripts that capture its output see the same first line.
            ctx.Out.WriteLine($"ezio {EzioVersion.Text}");
            ctx.Out.Flush();
            return await RunAsync(ctx, options, listenAt, outer).ConfigureAwait(false);
        });
        return cmd;
    }

    private static EzioOptions Options(CliContext ctx, bool fileMode, int cacheMb, int aioThreads, bool slowStart, int period, int port, string? bindIp,
        bool pex, bool lsd, string? resumeDir, string writeMode)
    {
        if (cacheMb < 1) throw new FormatException($"--cache-size must be at least 1 (MB), not {cacheMb}");
        if (aioThreads < 1) throw new FormatException($"--aio-threads must be at least 1, not {aioThreads}");
        if (period < 1) throw new FormatException($"--slow-start-period must be at least 1 (s), not {period}");
        if (port is < 0 or > IPEndPoint.MaxPort) throw new FormatException($"--port must be 0..65535, not {port}");
        IPAddress? bind = null;
        if (bindIp is not null && !IPAddress.TryParse(bindIp, out bind)) throw new FormatException($"--bind-ip '{bindIp}' is not an IP address");
        var mode = EngineCommands.ParseWriteMode(writeMode);
        if (fileMode && mode == WriteMode.Direct)
            throw new FormatException("--write-mode direct applies to disks, partitions and image files; with -F torrents are plain files, always written buffered");
        return new EzioOptions
        {
            FileMode = fileMode,
            CacheBytes = (long)cacheMb << 20,
            AioThreads = aioThreads,
            SlowStart = slowStart,
            SlowStartPeriod = TimeSpan.FromSeconds(period),
            PeerPort = port == 0 ? EzioOptions.DefaultPeerPort : port,
            BindAddress = bind,
            Pex = pex,
            Lsd = lsd,
            ResumeDirectory = resumeDir,
            WriteMode = mode,
            LoggerFactory = ctx.LoggerFactory,
        };
    }

    /// <summary>Runs until the API's Shutdown, SIGTERM or Ctrl-C; each stops every torrent and fsyncs every target first (exit 0), a failed flush exits 1.</summary>
    private static async Task<int> RunAsync(CliContext ctx, EzioOptions options, string listen, CancellationToken outer)
    {
        using var cts = CommandSupport.CancelOnSignal(outer);
        await using var daemon = new EzioDaemon(options);
        try
        {
            daemon.Start();
            await using var server = await EzioServer.StartAsync(daemon, listen, ctx.LoggerFactory, cts.Token).ConfigureAwait(false);
            try
            {
                await Task.WhenAny(server.ShutdownRequested, daemon.Stopped).WaitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // SIGTERM or Ctrl-C: EZIO's signal handler takes the same path as its Shutdown call.
                _ = daemon.ShutdownAsync("signal");
            }
            await daemon.Stopped.ConfigureAwait(false);
            // The API's caller gets its answer before the server stops (disposing waits for requests in flight).
            await Task.WhenAny(server.ShutdownRequested, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            return ExitCodes.Ok;
        }
        catch (Exception ex) when (CommandSupport.IsOperatorError(ex))
        {
            ctx.Fail(ex.Message);
            return ExitCodes.Error;
        }
    }
}
