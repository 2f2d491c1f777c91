using System.CommandLine;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using BlockSwarm.Clonezilla.Jobs;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Deploy.Server;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Devices;
using BlockSwarm.Security;

namespace BlockSwarm.Cli.Commands;

/// <summary><c>blockswarm serve</c>: the image server (origin seeder, tracker, deployment API, dashboard, metrics).</summary>
public static class ServeCommand
{
    public static Command Build(CliContext ctx)
    {
        var source = new Option<string>("--source", "-s") { Description = "Image file, block device or Clonezilla image directory to deploy (or, with --torrent, where its data is)", Required = true };
        var disk = new Option<string?>("--disk") { Description = "Which disk of a Clonezilla image directory that holds several (each is its own deployment)" };
        var torrentOpt = new Option<string?>("--torrent", "-t") { Description = "Serve an existing torrent instead of creating one from --source" };
        var map = new Option<string>("--map", "-m") { Description = "Used-block map when creating: auto, all, nonzero, partclone:FILE", DefaultValueFactory = _ => "auto" };
        var pieceSize = new Option<string>("--piece-size") { Description = "Piece length when creating: auto or a power of two", DefaultValueFactory = _ => "auto" };
        var name = new Option<string?>("--name") { Description = "Torrent name when creating (default: the source's base name)" };
        var listen = new Option<string>("--listen") { Description = "IP address to listen on", DefaultValueFactory = _ => "0.0.0.0" };
        var btPort = new Option<int>("--bt-port") { Description = "BitTorrent port of the origin seeder", DefaultValueFactory = _ => 6881 };
        var httpPort = new Option<int>("--http-port") { Description = "HTTP port: API, tracker (/announce), dashboard (/), metrics (/metrics)", DefaultValueFactory = _ => 8080 };
        var expect = new Option<int>("--expect") { Description = "Number of clients expected; the server knows when all are done" };
        var limit = new Option<string?>("--upload-limit") { Description = "Origin upload limit per second, e.g. 80MiB (a seeder can saturate a weak switch)" };
        var slowStart = new Option<int>("--slow-start") { Description = "Ramp the origin's upload limit up from a quarter over this many seconds (needs --upload-limit)" };
        var stopWhenDone = new Option<bool>("--stop-when-done") { Description = "Exit once every expected client is done" };
        var policy = new Option<string>("--policy") { Description = "Client seeding after completion: until-all-done, ratio:R, idle:SECONDS or none", DefaultValueFactory = _ => "until-all-done" };
        var torrentOut = new Option<string?>("--torrent-out") { Description = "Also save the created torrent here" };
        var maxPeers = new Option<int>("--max-peers") { Description = "Most clients the origin serves at once", DefaultValueFactory = _ => 256 };
        var netboot = new Option<string?>("--netboot") { Description = "Also serve network-boot files from this directory (packaging/netboot/build-netboot.sh's output) at /netboot/, with an iPXE script at /netboot/boot.ipxe that boots clients into deploy" };
        var netbootArgs = new Option<string>("--netboot-args") { Description = "Kernel command line of network-booted clients after blockswarm.server= (blockswarm.target=/dev/DISK|auto, blockswarm.after=poweroff|reboot|shell, console=...)", DefaultValueFactory = _ => NetbootEndpoints.DefaultKernelArgs };
        var compression = EngineCommands.CompressionOption();
        var switchPrefix = EngineCommands.SwitchPrefixOption();
        var secretFile = EngineCommands.SecretFileOption();
        var signingKey = new Option<string?>("--signing-key") { Description = "ECDSA P-256 key (PKCS#8 PEM) that signs every job; made, mode 0600, when the file does not exist. Its fingerprint (printed at start) is what clients pin with deploy --server-key. Default: serve-signing-key.pem in the state directory ($BLOCKSWARM_STATE, else systemd's $STATE_DIRECTORY, else $XDG_STATE_HOME/blockswarm or ~/.local/state/blockswarm)" };
        var operatorTokenFile = new Option<string?>("--operator-token-file") { Description = "File holding the token operator actions need (DELETE /api/clients/ID, POST /api/stop; and reading the dashboard with --dashboard token); made, mode 0600, when it does not exist. Default: operator-token in the state directory (as --signing-key's)" };
        var dashboard = new Option<string>("--dashboard") { Description = "Who may read the dashboard, /api/clients, /api/events and /metrics: open (anyone on the LAN) or token (the operator token: a browser asks for it as the password, any user name)", DefaultValueFactory = _ => "open" };
        dashboard.AcceptOnlyFromAmong("open", "token");
        var tls = new Option<bool>("--tls") { Description = "HTTPS on the HTTP port, with a self-signed certificate on the signing key: the one fingerprint clients pin covers the certificate and the job signature" };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "HTTPS with this certificate (PEM) instead of a self-signed one (implies --tls; needs --tls-key); clients then trust it through their CAs" };
        var tlsKey = new Option<string?>("--tls-key") { Description = "The private key (PEM) of --tls-cert" };
        var netbootPort = new Option<int?>("--netboot-port") { Description = "With --tls and --netboot: the plain-HTTP port that serves /netboot/ only (iPXE cannot check a self-signed certificate). Default: the HTTP port + 1" };
        var cmd = new Command("serve", "Serve a deployment: origin seeder, embedded tracker, job API, live dashboard and metrics; every job is signed by the server's key")
        {
            source, disk, torrentOpt, map, pieceSize, name, listen, btPort, httpPort, expect, limit, slowStart, stopWhenDone, policy, torrentOut, maxPeers, netboot, netbootArgs,
            compression, switchPrefix, secretFile, signingKey, operatorTokenFile, dashboard, tls, tlsCert, tlsKey, netbootPort,
        };
        cmd.SetAction(async (pr, outer) =>
        {
            using var cts = CommandSupport.CancelOnSignal(outer);
            var ct = cts.Token;
            try
            {
                var src = pr.GetValue(source)!;
                if (pr.GetValue(tlsCert) is null != pr.GetValue(tlsKey) is null) throw new UsageException("--tls-cert and --tls-key go together");
                // The keys first: a key file that cannot be read fails before minutes of hashing, not after.
                using var identity = ServerIdentity.LoadOrCreate(pr.GetValue(signingKey) ?? StateDirectory.SigningKey);
                var operatorToken = OperatorToken.LoadOrCreate(pr.GetValue(operatorTokenFile) ?? StateDirectory.OperatorToken);
                var secret = EngineCommands.LoadSecret(ctx, pr.GetValue(secretFile));
                var listenAddress = IPAddress.Parse(pr.GetValue(listen)!);
                using var certificate = pr.GetValue(tlsCert) is { } certFile
                    ? LoadCertificate(certFile, pr.GetValue(tlsKey)!)
                    : pr.GetValue(tls) ? identity.CreateTlsCertificate([Environment.MachineName, "localhost"], CertificateAddresses(listenAddress), DateTimeOffset.UtcNow) : null;
                if (pr.GetValue(netboot) is { } nb)
                    foreach (var file in new[] { "vmlinuz", "initrd.img" })
                        if (!File.Exists(Path.Combine(nb, file)))
                            throw new UsageException($"--netboot {nb}: no {file} there; build the directory with packaging/netboot/build-netboot.sh");
                Torrent torrent;
                long sourceSize;
                MappedPieceStorage? opened = null;
                long? requiredTarget = null;
                if (pr.GetValue(torrentOpt) is { } tpath)
                {
                    torrent = Torrent.Load(tpath);
                    sourceSize = File.Exists(src) ? DeviceFile.GetSize(src) : torrent.TotalLength;
                }
                else if (ImageDirectorySource.IsImageDirectory(src))
                {
                    if (pr.GetValue(map) != "auto") ctx.Warn("--map is ignored for a Clonezilla image directory: its partclone bitmaps say which blocks are used");
                    var options = new CreateOptions
                    {
                        Name = pr.GetValue(name) ?? Path.GetFileName(Path.GetFullPath(src).TrimEnd('/')),
                        CreationDate = DateTimeOffset.UtcNow,
                        LoggerFactory = ctx.LoggerFactory,
                    };
                    var image = await ImageDirectorySource.OpenAsync(ctx, src, pr.GetValue(disk), pr.GetValue(pieceSize)!, options,
                        new ImageJobCache(ImageJobCache.DefaultRoot), ct).ConfigureAwait(false);
                    foreach (var line in image.Describe()) ctx.Err.WriteLine(line);
                    torrent = image.Torrent;
                    sourceSize = image.DiskSize;
                    opened = image.OpenStorage();
                    requiredTarget = image.RequiredTargetSize;
                    ctx.Err.WriteLine($"{torrent.PieceCount} pieces × {SizeParser.Format(torrent.PieceLength)}, info-hash {torrent.InfoHash.ToHex()}, ready in {image.Elapsed.TotalSeconds:0.00} s");
                    if (pr.GetValue(torrentOut) is { } outPath) TorrentCreator.WriteAtomically(outPath, torrent.Raw.Span);
                }
                else
                {
                    using var dev = DeviceFile.OpenRead(src);
                    sourceSize = dev.Size;
                    var resolved = await ProgressDisplay.RunAsync(ctx, "scanning", dev.Size,
                        report => MapResolver.Resolve(MapSpec.Parse(pr.GetValue(map)!), dev, report, loggerFactory: ctx.LoggerFactory, cancellationToken: ct)).ConfigureAwait(false);
                    foreach (var w in resolved.Warnings) ctx.Warn(w);
                    var options = new CreateOptions
                    {
                        Name = pr.GetValue(name) ?? Path.GetFileNameWithoutExtension(src.TrimEnd('/')),
                        PieceLength = PieceSizing.Parse(pr.GetValue(pieceSize)!, resolved.Map.UsedBytes),
                        CreationDate = DateTimeOffset.UtcNow,
                        ExpectedPieceHashes = resolved.PartcloneHashes,
                        LoggerFactory = ctx.LoggerFactory,
                    };
                    torrent = await ProgressDisplay.RunAsync(ctx, "hashing", resolved.Map.UsedBytes,
                        report => TorrentCreator.Create(dev, resolved.Map, options, report, ct)).ConfigureAwait(false);
                    ctx.Err.WriteLine($"map {resolved.Method}: {SizeParser.Format(resolved.Map.UsedBytes)} used of {SizeParser.Format(dev.Size)}, {torrent.PieceCount} pieces, info-hash {torrent.InfoHash.ToHex()}");
                    if (pr.GetValue(torrentOut) is { } outPath) TorrentCreator.WriteAtomically(outPath, torrent.Raw.Span);
                }
                await using var storage = opened ?? CommandSupport.OpenStorage(torrent, src, writable: false, plainFiles: false, new StorageOptions());
                storage.MarkDurable(PieceRecovery.TrustSeed(storage).Pieces);
                long rate = pr.GetValue(limit) is { } l ? SizeParser.Parse(l) : 0;
                int ss = pr.GetValue(slowStart);
                if (ss > 0 && rate == 0) ctx.Warn("--slow-start needs --upload-limit to ramp towards; ignored");
                var serveOptions = new ServeOptions
                {
                    Listen = listenAddress,
                    BitTorrentPort = pr.GetValue(btPort),
                    HttpPort = pr.GetValue(httpPort),
                    UploadLimit = rate,
                    SlowStart = ss > 0 && rate > 0 ? TimeSpan.FromSeconds(ss) : null,
                    Policy = ParsePolicy(pr.GetValue(policy)!, pr.GetValue(expect)),
                    StopWhenDone = pr.GetValue(stopWhenDone),
                    MaxPeers = Math.Max(1, pr.GetValue(maxPeers)),
                    RequiredTargetSize = requiredTarget,
                    NetbootDirectory = pr.GetValue(netboot),
                    NetbootKernelArgs = pr.GetValue(netbootArgs)!,
                    CompressionLevel = EngineCommands.ParseCompression(pr.GetValue(compression))!.Value,
                    SwitchPrefixLength = EngineCommands.ParseSwitchPrefix(pr.GetValue(switchPrefix)).PrefixLength,
                    SwarmSecret = secret,
                    Identity = identity,
                    OperatorToken = operatorToken,
                    Dashboard = pr.GetValue(dashboard) == "token" ? DashboardAccess.Token : DashboardAccess.Open,
                    TlsCertificate = certificate,
                    NetbootPort = pr.GetValue(netbootPort),
                    LoggerFactory = ctx.LoggerFactory,
                };
                await using var server = new DeployServer(torrent, storage, sourceSize, serveOptions);
                await server.StartAsync(ct).ConfigureAwait(false);
                ctx.Out.WriteLine($"serving {torrent.Name} ({torrent.InfoHash.ToHex()}): dashboard {server.HttpAddress}  BitTorrent port {server.Job.OriginPort}  tracker {new Uri(server.HttpAddress!, "/announce")}");
                ctx.Out.WriteLine($"server key {identity.Fingerprint}");
                foreach (var url in ClientUrls(serveOptions.Listen, server.HttpAddress!))
                {
                    ctx.Out.WriteLine($"on each client: blockswarm deploy --server {url} --server-key {identity.Fingerprint} --target /dev/sdX");
                    if (serveOptions.NetbootDirectory is not null)
                    {
                        var bootBase = server.NetbootAddress is { } plain ? new UriBuilder(url) { Scheme = "http", Port = plain.Port }.Uri : url;
                        ctx.Out.WriteLine($"network boot: point iPXE (DHCP option 67, or dnsmasq's dhcp-boot) at {new Uri(bootBase, "/netboot/boot.ipxe")} (it puts blockswarm.server_key= on the kernel command line)");
                    }
                }
                ctx.Out.Flush();
                var lastLine = DateTime.MinValue;
                bool saidAllDone = false;
                while (!ct.IsCancellationRequested)
                {
                    // AllDone wakes the loop once, for its line: once it is said, a completed task would make this loop spin.
                    var tick = Task.Delay(TimeSpan.FromSeconds(1), ct);
                    await (saidAllDone ? Task.WhenAny(server.StopRequested, tick) : Task.WhenAny(server.AllDone, server.StopRequested, tick)).ConfigureAwait(false);
                    if (server.StopRequested.IsCompleted)
                    {
                        ctx.Out.WriteLine("stopped by an operator (POST /api/stop)");
                        return ExitCodes.Ok;
                    }
                    var snap = server.Snapshot();
                    if (DateTime.UtcNow - lastLine >= TimeSpan.FromSeconds(ctx.Interactive ? 1 : 5) || (server.AllDone.IsCompleted && !saidAllDone))
                    {
                        lastLine = DateTime.UtcNow;
                        saidAllDone = server.AllDone.IsCompleted;
                        var t = snap.Totals;
                        ctx.Err.WriteLine($"clients {t.Done}/{(t.Expected > 0 ? t.Expected : t.Clients)} done, {t.Failed} failed · origin sent {SizeParser.Format(t.OriginUploaded)} ({SizeParser.Format((long)t.OriginUploadRate)}/s) · peers sent {SizeParser.Format(t.PeerUploaded)} · aggregate {SizeParser.Format((long)t.AggregateDownloadRate)}/s");
                    }
                    if (server.AllDone.IsCompleted && serveOptions.StopWhenDone)
                    {
                        // Let clients collect their final "stop seeding" replies before the origin goes away.
                        await Task.Delay(TimeSpan.FromSeconds(3), ct).ConfigureAwait(false);
                        ctx.Out.WriteLine($"all {serveOptions.Policy.Expected} expected clients are done");
                        return ExitCodes.Ok;
                    }
                }
                return ExitCodes.Ok;
            }
            catch (OperationCanceledException)
            {
                return ExitCodes.Ok;
            }
            catch (UsageException ex)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Usage;
            }
            catch (Exception ex) when (CommandSupport.IsOperatorError(ex))
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Error;
            }
        });
        return cmd;
    }

    /// <summary>
    /// URLs clients can use: the listen address itself, or, when listening on every interface, each
    /// IPv4 address of this host's up, non-loopback interfaces (127.0.0.1 only reaches this machine).
    /// </summary>
    internal static IEnumerable<Uri> ClientUrls(IPAddress listen, Uri bound)
    {
        if (!listen.Equals(IPAddress.Any)) return [bound];
        var lan = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            .Select(a => new UriBuilder(bound) { Host = a.ToString() }.Uri)
            .ToList();
        return lan.Count > 0 ? lan : [bound];
    }

    private static X509Certificate2 LoadCertificate(string certFile, string keyFile)
    {
        try
        {
            return X509Certificate2.CreateFromPemFile(certFile, keyFile);
        }
        catch (System.Security.Cryptography.CryptographicException ex)
        {
            throw new SecretException($"--tls-cert {certFile} --tls-key {keyFile}: not a PEM certificate and its private key: {ex.Message}", ex);
        }
    }

    /// <summary>The addresses a self-signed certificate names (for browsers; clients pin the key): the listen address, or every interface's.</summary>
    private static IEnumerable<IPAddress> CertificateAddresses(IPAddress listen)
    {
        if (!listen.Equals(IPAddress.Any)) return [listen];
        return System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
            .Append(IPAddress.Loopback)
            .ToList();
    }

    internal static CompletionPolicy ParsePolicy(string text, int expected)
    {
        var parts = text.Split(':', 2);
        return parts[0] switch
        {
            "until-all-done" => new CompletionPolicy { Mode = "until-all-done", Expected = expected },
            "none" => new CompletionPolicy { Mode = "none", Expected = expected },
            "ratio" when parts.Length == 2 && double.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var r) && r > 0
                => new CompletionPolicy { Mode = "ratio", Ratio = r, Expected = expected },
            "idle" when parts.Length == 2 && int.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0
                => new CompletionPolicy { Mode = "idle", IdleSeconds = s, Expected = expected },
            _ => throw new FormatException($"--policy '{text}': use until-all-done, ratio:R, idle:SECONDS or none"),
        };
    }
}
