namespace BlockSwarm.Engine.Wire;

/// <summary>Buffering of a <see cref="StreamDuplexPipe"/>: how far each direction may run ahead before it pauses.</summary>
public sealed record PeerTransportOptions
{
    public static PeerTransportOptions Default { get; } = new();

    /// <summary>
    /// The socket pump stops reading once this many received bytes are unconsumed (the engine is behind,
    /// e.g. its cache is full); TCP flow control then slows the sender. Must exceed the largest frame
    /// (<see cref="MessageLimits.MaxFrameLength"/>), or a large frame could never complete.
    /// </summary>
    public long InputPauseThreshold { get; init; } = 4 * 1024 * 1024;

    /// <summary>Reading resumes below this many unconsumed bytes.</summary>
    public long InputResumeThreshold { get; init; } = 2 * 1024 * 1024;

    /// <summary>The send loop waits in FlushAsync once this many bytes are not yet on the socket (slow peer).</summary>
    public long OutputPauseThreshold { get; init; } = 4 * 1024 * 1024;

    /// <summary>Sending resumes below this many bytes.</summary>
    public long OutputResumeThreshold { get; init; } = 2 * 1024 * 1024;

    /// <summary>
    /// Smallest buffer handed to one socket read; one large read yields many frames. 256 KiB: a streaming peer
    /// fills it, so a GiB is 4096 reads and pipe flushes rather than 16384 (the loopback pump floor is ~15% lower
    /// with 256 KiB reads than with 64 KiB ones). Idle peers hold none (see <see cref="WaitForDataBeforeAllocating"/>).
    /// </summary>
    public int MinimumReadSize { get; init; } = 256 * 1024;

    /// <summary>
    /// Run the frame parser on the receive pump's thread as soon as bytes arrive, instead of scheduling it on the
    /// thread pool (one hop and one wake-up fewer per read). Safe because message handlers never block: they
    /// await back-pressure, which simply pauses the pump.
    /// </summary>
    public bool InlineReader { get; init; } = true;

    /// <summary>
    /// Smallest segment of the send pipe. Block messages (16 KiB + 13) are copied into it back to back, so
    /// a batch goes to the socket as a few large segments rather than many 4 KiB ones (the pipe's default).
    /// </summary>
    public int MinimumWriteSegmentSize { get; init; } = 64 * 1024;

    /// <summary>
    /// Do a zero-byte read first and rent the buffer only once data is there, so an idle peer holds no
    /// buffer (as Kestrel does); skipped right after a read that filled its buffer, when more is waiting anyway.
    /// Streams that do not support zero-byte reads simply return at once.
    /// </summary>
    public bool WaitForDataBeforeAllocating { get; init; } = true;

    /// <summary>
    /// Over a plain socket, let the connection write messages with gather sends (<see cref="IGatherSendTransport"/>):
    /// block payloads are handed to the kernel straight from the read cache instead of being copied into the send
    /// pipe first, and the send loop writes to the socket itself (no hop to a pump thread per batch).
    /// </summary>
    public bool GatherSend { get; init; } = true;

    /// <summary>
    /// Over a plain socket carrying a BitTorrent connection from its first byte, keep the socket's receive low-water
    /// mark (SO_RCVLOWAT) at the rest of the frame in progress (<see cref="FrameBoundaryTracker"/>), capped here:
    /// one wake-up per frame instead of one per TCP segment. 0 turns it off (any other protocol on the stream).
    /// </summary>
    public int FrameLowWaterMax { get; init; } = 64 * 1024;

    /// <summary>How long closing waits for queued bytes to reach the stream before giving up on them.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(2);
}
