namespace BlockSwarm.Engine.Wire;

/// <summary>How a connection ended: a value, so the engine logs it and drops the peer, never an unhandled exception.</summary>
public readonly record struct PeerConnectionResult(PeerCloseReason Reason, Exception? Error = null)
{
    public override string ToString() => Error is null ? Reason.ToString() : $"{Reason}: {Error.Message}";
}
