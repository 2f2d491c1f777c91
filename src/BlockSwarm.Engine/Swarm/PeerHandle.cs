namespace BlockSwarm.Engine.Swarm;

/// <summary>
/// Opaque key for a connected peer. The engine hands one out per connection and maps it to the
/// socket; swarm logic never sees a connection, so it stays testable without sockets.
/// </summary>
public readonly record struct PeerHandle(int Value)
{
    public override string ToString() => $"peer#{Value}";
}
