namespace BlockSwarm.Engine.Wire;

/// <summary>Timing and batching of a <see cref="PeerConnection"/>.</summary>
public sealed record PeerConnectionOptions
{
    public static PeerConnectionOptions Default { get; } = new();

    /// <summary>BEP 3: send a keep-alive after this long without sending anything.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>A peer silent this long (not even a keep-alive) is dropped.</summary>
    public TimeSpan ReceiveTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>How often the idle timer looks at the two clocks above.</summary>
    public TimeSpan IdleCheckInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Both handshakes must be through within this time.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The send loop writes every queued message into the transport and flushes once (one syscall for many
    /// messages), or earlier when this many bytes are pending.
    /// </summary>
    public int FlushThreshold { get; init; } = 256 * 1024;
}
