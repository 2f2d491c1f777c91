using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using BlockSwarm.Metainfo;
using BlockSwarm.Tracker;

// Tracker load benchmark: 10k simulated peers across 100 swarms.
//   1. core only: Tracker.HandleAnnounce in-process (parse + announce + encode), all cores;
//   2. HTTP: the standalone Kestrel host on loopback, keep-alive HttpClient connections.
// Bounded by duration and request count; stops by itself.
//   dotnet run -c Release --project bench/BlockSwarm.TrackerBench [-- seconds [connections]]
var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 10;
var connections = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 32;
const int Peers = 10_000, Swarms = 100;
const long MaxRequests = 2_000_000;

var queries = BuildQueries(Peers, Swarms);
Console.WriteLine($"{Peers} peers, {Swarms} swarms, {Environment.ProcessorCount} cores, {seconds} s per phase, {connections} HTTP connections");

// The bench talks from one address: rate limiting is per source IP and would throttle it.
var options = new TrackerOptions { AnnouncesPerSecondPerIp = 0 };

{
    var tracker = new Tracker(options, random: new Random(1));
    var source = IPAddress.Parse("10.0.0.1");
    long done = 0;
    var sw = Stopwatch.StartNew();
    var deadline = TimeSpan.FromSeconds(seconds / 2);
    Parallel.For(0, Environment.ProcessorCount, w =>
    {
        var buf = new ArrayBufferWriter<byte>(4096);
        long n = 0;
        for (var i = w; sw.Elapsed < deadline && n < MaxRequests; i = (i + Environment.ProcessorCount) % queries.Length)
        {
            buf.Clear();
            tracker.HandleAnnounce(queries[i], source, buf);
            n++;
        }
        Interlocked.Add(ref done, n);
    });
    Console.WriteLine($"core only : {done / sw.Elapsed.TotalSeconds,10:N0} announces/s ({done:N0} in {sw.Elapsed.TotalSeconds:F1} s)");
}

await using var host = new StandaloneTrackerHost(options, random: new Random(2));
await host.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), null);
var baseUri = host.AnnounceUri.ToString();
using var http = new HttpClient(new SocketsHttpHandler
{
    MaxConnectionsPerServer = connections,
    PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
    UseProxy = false,
    AutomaticDecompression = DecompressionMethods.None,
});

// Warm-up: every peer announces started once (fills the swarms).
await RunAsync(queries.Length, TimeSpan.FromMinutes(1), started: true);
var before = GC.GetTotalMemory(forceFullCollection: true);
var (count, elapsed, errors) = await RunAsync(MaxRequests, TimeSpan.FromSeconds(seconds), started: false);
GC.Collect();
var process = Process.GetCurrentProcess();
process.Refresh();
Console.WriteLine($"HTTP      : {count / elapsed.TotalSeconds,10:N0} announces/s via HttpClient ({count:N0} in {elapsed.TotalSeconds:F1} s, {errors} errors)");
var (rawCount, rawElapsed, rawErrors) = await RunRawAsync(MaxRequests, TimeSpan.FromSeconds(seconds));
Console.WriteLine($"HTTP raw  : {rawCount / rawElapsed.TotalSeconds,10:N0} announces/s via a minimal keep-alive client ({rawCount:N0} in {rawElapsed.TotalSeconds:F1} s, {rawErrors} errors)");
Console.WriteLine($"swarms {host.Tracker.SwarmCount}, peers {Enumerable.Range(0, Swarms).Sum(s => host.Tracker.GetPeers(Hash(s)).Count):N0}");
Console.WriteLine($"managed heap {GC.GetTotalMemory(true) / 1048576.0:F1} MiB (before steady state {before / 1048576.0:F1} MiB), working set {process.WorkingSet64 / 1048576.0:F1} MiB, bench client included");
Console.WriteLine($"a real {Peers}-peer deployment at a 30 s interval needs {Peers / 30.0:N0} announces/s");

async Task<(long Count, TimeSpan Elapsed, long Errors)> RunAsync(long maxRequests, TimeSpan duration, bool started)
{
    long next = -1, errors = 0;
    var sw = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
    {
        while (sw.Elapsed < duration)
        {
            var i = Interlocked.Increment(ref next);
            if (i >= maxRequests) break;
            var q = queries[i % queries.Length];
            var body = await http.GetByteArrayAsync(baseUri + q + (started ? "&event=started" : ""));
            if (body.Length < 10 || body[0] != (byte)'d' || body.AsSpan().IndexOf("failure"u8) >= 0) Interlocked.Increment(ref errors);
        }
    })).ToArray();
    await Task.WhenAll(workers);
    return (Math.Min(next + 1 - connections, maxRequests), sw.Elapsed, errors);
}

// HttpClient costs more CPU than the server on this 2-core box; a bare keep-alive client (one
// request in flight per connection, Content-Length framing) shows what the server itself does.
async Task<(long Count, TimeSpan Elapsed, long Errors)> RunRawAsync(long maxRequests, TimeSpan duration)
{
    long next = -1, errors = 0, done = 0;
    var sw = Stopwatch.StartNew();
    var ep = host.LocalEndPoint;
    var workers = Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
    {
        using var socket = new System.Net.Sockets.Socket(ep.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(ep);
        var buf = new byte[16 * 1024];
        while (sw.Elapsed < duration)
        {
            var i = Interlocked.Increment(ref next);
            if (i >= maxRequests) break;
            var request = System.Text.Encoding.ASCII.GetBytes($"GET /announce{queries[i % queries.Length]} HTTP/1.1\r\nHost: t\r\n\r\n");
            await socket.SendAsync(request);
            int have = 0, headerEnd = -1, contentLength = -1;
            while (true)
            {
                var n = await socket.ReceiveAsync(buf.AsMemory(have));
                if (n == 0) throw new IOException("server closed the connection");
                have += n;
                if (headerEnd < 0)
                {
                    headerEnd = buf.AsSpan(0, have).IndexOf("\r\n\r\n"u8);
                    if (headerEnd < 0) continue;
                    var headers = System.Text.Encoding.ASCII.GetString(buf, 0, headerEnd);
                    var at = headers.IndexOf("Content-Length: ", StringComparison.OrdinalIgnoreCase) + 16;
                    contentLength = int.Parse(headers.AsSpan(at, headers.IndexOf('\r', at) - at), CultureInfo.InvariantCulture);
                    headerEnd += 4;
                }
                if (have >= headerEnd + contentLength) break;
            }
            if (buf[headerEnd] != (byte)'d' || buf.AsSpan(headerEnd, contentLength).IndexOf("failure"u8) >= 0) Interlocked.Increment(ref errors);
            Interlocked.Increment(ref done);
        }
    })).ToArray();
    await Task.WhenAll(workers);
    return (done, sw.Elapsed, errors);
}

static InfoHash Hash(int s)
{
    var b = new byte[20];
    BitConverter.TryWriteBytes(b, s);
    b[19] = 0xBE;
    return new InfoHash(b);
}

static string[] BuildQueries(int peers, int swarms)
{
    var q = new string[peers];
    for (var p = 0; p < peers; p++)
    {
        var id = new byte[20];
        "-BS0001-"u8.CopyTo(id);
        BitConverter.TryWriteBytes(id.AsSpan(8), p);
        var ip = $"10.{p >> 16 & 255}.{p >> 8 & 255}.{p & 255}";
        var left = p % 10 == 0 ? 0 : 1_000_000; // one in ten is a seeder
        q[p] = $"?info_hash={Hash(p % swarms).ToUrlEncoded()}&peer_id={string.Concat(id.Select(b => $"%{b:X2}"))}&port={6881 + p % 1000}"
            + $"&uploaded=0&downloaded=0&left={left}&compact=1&numwant=50&ip={ip}";
    }
    return q;
}
