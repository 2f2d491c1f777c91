using System.Net;
using System.Net.Sockets;

namespace BlockSwarm.Lab;

/// <summary>
/// A fault-injecting TCP proxy: forwards every accepted connection to one upstream, and on the way
/// delays chunks (0..maxDelay ms), resets connections at random (about once per <c>resetEveryBytes</c>),
/// and flips single bits (at most <c>maxFlips</c> over the proxy's life, after <c>flipAfterBytes</c>).
/// Run it in a lab namespace: <c>blockswarm-lab proxy --listen IP:PORT --to IP:PORT ...</c>.
/// </summary>
public sealed class FaultProxy(IPEndPoint listen, IPEndPoint upstream, int maxDelayMs, long resetEveryBytes, int maxFlips, long flipAfterBytes, int seed)
{
    private readonly Random _random = new(seed);
    private long _forwarded;
    private int _flips;
    private int _resets;

    public async Task RunAsync(CancellationToken ct)
    {
        using var listener = new TcpListener(listen);
        listener.Start();
        Console.WriteLine($"proxy {listen} -> {upstream} listening");
        while (!ct.IsCancellationRequested)
        {
            var down = await listener.AcceptTcpClientAsync(ct);
            _ = Task.Run(() => ConnectionAsync(down, ct), ct);
        }
    }

    private async Task ConnectionAsync(TcpClient down, CancellationToken ct)
    {
        using var _ = down;
        using var up = new TcpClient();
        try
        {
            await up.ConnectAsync(upstream, ct);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var a = PumpAsync(down, up, "up", cts.Token);
            var b = PumpAsync(up, down, "down", cts.Token);
            await Task.WhenAny(a, b);
            cts.Cancel();
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException) { }
    }

    private async Task PumpAsync(TcpClient from, TcpClient to, string dir, CancellationToken ct)
    {
        var buf = new byte[16384];
        var src = from.GetStream();
        var dst = to.GetStream();
        while (true)
        {
            int n = await src.ReadAsync(buf, ct);
            if (n == 0) return;
            int delay, flipAt = -1;
            bool reset;
            lock (_random)
            {
                delay = maxDelayMs > 0 ? _random.Next(maxDelayMs + 1) : 0;
                reset = resetEveryBytes > 0 && _random.NextDouble() < (double)n / resetEveryBytes;
                _forwarded += n;
                if (dir == "down" && _flips < maxFlips && _forwarded > flipAfterBytes && _random.NextDouble() < 0.05)
                {
                    flipAt = _random.Next(n);
                    _flips++;
                }
            }
            if (delay > 0) await Task.Delay(delay, ct);
            if (flipAt >= 0)
            {
                buf[flipAt] ^= (byte)(1 << _random.Next(8));
                Console.WriteLine($"flipped a bit ({dir}, flip {_flips})");
            }
            if (reset)
            {
                Console.WriteLine($"reset ({dir}, reset {Interlocked.Increment(ref _resets)})");
                from.Client.LingerState = new LingerOption(true, 0);
                to.Client.LingerState = new LingerOption(true, 0);
                from.Close();
                to.Close();
                return;
            }
            await dst.WriteAsync(buf.AsMemory(0, n), ct);
        }
    }
}
