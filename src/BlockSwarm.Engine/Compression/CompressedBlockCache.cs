namespace BlockSwarm.Engine.Compression;

/// <summary>
/// Compressed runs (whole <c>bs_zstd</c> payloads) kept for uploads, shared by every torrent of an engine, least
/// recently used evicted first, bounded by <see cref="Storage.PieceMemory.CompressedCacheCapacity"/>. What lets a run be
/// compressed once in the whole swarm: the origin keeps what it compressed, and every peer keeps what it received
/// compressed (once its piece verified) and forwards those bytes instead of compressing them again.
/// </summary>
internal sealed class CompressedBlockCache(long capacity)
{
    private readonly record struct Key(object Owner, int Piece, int Begin, int Length);

    private readonly Lock _gate = new();
    private readonly Dictionary<Key, LinkedListNode<(Key Key, byte[] Payload)>> _entries = [];
    private readonly LinkedList<(Key Key, byte[] Payload)> _lru = new();
    private long _bytes;

    public long Capacity { get; } = capacity;

    public long Bytes
    {
        get
        {
            lock (_gate) return _bytes;
        }
    }

    public int Count
    {
        get
        {
            lock (_gate) return _entries.Count;
        }
    }

    public byte[]? TryGet(object owner, int piece, int begin, int length)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(new Key(owner, piece, begin, length), out var node)) return null;
            _lru.Remove(node);
            _lru.AddFirst(node);
            return node.Value.Payload;
        }
    }

    /// <summary>Keeps <paramref name="payload"/> (not copied: it must never change); evicts the oldest entries to make room.</summary>
    public void Add(object owner, int piece, int begin, int length, byte[] payload)
    {
        if (payload.Length > Capacity) return;
        var key = new Key(owner, piece, begin, length);
        lock (_gate)
        {
            if (_entries.ContainsKey(key)) return;
            while (_bytes + payload.Length > Capacity && _lru.Last is { } oldest) Remove(oldest);
            _entries[key] = _lru.AddFirst((key, payload));
            _bytes += payload.Length;
        }
    }

    /// <summary>Drops every entry of <paramref name="owner"/> (a torrent that stops).</summary>
    public void RemoveOwner(object owner)
    {
        lock (_gate)
        {
            for (var node = _lru.First; node != null;)
            {
                var next = node.Next;
                if (ReferenceEquals(node.Value.Key.Owner, owner)) Remove(node);
                node = next;
            }
        }
    }

    private void Remove(LinkedListNode<(Key Key, byte[] Payload)> node)
    {
        _lru.Remove(node);
        _entries.Remove(node.Value.Key);
        _bytes -= node.Value.Payload.Length;
    }
}
