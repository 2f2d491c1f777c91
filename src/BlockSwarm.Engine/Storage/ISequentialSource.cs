namespace BlockSwarm.Engine.Storage;

/// <summary>
/// A storage capability: reads are cheap in piece order and costly far behind (the data is decompressed out of a
/// stream that can only be restarted at a few points). A complete torrent on such a storage reveals its pieces
/// progressively (<see cref="Swarm.PieceReveal"/>), so peers ask for them about in the order the source decodes them.
/// </summary>
public interface ISequentialSource
{
    /// <summary>
    /// Bytes the source keeps decoded behind its cursor: pieces up to that far back read without a restart. The reveal
    /// window is sized from it (about half of it, so requests for revealed pieces stay inside).
    /// </summary>
    long DecodedWindowBytes { get; }
}
