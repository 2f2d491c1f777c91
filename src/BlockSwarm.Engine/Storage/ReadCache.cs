using System.Buffers;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// The seeder's shared read cache: whole pieces, least recently used evicted, bounded in
/// bytes. A miss reads a run of consecutive pieces (at least the read-ahead size) with one
/// scatter read per device run, so serving many peers is not one small pread per request.
/// Concurrent misses on the same piece wait for one fill. Entries are reference counted so
/// an eviction never returns a buffer to the pool while a reader still copies from it.
/// </summary>
internal sealed class ReadCache : IDisposable
{
    /// <summary>Reads pieces [first, first + buffers.Count) into the buffers (one per piece).</summary>
    public delegate void FillPieces(int first, IReadOnlyList<Memory<byte>> buffers);

    /// <summary>Reads [offset, offset + destination.Length) of a piece straight from the device (no cache).</summary>
    public delegate void ReadDirect(int piece, int offset, Memory<byte> destination);

    private readonly ReadCacheGroup _group;
    private readonly Lock _lock;
    private readonly Dictionary<int, Entry> _entries = [];
    private readonly LinkedList<Entry> _lru;
    private readonly Dictionary<int, TaskCompletionSource> _inFlight = [];
    private readonly int _runPieces;
    private readonly int _pieceCount;
    private readonly Func<int, int> _pieceLength;
    private readonly FillPieces _fill;
    private readonly ReadDirect _direct;
    private readonly ArrayPool<byte> _pool;
    private long _bytes;
    private long _epoch;
    private bool _disposed;

    /// <param name="group">The budget and LRU order shared with other torrents' caches (or this cache's own).</param>
    public ReadCache(ReadCacheGroup group, int pieceLength, int pieceCount, Func<int, int> getPieceLength, int readAheadBytes, ArrayPool<byte> pool, FillPieces fill,
        ReadDirect direct)
    {
        _direct = direct;
        _group = group;
        _lock = group.Gate;
        _lru = group.Lru;
        long budget = group.Capacity;
        _pieceCount = pieceCount;
        _pieceLength = getPieceLength;
        _pool = pool;
        _fill = fill;
        // At least the read-ahead size per miss, but never more than a quarter of the cache,
        // so one fill cannot flush everything other peers are reading.
        int want = Math.Max(1, (int)Math.Min(int.MaxValue, (readAheadBytes + (long)pieceLength - 1) / pieceLength));
        int cap = Math.Max(1, (int)Math.Min(int.MaxValue, budget / 4 / pieceLength));
        _runPieces = Math.Min(want, cap);
        Enabled = budget >= MinPieces * (long)pieceLength;
    }

    /// <summary>
    /// Pieces the budget must hold for caching to pay. A one-piece cache thrashes as soon as two peers ask for blocks
    /// of different pieces: each 16 KiB upload refills a whole piece (16 MiB with Clonezilla's pieces), and once the
    /// piece pool is at its bound every refill is a new large-object array the GC reclaims late (an EZIO client daemon
    /// with --cache-size 64, whose read share is one 16 MiB piece, is the case). Below this, blocks are read directly.
    /// </summary>
    public const int MinPieces = 2;

    /// <summary>False when the budget cannot hold <see cref="MinPieces"/> pieces; callers then read directly.</summary>
    public bool Enabled { get; }

    /// <summary>Bytes this cache holds (its share of the group's).</summary>
    public long Bytes
    {
        get { lock (_lock) return _bytes; }
    }

    private long _hits;
    private long _misses;

    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);

    public async ValueTask ReadAsync(int piece, int offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        while (true)
        {
            Entry? hit = null;
            Task? wait = null;
            TaskCompletionSource? mine = null;
            int first = piece, count = 0;
            long epoch;
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                epoch = _epoch;
                if (_entries.TryGetValue(piece, out hit))
                {
                    hit.Refs++;
                    _lru.Remove(hit.Node);
                    _lru.AddFirst(hit.Node);
                }
                else if (_inFlight.TryGetValue(piece, out var pending))
                {
                    wait = pending.Task;
                }
                else
                {
                    count = 1;
                    while (count < _runPieces && first + count < _pieceCount
                           && !_entries.ContainsKey(first + count) && !_inFlight.ContainsKey(first + count))
                        count++;
                    long fill = 0;
                    for (int p = first; p < first + count; p++) fill += _pieceLength(p);
                    if (MakeRoomLocked(fill))
                    {
                        _group.Outstanding += fill;
                        mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        for (int p = first; p < first + count; p++) _inFlight[p] = mine;
                    }
                }
            }
            if (hit != null)
            {
                Interlocked.Increment(ref _hits);
                try
                {
                    hit.Buffer.AsMemory(offset, destination.Length).CopyTo(destination);
                }
                finally
                {
                    Release(hit);
                }
                return;
            }
            if (wait != null)
            {
                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            Interlocked.Increment(ref _misses);
            if (mine == null)
            {
                // Readers pin more than the budget (a 16 KiB request pins its whole piece): no fill, no caching.
                _direct(piece, offset, destination);
                return;
            }
            FillAndCopy(first, count, epoch, mine, offset, destination);
            return;
        }
    }

    /// <summary>
    /// On a hit, pins the cached piece and returns [offset, offset + length) of it without copying; disposing the
    /// lease unpins it (an evicted piece's buffer goes back to the pool only when its last lease is gone). Null on a miss.
    /// </summary>
    public IMemoryOwner<byte>? TryLease(int piece, int offset, int length)
    {
        Entry? hit;
        lock (_lock)
        {
            if (_disposed || !_entries.TryGetValue(piece, out hit)) return null;
            hit.Refs++;
            _lru.Remove(hit.Node);
            _lru.AddFirst(hit.Node);
        }
        Interlocked.Increment(ref _hits);
        return new Lease(this, hit, offset, length);
    }

    private sealed class Lease(ReadCache cache, Entry entry, int offset, int length) : IMemoryOwner<byte>
    {
        private int _released;

        public Memory<byte> Memory { get; } = entry.Buffer.AsMemory(offset, length);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) cache.Release(entry);
        }
    }

    private void FillAndCopy(int first, int count, long epoch, TaskCompletionSource mine, int offset, Memory<byte> destination)
    {
        var buffers = new byte[count][];
        var memories = new Memory<byte>[count];
        for (int i = 0; i < count; i++)
        {
            buffers[i] = _pool.Rent(_pieceLength(first + i));
            memories[i] = buffers[i].AsMemory(0, _pieceLength(first + i));
        }
        Entry? requested = null;
        bool inserted = false;
        try
        {
            _fill(first, memories);
            lock (_lock)
            {
                // A write (or invalidation) during the read may have raced the data we read:
                // serve this request from it, but cache nothing.
                if (epoch == _epoch && !_disposed)
                {
                    for (int i = 0; i < count; i++)
                    {
                        var e = new Entry(this, first + i, buffers[i], memories[i].Length);
                        e.Node = _lru.AddFirst(e);
                        _entries[e.Piece] = e;
                        _bytes += e.Length;
                        _group.Bytes += e.Length;
                        if (i == 0)
                        {
                            e.Refs = 1;
                            requested = e;
                        }
                    }
                    inserted = true;
                    EvictLocked();
                }
            }
            memories[0].Slice(offset, destination.Length).CopyTo(destination);
        }
        finally
        {
            lock (_lock)
            {
                for (int p = first; p < first + count; p++) _inFlight.Remove(p);
            }
            // Waiters retry: they find the entries, or fill themselves after a failure.
            mine.TrySetResult();
            if (requested != null) Release(requested);
            if (!inserted)
            {
                lock (_lock)
                    for (int i = 0; i < count; i++) _group.Outstanding -= _pieceLength(first + i);
                foreach (var b in buffers) _pool.Return(b);
            }
        }
    }

    /// <summary>Drops a piece about to be (re)written, and makes in-flight fills discard their result.</summary>
    public void Invalidate(int piece)
    {
        byte[]? free = null;
        lock (_lock)
        {
            _epoch++;
            if (_entries.Remove(piece, out var e))
                free = DetachLocked(e);
        }
        if (free != null) _pool.Return(free);
    }

    /// <summary>Evicts the group's least recently used pieces, whichever cache holds them, until the group fits its budget.</summary>
    private void EvictLocked()
    {
        while (_group.Bytes > _group.Capacity && _lru.Last is { } node)
        {
            var owner = node.Value.Owner;
            owner._entries.Remove(node.Value.Piece);
            // A pool takes no lock of ours, so returning under the gate cannot deadlock.
            if (owner.DetachLocked(node.Value) is { } free) owner._pool.Return(free);
        }
    }

    private byte[]? DetachLocked(Entry e)
    {
        _lru.Remove(e.Node);
        _bytes -= e.Length;
        _group.Bytes -= e.Length;
        e.Evicted = true;
        if (e.Refs != 0) return null;
        _group.Outstanding -= e.Length;
        return e.Buffer;
    }

    /// <summary>
    /// Whether a fill of <paramref name="bytes"/> fits the budget once the least recently used unpinned pieces (of any
    /// member cache) are evicted; evicts them as needed. Pinned pieces stay: their buffers cannot go back yet.
    /// </summary>
    private bool MakeRoomLocked(long bytes)
    {
        var node = _lru.Last;
        while (_group.Outstanding + bytes > _group.Capacity && node != null)
        {
            var prev = node.Previous;
            var e = node.Value;
            if (e.Refs == 0)
            {
                e.Owner._entries.Remove(e.Piece);
                if (e.Owner.DetachLocked(e) is { } free) e.Owner._pool.Return(free);
            }
            node = prev;
        }
        return _group.Outstanding + bytes <= _group.Capacity;
    }

    private void Release(Entry e)
    {
        bool free;
        lock (_lock)
        {
            e.Refs--;
            free = e.Refs == 0 && e.Evicted;
            if (free) _group.Outstanding -= e.Length;
        }
        if (free) e.Owner._pool.Return(e.Buffer);
    }

    public void Dispose()
    {
        List<byte[]> free = [];
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var e in _entries.Values.ToList())
            {
                _entries.Remove(e.Piece);
                if (DetachLocked(e) is { } b) free.Add(b);
            }
        }
        foreach (var b in free) _pool.Return(b);
    }

    /// <summary>One cached piece; lives in its cache's dictionary and in the group's LRU list.</summary>
    internal sealed class Entry(ReadCache owner, int piece, byte[] buffer, int length)
    {
        public ReadCache Owner { get; } = owner;
        public int Piece { get; } = piece;
        public byte[] Buffer { get; } = buffer;
        public int Length { get; } = length;
        public int Refs { get; set; }
        public bool Evicted { get; set; }
        public LinkedListNode<Entry> Node { get; set; } = null!;
    }
}
