namespace BlockSwarm.Engine.Compression;

/// <summary>
/// One connection's answer to "is CPU spare for compressing?": yes while the network between us and the peer is the
/// bottleneck, that is while bytes wait in the socket for the congestion window, and not because the peer is slow to
/// read (then the peer's CPU or disk is the bottleneck, and decoding would only add to its work). While this process is
/// the bottleneck (loopback, 10 GbE with a slow CPU) the socket's queue is empty and runs go out raw.
/// </summary>
/// <remarks>
/// The evidence is smoothed: at most every <see cref="Sample"/> the socket's state moves a score a step toward 1
/// (backlog) or 0 (none), and runs are compressed while it is at least ½. An upload loop queues a burst of runs faster
/// than the kernel's queue changes, so one look per burst would decide for the whole burst; a path-bound connection
/// keeps its score through a lull (the peer's next requests on their way), and a momentary backlog on a fast path
/// (slow start on loopback) does not turn compression on. The receive-window share is measured over
/// <see cref="WindowSample"/>.
/// </remarks>
internal sealed class CompressionGate(TimeProvider time)
{
    /// <summary>Bytes waiting in the socket that show the network is behind.</summary>
    public const long MinBacklog = 64 * 1024;

    public static readonly TimeSpan Sample = TimeSpan.FromMilliseconds(10);
    public static readonly TimeSpan WindowSample = TimeSpan.FromMilliseconds(100);

    /// <summary>How far one sample moves the score: about 5 samples (50 ms) of backlog from 0 to ½.</summary>
    private const double Step = 0.15;

    private double _score;
    private long _scoredAt;
    private long _windowAt;
    private long _rwndAtSample = -1;
    private bool _receiverBound;

    public double Score => _score;

    /// <param name="backlog">Bytes waiting for the network (see <see cref="Wire.PeerConnection.SendState"/>).</param>
    /// <param name="receiveWindowLimitedMicros">The socket's total time limited by the peer's receive window; -1 unknown.</param>
    public bool ShouldCompress(long backlog, long receiveWindowLimitedMicros)
    {
        long now = time.GetTimestamp();
        double sinceWindow = (now - _windowAt) / (double)time.TimestampFrequency;
        if (receiveWindowLimitedMicros >= 0 && (_rwndAtSample < 0 || sinceWindow >= WindowSample.TotalSeconds))
        {
            // Limited by the peer's window for more than half of the last sample: the peer is the bottleneck.
            if (_rwndAtSample >= 0) _receiverBound = (receiveWindowLimitedMicros - _rwndAtSample) / 1e6 > sinceWindow / 2;
            _rwndAtSample = receiveWindowLimitedMicros;
            _windowAt = now;
        }
        if ((now - _scoredAt) / (double)time.TimestampFrequency >= Sample.TotalSeconds)
        {
            _score += ((backlog >= MinBacklog && !_receiverBound ? 1 : 0) - _score) * Step;
            _scoredAt = now;
        }
        return _score >= 0.5;
    }
}
