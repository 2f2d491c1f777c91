namespace BlockSwarm.Engine.Wire;

/// <summary>
/// What the engine implements to receive a peer's messages. One call per message, in wire order, never
/// concurrently for one connection. The <see cref="PeerMessage"/> and its <see cref="PeerMessage.Payload"/>
/// point into the receive buffer and stay valid until the returned task completes; copy what you keep
/// (a piece block: once, into the piece buffer). While the task is pending no further frame is read, so a
/// handler that awaits (cache full, disk behind) applies back-pressure all the way to the sender's TCP window.
/// Keep-alive, port and unknown messages are not delivered. Throw <see cref="PeerProtocolException"/> to
/// close this peer as a protocol violation (e.g. a piece that was never requested).
/// </summary>
public interface IPeerMessageHandler
{
    ValueTask OnMessageAsync(PeerConnection connection, PeerMessage message, CancellationToken cancellationToken);
}
