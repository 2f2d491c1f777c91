namespace BlockSwarm.Engine.Swarm;

/// <summary>
/// Adaptive request pipelining: how many block requests to keep outstanding at one peer.
/// Enough to cover <see cref="TargetLatency"/> worth of data at the measured rate, which is far
/// above the bandwidth-delay product of a LAN and also hides disk latency on the sender;
/// clamped so a slow peer cannot hoard blocks and a fast one is not starved.
/// </summary>
public sealed record RequestPipeline
{
    /// <summary>
    /// How much time's worth of data to keep in flight. 250 ms: still hundreds of LAN round trips and disk reads, and the
    /// queue a new piece waits behind at each uploader on its way through a swarm (1 s made every hop wait a second:
    /// in the simulator a flat room of 100 took 1.78 × F/c with 1 s and 1.60 with 250 ms).
    /// </summary>
    public TimeSpan TargetLatency { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Depth used before anything is measured: generous, a LAN peer is usually fast.</summary>
    public int InitialDepth { get; init; } = 64;

    public int MinDepth { get; init; } = 16;

    /// <summary>1024 blocks = 16 MiB in flight: about 13 ms of 10 GbE, or one large piece.</summary>
    public int MaxDepth { get; init; } = 1024;

    /// <summary>Queue depth for a peer delivering <paramref name="bytesPerSecond"/>; null rate = not measured yet.</summary>
    public int DepthFor(double? bytesPerSecond)
    {
        if (bytesPerSecond is not { } rate) return InitialDepth;
        double blocks = rate * TargetLatency.TotalSeconds / SwarmOptions.BlockSize;
        if (double.IsNaN(blocks)) return MinDepth;
        return (int)Math.Clamp(Math.Ceiling(blocks), MinDepth, MaxDepth);
    }
}
