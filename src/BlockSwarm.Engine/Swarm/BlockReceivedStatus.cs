namespace BlockSwarm.Engine.Swarm;

/// <summary>What <see cref="SwarmState.BlockReceived"/> made of an incoming PIECE message.</summary>
public enum BlockReceivedStatus
{
    /// <summary>Stored; the piece still misses blocks.</summary>
    Accepted,

    /// <summary>Stored and it was the last missing block: hash the piece now.</summary>
    PieceComplete,

    /// <summary>Already had this block (endgame race or a late answer): drop the data.</summary>
    Duplicate,

    /// <summary>A block we never asked for in a piece we are not downloading: drop the data.</summary>
    Unrequested,

    /// <summary>Offset/length do not match the block grid or the piece index is out of range: protocol violation.</summary>
    Invalid,
}
