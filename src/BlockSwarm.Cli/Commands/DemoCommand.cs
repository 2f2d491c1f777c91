using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Deploy.Server;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using BlockSwarm.Devices;
using BlockSwarm.Observability.Logging;

namespace BlockSwarm.Cli.Commands;

/// <summary>
/// <c>blockswarm demo</c>, the README's main job: builds a real ext4 image with sample files
/// (mkfs.ext4 -d), starts <c>serve</c> and K <c>deploy</c> clients as separate processes on
/// loopback (each on its own 127.0.0.x, file targets), shows progress, checks every target
/// bit-exact over the used blocks (and with e2fsck), and prints a summary.
/// </summary>
public static class DemoCommand
{
    public static Command Build(CliContext ctx)
    {
        var workDir = new Option<string?>("--dir") { Description = "Working directory (default: a new temporary directory, removed afterwards)" };
        var sizeMiB = new Option<int>("--size-mib") { Description = "Size of the sample ext4 image in MiB", DefaultValueFactory = _ => 512 };
        var clients = new Option<int>("--clients", "-k") { Description = "Number of deploy clients", DefaultValueFactory = _ => 4 };
        var keep = new Option<bool>("--keep") { Description = "Keep the working directory (image, torrent, targets, logs)" };
        var cmd = new Command("demo", "Deploy a sample ext4 image from a local server to K local clients over loopback and check every copy bit-exact")
        {
            workDir, sizeMiB, clients, keep,
        };
        cmd.SetAction(async (pr, outer) =>
        {
            using var cts = CommandSupport.CancelOnSignal(outer);
            var ct = cts.Token;
            var dir = pr.GetValue(workDir);
            bool temp = dir == null && !pr.GetValue(keep);
            dir ??= Directory.CreateTempSubdirectory("blockswarm-demo-").FullName;
            Directory.CreateDirectory(dir);
            int k = pr.GetValue(clients);
            if (k is < 1 or > 200)
            {
                ctx.Fail("--clients must be between 1 and 200");
                return ExitCodes.Usage;
            }
            var processes = new List<Process>();
            try
            {
                return await RunAsync(ctx, dir, pr.GetValue(sizeMiB), k, processes, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                ctx.Fail("interrupted");
                return ExitCodes.Interrupted;
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or TorrentException or HttpRequestException or BlockMapException)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Error;
            }
            finally
            {
                foreach (var p in processes)
                {
                    try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                    p.Dispose();
                }
                if (temp) TryDelete(dir);
                else ctx.Out.WriteLine($"kept {dir}");
            }
        });
        return cmd;
    }

    private static async Task<int> RunAsync(CliContext ctx, string dir, int sizeMiB, int k, List<Process> processes, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        ctx.Out.WriteLine($"1/4 building a {sizeMiB} MiB ext4 image with sample files (mkfs.ext4 -d) in {dir}");
        var img = await SampleImage.BuildExt4Async(dir, sizeMiB, ctx, ct).ConfigureAwait(false);

        ctx.Out.WriteLine("2/4 mapping used blocks and hashing pieces (blockswarm create --map auto)");
        var torrentPath = Path.Combine(dir, "sample.torrent");
        int rc = await CliApp.RunAsync(["create", "--source", img, "--map", "auto", "-o", torrentPath], ctx, ct).ConfigureAwait(false);
        if (rc != 0) return rc;
        var torrent = Torrent.Load(torrentPath);
        long imageSize = new FileInfo(img).Length;

        int httpPort = FreePort(), btPort = FreePort();
        var server = new Uri($"http://127.0.0.1:{httpPort}/");
        // The server's key is made here, so the clients can pin it as an operator would from serve's first line.
        string signingKey = Path.Combine(dir, "serve-signing-key.pem");
        string fingerprint;
        using (var identity = Security.ServerIdentity.LoadOrCreate(signingKey)) fingerprint = identity.Fingerprint;
        ctx.Out.WriteLine($"3/4 starting serve and {k} deploy clients as separate processes on loopback (clients pin server key {fingerprint})");
        processes.Add(Spawn(ctx, dir, "serve.log", ["serve", "--torrent", torrentPath, "--source", img, "--listen", "127.0.0.1",
            "--signing-key", signingKey, "--operator-token-file", Path.Combine(dir, "operator-token"),
            "--http-port", httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bt-port", btPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--expect", k.ToString(System.Globalization.CultureInfo.InvariantCulture), "--stop-when-done"]));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await WaitForServerAsync(http, server, processes[0], ct).ConfigureAwait(false);
        ctx.Out.WriteLine($"    dashboard: {server}   (open it in a browser while the demo runs)");

        var targets = new List<string>();
        var deployStart = Stopwatch.StartNew();
        for (int i = 0; i < k; i++)
        {
            var target = Path.Combine(dir, $"client{i + 1}.img");
            await using (var f = new FileStream(target, FileMode.Create)) f.SetLength(imageSize);
            targets.Add(target);
            var address = $"127.0.0.{11 + i}";
            processes.Add(Spawn(ctx, dir, $"client{i + 1}.log", ["deploy", "--server", server.ToString(), "--server-key", fingerprint, "--target", target, "--allow-file", "--yes",
                "--listen", $"{address}:0", "--hostname", $"lab-pc-{i + 1:00}"]));
        }

        var clientsDone = Task.WhenAll(processes.Skip(1).Select(p => p.WaitForExitAsync(ct)));
        Snapshot? last = null;
        var lastPrint = TimeSpan.Zero;
        while (!clientsDone.IsCompleted)
        {
            await Task.WhenAny(clientsDone, Task.Delay(500, ct)).ConfigureAwait(false);
            try
            {
                last = await http.GetFromJsonAsync(new Uri(server, "/api/clients"), DeployJson.Default.Snapshot, ct).ConfigureAwait(false) ?? last;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested) { }
            if (last != null && (deployStart.Elapsed - lastPrint >= TimeSpan.FromSeconds(ctx.Interactive ? 0.5 : 2) || clientsDone.IsCompleted))
            {
                lastPrint = deployStart.Elapsed;
                PrintProgress(ctx, last, deployStart.Elapsed);
            }
            if (deployStart.Elapsed > TimeSpan.FromMinutes(10)) throw new InvalidOperationException("the demo deployment did not finish in 10 minutes; see the logs in " + dir);
        }
        var deployTime = deployStart.Elapsed;
        if (ctx.Interactive) ctx.Err.WriteLine();
        for (int i = 1; i < processes.Count; i++)
        {
            if (processes[i].ExitCode != 0)
            {
                ctx.Fail($"client {i} exited with {processes[i].ExitCode}; its log:\n{await File.ReadAllTextAsync(Path.Combine(dir, $"client{i}.log"), ct).ConfigureAwait(false)}");
                return ExitCodes.Error;
            }
        }

        ctx.Out.WriteLine($"4/4 checking every target bit-exact over the {torrent.Files.Length} used extents");
        var layout = BlockImageLayout.Create(torrent);
        foreach (var t in targets)
        {
            var bad = layout.FirstDifference(img, t);
            if (bad != null)
            {
                ctx.Fail($"{t} differs from the source at byte {bad}");
                return ExitCodes.VerifyFailed;
            }
        }
        string fsck = Fsck(targets[0]);
        await Task.WhenAny(processes[0].WaitForExitAsync(ct), Task.Delay(TimeSpan.FromSeconds(10), ct)).ConfigureAwait(false);

        var totals = last?.Totals;
        long origin = totals?.OriginUploaded ?? 0, peers = totals?.PeerUploaded ?? 0;
        ctx.Out.WriteLine();
        ctx.Out.WriteLine($"all {k} clients bit-exact ({SizeParser.Format(torrent.TotalLength)} of used blocks each, of a {SizeParser.Format(imageSize)} image); {fsck}");
        ctx.Out.WriteLine($"deployment time   {deployTime.TotalSeconds:0.0} s (whole demo {total.Elapsed.TotalSeconds:0.0} s)");
        ctx.Out.WriteLine($"throughput        {SizeParser.Format((long)(k * torrent.TotalLength / Math.Max(0.001, deployTime.TotalSeconds)))}/s delivered in total");
        ctx.Out.WriteLine($"origin sent       {SizeParser.Format(origin)} ({(origin + peers > 0 ? 100.0 * origin / (origin + peers) : 0):0}%)");
        ctx.Out.WriteLine($"peers sent        {SizeParser.Format(peers)} ({(origin + peers > 0 ? 100.0 * peers / (origin + peers) : 0):0}%): the rest came from other clients, not the server");
        return ExitCodes.Ok;
    }

    private static void PrintProgress(CliContext ctx, Snapshot snap, TimeSpan elapsed)
    {
        var parts = snap.Clients.Select(c => $"{c.Report.Hostname} {c.Report.Progress * 100,3:0}%");
        var line = $"    {elapsed.TotalSeconds,5:0.0}s  {string.Join("  ", parts)}  | done {snap.Totals.Done}/{snap.Totals.Expected}  origin {SizeParser.Format(snap.Totals.OriginUploaded)}  peers {SizeParser.Format(snap.Totals.PeerUploaded)}";
        if (ctx.Interactive) ctx.Err.Write("\r" + line);
        else ctx.Err.WriteLine(line);
    }

    private static string Fsck(string image)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("e2fsck", ["-fn", image]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? "e2fsck -fn on a copy: clean" : $"e2fsck -fn on a copy exited {p.ExitCode}";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "e2fsck not installed, filesystem check skipped";
        }
    }

    private static Process Spawn(CliContext ctx, string dir, string log, IEnumerable<string> args)
    {
        var (file, prefix) = SelfCommand();
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in prefix.Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment["CI"] = "1"; // children write plain lines to their logs
        // Children log as the demo was told to (--log-level/--log-format), into their log files.
        psi.Environment[LogSettings.LevelVariable] = LogSettings.LevelName(ctx.LogSettings.Level);
        psi.Environment[LogSettings.FormatVariable] = ctx.LogSettings.Format == LogFormat.Json ? "json" : "text";
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var writer = new StreamWriter(Path.Combine(dir, log)) { AutoFlush = true };
        var gate = new object();
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (gate) writer.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (gate) writer.WriteLine(e.Data); };
        p.Exited += (_, _) => { lock (gate) writer.Dispose(); };
        p.EnableRaisingEvents = true;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>How to start this same program again: the apphost, or <c>dotnet blockswarm.dll</c>.</summary>
    internal static (string File, string[] Prefix) SelfCommand()
    {
        var exe = Environment.ProcessPath ?? "dotnet";
        // A NativeAOT or apphost build is its own executable; under the dotnet host, blockswarm.dll sits in the app's directory.
        return Path.GetFileNameWithoutExtension(exe) == "dotnet" ? (exe, [Path.Combine(AppContext.BaseDirectory, "blockswarm.dll")]) : (exe, []);
    }

    private static async Task WaitForServerAsync(HttpClient http, Uri server, Process serve, CancellationToken ct)
    {
        for (int i = 0; i < 300; i++)
        {
            if (serve.HasExited) throw new InvalidOperationException($"serve exited with {serve.ExitCode} before it was ready");
            try
            {
                using var r = await http.GetAsync(new Uri(server, "/api/job"), ct).ConfigureAwait(false);
                if (r.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested) { } // slow start under load: try again
            await Task.Delay(100, ct).ConfigureAwait(false);
        }
        throw new InvalidOperationException("serve did not answer within 30 s");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
