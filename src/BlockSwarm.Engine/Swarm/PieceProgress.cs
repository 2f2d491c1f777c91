namespace BlockSwarm.Engine.Swarm;

/// <summary>
/// Block-level bookkeeping of one piece being downloaded. Arrays are sized for a full piece and
/// the object is pooled, so starting a piece does not allocate in steady state.
/// Owned by <see cref="SwarmState"/>; touched only under its lock.
/// </summary>
internal sealed class PieceProgress
{
    public PieceProgress(int maxBlocks, int maxRequestsPerBlock)
    {
        MaxRequestsPerBlock = maxRequestsPerBlock;
        IsReceived = new bool[maxBlocks];
        RequestCount = new byte[maxBlocks];
        DeliveredBy = new PeerHandle[maxBlocks];
        Requesters = new PeerHandle[maxBlocks * maxRequestsPerBlock];
        RequestedAt = new long[maxBlocks * maxRequestsPerBlock];
    }

    public int MaxRequestsPerBlock { get; }
    public int Piece { get; private set; }
    public int Blocks { get; private set; }
    public int ReceivedCount { get; set; }

    /// <summary>Lowest block index that may be neither received nor requested; a scan hint only.</summary>
    public int FirstFree { get; set; }

    public bool[] IsReceived { get; }
    public byte[] RequestCount { get; }
    public PeerHandle[] DeliveredBy { get; }

    /// <summary>Requesters of block b live at [b*MaxRequestsPerBlock, b*MaxRequestsPerBlock + RequestCount[b]).</summary>
    public PeerHandle[] Requesters { get; }
    public long[] RequestedAt { get; }

    public bool IsFullyReceived => ReceivedCount == Blocks;

    public void Reset(int piece, int blocks)
    {
        Piece = piece;
        Blocks = blocks;
        ResetBlocks();
    }

    public void ResetBlocks()
    {
        ReceivedCount = 0;
        FirstFree = 0;
        Array.Clear(IsReceived, 0, Blocks);
        Array.Clear(RequestCount, 0, Blocks);
        Array.Clear(DeliveredBy, 0, Blocks);
    }

    public bool IsRequestedBy(int block, PeerHandle peer)
    {
        int baseIdx = block * MaxRequestsPerBlock;
        for (int i = 0; i < RequestCount[block]; i++)
            if (Requesters[baseIdx + i] == peer) return true;
        return false;
    }

    public void AddRequester(int block, PeerHandle peer, long now)
    {
        int slot = block * MaxRequestsPerBlock + RequestCount[block];
        Requesters[slot] = peer;
        RequestedAt[slot] = now;
        RequestCount[block]++;
    }

    /// <summary>Removes the requester at position <paramref name="index"/> of the block (swap with last).</summary>
    public void RemoveRequesterAt(int block, int index)
    {
        int baseIdx = block * MaxRequestsPerBlock;
        int last = RequestCount[block] - 1;
        Requesters[baseIdx + index] = Requesters[baseIdx + last];
        RequestedAt[baseIdx + index] = RequestedAt[baseIdx + last];
        RequestCount[block] = (byte)last;
    }
}
