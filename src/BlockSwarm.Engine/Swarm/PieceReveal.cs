namespace BlockSwarm.Engine.Swarm;

/// <summary>
/// Progressive reveal, for an origin whose data is cheap to read only in order (pieces decompressed out of a
/// Clonezilla image stream): the origin announces pieces in stream order, a window of them at a time, and announces the
/// next one each time a revealed piece goes out for the first time. Peers can only ask for what was announced, so the
/// origin's reads stay near its decoding cursor whatever client asks (libtorrent, EZIO and BlockSwarm alike need no
/// extension for it); older pieces spread between the peers, who have them too. Like BEP 16 super-seeding, but
/// ordered for the source's sake. Thread-safe.
/// </summary>
public sealed class PieceReveal
{
    private readonly Lock _gate = new();
    private readonly Bitfield _served;
    private int _frontier;
    private int _unservedRevealed;

    /// <param name="pieceCount">Pieces in the torrent.</param>
    /// <param name="window">Revealed pieces not yet sent to anyone that the origin keeps announced: enough for every peer
    /// to fetch a different piece at once, and no more than the source keeps decoded ahead.</param>
    public PieceReveal(int pieceCount, int window)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pieceCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(window);
        PieceCount = pieceCount;
        Window = window;
        _served = new Bitfield(pieceCount);
        _frontier = Math.Min(window, pieceCount);
        _unservedRevealed = _frontier;
    }

    public int PieceCount { get; }
    public int Window { get; }

    /// <summary>Pieces [0, Frontier) are announced.</summary>
    public int Frontier { get { lock (_gate) return _frontier; } }

    public bool IsComplete { get { lock (_gate) return _frontier == PieceCount; } }

    public bool IsRevealed(int piece) { lock (_gate) return piece < _frontier; }

    /// <summary>The announced pieces, to send as a peer's initial BITFIELD.</summary>
    public Bitfield Snapshot()
    {
        var bits = new Bitfield(PieceCount);
        lock (_gate)
            for (int i = 0; i < _frontier; i++) bits[i] = true;
        return bits;
    }

    /// <summary>
    /// A revealed piece is being served. The first time a piece goes out, the next unrevealed piece is revealed (added to
    /// <paramref name="revealed"/>: announce it with HAVE to every peer) so the window of unserved pieces stays full.
    /// </summary>
    public void OnServed(int piece, List<int> revealed)
    {
        ArgumentNullException.ThrowIfNull(revealed);
        lock (_gate)
        {
            if ((uint)piece >= (uint)_frontier || _served[piece]) return;
            _served[piece] = true;
            _unservedRevealed--;
            while (_unservedRevealed < Window && _frontier < PieceCount)
            {
                revealed.Add(_frontier++);
                _unservedRevealed++;
            }
        }
    }
}
