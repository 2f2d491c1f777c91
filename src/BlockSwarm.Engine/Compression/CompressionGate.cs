namespace BlockSwarm.Engine.Compression;

/// <summary>
/// One connection's answer to "is CPU spare for compressing?": yes while bytes wait in the socket for the path (the
/// network, or the peer reading them, is the bottleneck: a frame a third the size moves three times the data through
/// either). While this process is the bottleneck (loopback, 10 GbE with a slow CPU) the socket's queue stays empty and
/// runs go out raw.
/// </summary>
/// <remarks>
/// The evidence is smoothed: at most every <see cref="Sample"/> the socket's state moves a score a step toward 1
/// (backlog) or 0 (none), and runs are compressed while it is at least ½. It starts at 1: on a LAN the network is the
/// usual bottleneck, and the first runs of a connection should not go out raw. An upload loop queues a burst of runs
/// faster than the kernel's queue changes, so one look per burst would decide for the whole burst; a path-bound
/// connection keeps its score through a lull (the peer's next requests on their way), and a momentary backlog on a
/// fast path does not turn compression back on.
/// </remarks>
internal sealed class CompressionGate(TimeProvider time)
{
    /// <summary>
    /// Bytes waiting in the socket that show the path is behind: any. A connection is one of several sharing a host's
    /// link (an origin's, a peer's uploads to its peers), so each socket's share of the queue is small; in the lab
    /// (4 clients, 25 Mbit/s) a 64 KiB threshold left runs raw and took 1.54 × Z/c, 16 KiB 1.33 ×, any byte 1.22 ×
    /// (UDPcast of the compressed stream: 1.20 ×). On loopback nothing waits and nothing is compressed.
    /// </summary>
    public const long MinBacklog = 1;

    public static readonly TimeSpan Sample = TimeSpan.FromMilliseconds(10);

    /// <summary>How far one sample moves the score: about 5 samples (50 ms) from one side of ½ to the other.</summary>
    private const double Step = 0.15;

    private double _score = 1;
    private long _scoredAt = time.GetTimestamp();

    public double Score => _score;

    /// <param name="backlog">
    /// Bytes waiting for the path (see <see cref="Wire.PeerConnection.SendBacklog"/>), asked of <paramref name="source"/>
    /// only when a sample is due: reading it is a system call, and runs are decided far more often than every 10 ms.
    /// </param>
    public bool ShouldCompress<TSource>(TSource source, Func<TSource, long> backlog)
    {
        long now = time.GetTimestamp();
        if ((now - _scoredAt) / (double)time.TimestampFrequency >= Sample.TotalSeconds)
        {
            _score += ((backlog(source) >= MinBacklog ? 1 : 0) - _score) * Step;
            _scoredAt = now;
        }
        return _score >= 0.5;
    }
}
