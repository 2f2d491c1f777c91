namespace BlockSwarm.Engine.Wire;

/// <summary>
/// The remote peer broke the wire protocol (bad handshake, oversized or malformed frame).
/// Closes that peer only; the engine never lets it escape a connection's loop.
/// </summary>
public sealed class PeerProtocolException : Exception
{
    public PeerProtocolException()
    {
    }

    public PeerProtocolException(string message) : base(message)
    {
    }

    public PeerProtocolException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
