namespace BlockSwarm.Engine.Swarm;

/// <summary>One block of a piece, as carried by REQUEST/CANCEL/REJECT (BEP 3, BEP 6).</summary>
public readonly record struct BlockRequest(int Piece, int Begin, int Length)
{
    /// <summary>"piece 3 bytes [16384, +16384)": how log lines and protocol errors name a block.</summary>
    public override string ToString() => $"piece {Piece} bytes [{Begin}, +{Length})";
}
