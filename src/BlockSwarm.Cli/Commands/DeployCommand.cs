using System.CommandLine;
using System.Text.Json;
using BlockSwarm.Deploy.Client;
using BlockSwarm.Engine.Session;
using BlockSwarm.Imaging;
using BlockSwarm.Devices;
using BlockSwarm.Security;

namespace BlockSwarm.Cli.Commands;

/// <summary><c>blockswarm deploy</c>: one machine being imaged.</summary>
public static class DeployCommand
{
    public static Command Build(CliContext ctx)
    {
        var server = new Option<string>("--server") { Description = "URL of the deployment server, e.g. http://10.0.0.1:8080 (https:// when serve runs with --tls)", Required = true };
        var serverKey = new Option<string?>("--server-key") { Description = "The server key to trust, as serve prints it (sha256:...): a job not signed by it, or an https certificate on another key, is refused (exit 6) before a byte is written. Or tofu:FILE: trust on first use, the first server's key is recorded in FILE and any other refused later. Without it the server is not authenticated (one warning)" };
        var target = new Option<string>("--target") { Description = "Block device to write, e.g. /dev/sda, or auto: the one internal disk (refused when there are several) (checked: not mounted, not in use, not the system disk, large enough)", Required = true };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation" };
        var json = new Option<bool>("--json") { Description = "JSON events on stdout, one per line" };
        var allowFile = new Option<bool>("--allow-file") { Description = "Accept a regular image file as the target" };
        var listen = new Option<string>("--listen") { Description = "IP[:PORT] to accept peers on (port 0 = any)", DefaultValueFactory = _ => "0.0.0.0:0" };
        var id = new Option<string?>("--id") { Description = "Client id shown on the dashboard (default: hostname + target hash)" };
        var hostname = new Option<string?>("--hostname") { Description = "Hostname to report (default: this machine's)" };
        var cache = new Option<string>("--cache") { Description = "All the piece data the client may hold (pieces being assembled, written, and read for uploads); pushes back on the network when full", DefaultValueFactory = _ => "256MiB" };
        var resume = new Option<string?>("--resume") { Description = "Resume file (default: next to an image file, or in the temp directory for devices)" };
        var (writeMode, directIO) = EngineCommands.WriteModeOptions();
        var verifyAfter = new Option<bool>("--verify-after") { Description = "Re-read and re-hash the whole target after the final fsync" };
        var (noPex, lsd) = EngineCommands.DiscoveryOptions();
        var maxPeers = EngineCommands.MaxPeersOption();
        var maxSeed = new Option<int>("--max-seed") { Description = "Seconds to seed at most after finishing, whatever the server's policy", DefaultValueFactory = _ => 7200 };
        var compression = EngineCommands.CompressionOption(fromJob: true);
        var switchPrefix = EngineCommands.SwitchPrefixOption(fromJob: true);
        var secretFile = EngineCommands.SecretFileOption();
        var cmd = new Command("deploy", "Deploy the server's image onto this machine's disk; exit 0 only with verified data on stable storage (4 = target refused, 5 = server unreachable, 6 = server not trusted, 3 = verification failed)")
        {
            server, target, yes, json, allowFile, listen, id, hostname, cache, writeMode, directIO, resume, verifyAfter, maxSeed, noPex, lsd, maxPeers,
            compression, switchPrefix, serverKey, secretFile,
        };
        cmd.SetAction(async (pr, outer) =>
        {
            using var cts = CommandSupport.CancelOnSignal(outer);
            IDeployReporter reporter = pr.GetValue(json) ? new JsonReporter(ctx.Out) : new TextReporter(ctx);
            try
            {
                var serverUrl = pr.GetValue(server)!;
                var switchChoice = EngineCommands.ParseSwitchPrefix(pr.GetValue(switchPrefix));
                if (!Uri.TryCreate(serverUrl.Contains("://", StringComparison.Ordinal) ? serverUrl : "http://" + serverUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                {
                    ctx.Fail($"--server '{serverUrl}' is not an http:// or https:// URL");
                    return ExitCodes.Usage;
                }
                ServerTrust trust;
                try
                {
                    trust = ServerTrust.Parse(pr.GetValue(serverKey));
                }
                catch (SecretException ex)
                {
                    ctx.Fail(ex.Message);
                    return ExitCodes.Usage;
                }
                var options = new DeployOptions
                {
                    Server = uri,
                    Target = pr.GetValue(target)!,
                    Yes = pr.GetValue(yes),
                    AllowFile = pr.GetValue(allowFile),
                    Listen = CommandSupport.ParseEndPoint(pr.GetValue(listen)!, 0),
                    ClientId = pr.GetValue(id),
                    Hostname = pr.GetValue(hostname) ?? Environment.MachineName,
                    CacheBytes = SizeParser.Parse(pr.GetValue(cache)!),
                    WriteMode = EngineCommands.GetWriteMode(pr, writeMode, directIO),
                    ResumePath = pr.GetValue(resume),
                    VerifyAfter = pr.GetValue(verifyAfter),
                    MaxSeeding = TimeSpan.FromSeconds(pr.GetValue(maxSeed)),
                    Pex = !pr.GetValue(noPex),
                    Lsd = pr.GetValue(lsd),
                    MaxPeers = Math.Max(1, pr.GetValue(maxPeers)),
                    CompressionLevel = EngineCommands.ParseCompression(pr.GetValue(compression)),
                    SwitchPrefixGiven = switchChoice.Given,
                    SwitchPrefixLength = switchChoice.PrefixLength,
                    ServerTrust = trust,
                    SwarmSecret = EngineCommands.LoadSecret(ctx, pr.GetValue(secretFile), pr.GetValue(lsd)),
                    Confirm = ctx.Interactive && !pr.GetValue(json) ? Ask : null,
                    LoggerFactory = ctx.LoggerFactory,
                };
                return await new DeployClient(options, reporter).RunAsync(cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is FormatException or UsageException)
            {
                ctx.Fail(ex.Message);
                return ExitCodes.Usage;
            }
        });
        return cmd;
    }

    private static bool Ask(string question)
    {
        Console.Error.Write(question + " [y/N] ");
        var answer = Console.ReadLine();
        return answer is not null && (answer.Trim().Equals("y", StringComparison.OrdinalIgnoreCase) || answer.Trim().Equals("yes", StringComparison.OrdinalIgnoreCase));
    }

    private sealed class TextReporter(CliContext ctx) : IDeployReporter
    {
        private DateTime _last = DateTime.MinValue;

        public void Event(string name, string message, IReadOnlyDictionary<string, object?>? data = null)
        {
            if (ctx.Interactive) ctx.Err.Write("\r".PadRight(110) + "\r");
            if (name is "error" or "refused") ctx.Fail(message);
            else ctx.Err.WriteLine(message);
        }

        public void Progress(SessionStats st, string state)
        {
            if (!ctx.Interactive && DateTime.UtcNow - _last < TimeSpan.FromSeconds(2)) return;
            _last = DateTime.UtcNow;
            int width = 30;
            int filled = (int)Math.Round(st.Progress * width);
            var line = $"{state,-11} [{new string('#', filled)}{new string('.', width - filled)}] {st.Progress * 100,5:0.0}%  down {SizeParser.Format((long)st.DownloadRate)}/s  up {SizeParser.Format((long)st.UploadRate)}/s  peers {st.Peers}";
            if (ctx.Interactive) ctx.Err.Write("\r" + line.PadRight(105));
            else ctx.Err.WriteLine(line);
        }
    }

    private sealed class JsonReporter(TextWriter output) : IDeployReporter
    {
        private readonly object _gate = new();

        public void Event(string name, string message, IReadOnlyDictionary<string, object?>? data = null)
        {
            var o = new Dictionary<string, object?> { ["time"] = DateTimeOffset.UtcNow, ["event"] = name, ["message"] = message };
            if (data != null) foreach (var (k, v) in data) o[k] = v;
            Write(o);
        }

        public void Progress(SessionStats st, string state) => Write(new Dictionary<string, object?>
        {
            ["time"] = DateTimeOffset.UtcNow,
            ["event"] = "progress",
            ["state"] = state,
            ["progress"] = st.Progress,
            ["bytesHave"] = st.BytesHave,
            ["totalBytes"] = st.TotalBytes,
            ["downloadRate"] = st.DownloadRate,
            ["uploadRate"] = st.UploadRate,
            ["peers"] = st.Peers,
            ["downloaded"] = st.PayloadDownloaded,
            ["banned"] = st.BannedPeers,
        });

        private void Write(Dictionary<string, object?> o)
        {
            // Written by hand rather than by reflection: the values are a handful of primitive kinds, and the CLI is
            // published NativeAOT, where reflection-based serialization of object-typed values is not available.
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                foreach (var (key, value) in o)
                {
                    json.WritePropertyName(key);
                    WriteValue(json, value);
                }
                json.WriteEndObject();
            }
            lock (_gate)
            {
                output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
                output.Flush();
            }
        }

        internal static void WriteValue(Utf8JsonWriter json, object? value)
        {
            switch (value)
            {
                case null: json.WriteNullValue(); break;
                case string s: json.WriteStringValue(s); break;
                case bool b: json.WriteBooleanValue(b); break;
                case int i: json.WriteNumberValue(i); break;
                case long l: json.WriteNumberValue(l); break;
                case double d when double.IsFinite(d): json.WriteNumberValue(d); break;
                case double: json.WriteNullValue(); break;
                case DateTimeOffset t: json.WriteStringValue(t); break;
                case IFormattable f: json.WriteStringValue(f.ToString(null, System.Globalization.CultureInfo.InvariantCulture)); break;
                default: json.WriteStringValue(value.ToString()); break;
            }
        }
    }
}
