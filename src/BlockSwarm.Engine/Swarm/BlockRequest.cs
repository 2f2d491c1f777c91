namespace BlockSwarm.Engine.Swarm;

/// <summary>One block of a piece, as carried by REQUEST/CANCEL/REJECT (BEP 3, BEP 6).</summary>
public readonly record struct BlockRequest(int Piece, int Begin, int Length);
