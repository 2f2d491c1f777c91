namespace BlockSwarm.Engine.Wire;

/// <summary>Why a peer connection's loops ended.</summary>
public enum PeerCloseReason
{
    /// <summary>We closed it: <see cref="PeerConnection.Close"/> or the caller's token.</summary>
    LocalClose,

    /// <summary>The remote end closed the stream between frames.</summary>
    RemoteClose,

    /// <summary>The peer broke the protocol (a <see cref="PeerProtocolException"/>, from the reader or the handler).</summary>
    ProtocolViolation,

    /// <summary>Nothing arrived for <see cref="PeerConnectionOptions.ReceiveTimeout"/>.</summary>
    Timeout,

    /// <summary>The stream failed (reset, broken pipe, TLS error).</summary>
    TransportError,

    /// <summary>The message handler threw something other than <see cref="PeerProtocolException"/>: an engine bug.</summary>
    HandlerError,
}
