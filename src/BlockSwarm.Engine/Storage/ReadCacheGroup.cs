namespace BlockSwarm.Engine.Storage;

/// <summary>
/// The byte budget and recency order that several <see cref="ReadCache"/>s share: one lock, one LRU list across
/// every torrent's cached pieces, so the budget follows whichever torrents peers are asking for and the sum never
/// exceeds it. A storage opened without a shared <see cref="PieceMemory"/> gets a group of its own.
/// </summary>
internal sealed class ReadCacheGroup(long capacity)
{
    /// <summary>Guards every member cache's entries and the list below (cache operations are short: no I/O under it).</summary>
    public Lock Gate { get; } = new();

    public long Capacity { get; } = capacity;

    /// <summary>Every cached piece of every member cache, most recently used first. Under <see cref="Gate"/>.</summary>
    public LinkedList<ReadCache.Entry> Lru { get; } = new();

    /// <summary>
    /// Bytes of piece buffers the member caches hold from the pool: cached pieces, evicted pieces a reader still pins,
    /// and fills under way. Under <see cref="Gate"/>. A fill that would take it past <see cref="Capacity"/> (after
    /// evicting every unpinned piece) is not made: the request is read straight from the device instead.
    /// </summary>
    public long Outstanding { get; set; }

    /// <summary>Bytes cached now. Written under <see cref="Gate"/>.</summary>
    public long Bytes
    {
        get => Volatile.Read(ref _bytes);
        set => Volatile.Write(ref _bytes, value);
    }

    private long _bytes;
}
