namespace BlockSwarm.Engine.Swarm;

/// <summary>What <see cref="SwarmState"/> knows about one peer. Touched only under its lock.</summary>
internal sealed class PeerSwarmState(int pieceCount, TimeProvider time)
{
    public Bitfield Have { get; } = new(pieceCount);
    public bool ChokingUs { get; set; } = true;

    /// <summary>BEP 6 allowed-fast pieces: may be requested while choked.</summary>
    public HashSet<int>? AllowedFast { get; set; }

    /// <summary>Piece → timestamp until which we do not ask this peer for it (it rejected, or sent us a bad copy).</summary>
    public Dictionary<int, long>? Backoff { get; set; }

    public int Outstanding { get; set; }

    /// <summary>When the peer started owing us data without delivering any since; null when it owes nothing.</summary>
    public long? OwedSince { get; set; }

    /// <summary>Behind another switch: asked only for pieces no local peer has.</summary>
    public bool Remote { get; init; }

    /// <summary>The local peer's rendezvous key (<see cref="SwarmState.RendezvousKeyOf"/>); 0 = it takes no part in sharing the imports.</summary>
    public ulong Key { get; init; }

    /// <summary>Pieces this local peer said it imports (<see cref="SwarmState.OnImporting"/>): each is heeded once.</summary>
    public Bitfield? ImportClaims { get; set; }

    public bool Snubbed { get; set; }
    public bool Banned { get; set; }
    public bool HasDelivered { get; set; }
    public RateMeter Download { get; } = new(time);
}
