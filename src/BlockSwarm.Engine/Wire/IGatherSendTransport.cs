using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Wire;

/// <summary>
/// A transport that can also write buffers it does not own straight to its socket in one gather write
/// (<c>sendmsg</c>), so block payloads leased from the read cache go out without first being copied into the
/// send pipe. A <see cref="PeerConnection"/> that uses it sends everything through it, the handshake included,
/// and nothing through <see cref="System.IO.Pipelines.IDuplexPipe.Output"/>, so the two paths cannot reorder bytes.
/// Streams that are not plain sockets (TLS, a swarm-key wrapper) simply do not offer it and keep the pipe path.
/// </summary>
public interface IGatherSendTransport
{
    /// <summary>False when gather sends are not possible (not a plain socket, or turned off): use the pipe.</summary>
    bool SupportsGatherSend { get; }

    /// <summary>
    /// Writes every byte of <paramref name="buffers"/>, in order; completes once the socket has taken them all (the
    /// buffers may then be reused). Once <paramref name="cancellationToken"/> fires, a send in progress may still
    /// finish for up to the transport's close timeout, after which the transport is closed and the send fails.
    /// </summary>
    ValueTask SendAsync(IList<ArraySegment<byte>> buffers, CancellationToken cancellationToken);

    /// <summary>True when <see cref="SendFileAsync"/> works (a plain TCP socket, or a secret swarm's secure channel).</summary>
    bool SupportsFileSend { get; }

    /// <summary>
    /// Writes <paramref name="prefix"/> (one gather write), then the file run with <c>sendfile</c> (a secure channel reads
    /// it into its records instead, to encrypt it there); completes once the socket took every byte. Cancellation behaves
    /// as for <see cref="SendAsync"/>.
    /// </summary>
    ValueTask SendFileAsync(IList<ArraySegment<byte>> prefix, FileRun run, CancellationToken cancellationToken);

    /// <summary>
    /// Holds partial TCP segments back while true (TCP_CORK), so a header sent just before a file run shares the
    /// run's first segment; set false when nothing more is queued, which sends what is held at once.
    /// </summary>
    void SetCork(bool on);

    /// <summary>Bytes the socket holds that the kernel has not sent yet; false when the kernel cannot say.</summary>
    bool TryGetUnsentBytes(out long unsent);
}
