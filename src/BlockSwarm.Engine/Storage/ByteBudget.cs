namespace BlockSwarm.Engine.Storage;

/// <summary>
/// A byte-counting semaphore for the write-back cache (one storage's, or shared by all the storages of a
/// <see cref="PieceMemory"/>). Acquirers wait in FIFO order while the budget is used up; a request larger than the
/// whole budget is admitted when nothing else is held, so one oversized piece cannot deadlock. A storage that fails
/// wakes its own waiters by cancelling them, leaving the budget usable for the others.
/// </summary>
internal sealed class ByteBudget
{
    private readonly Lock _lock = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _used;

    public ByteBudget(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
    }

    public long Capacity { get; }

    public long Used
    {
        get { lock (_lock) return _used; }
    }

    /// <summary>Takes <paramref name="bytes"/> if they fit now and nobody waits (never waits, never allocates).</summary>
    public bool TryAcquire(long bytes)
    {
        lock (_lock)
        {
            if (_waiters.Count != 0 || !Fits(bytes)) return false;
            _used += bytes;
            return true;
        }
    }

    public ValueTask AcquireAsync(long bytes, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_lock)
        {
            if (_waiters.Count == 0 && Fits(bytes))
            {
                _used += bytes;
                return ValueTask.CompletedTask;
            }
            if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled(cancellationToken);
            waiter = new Waiter(bytes);
            waiter.Node = _waiters.AddLast(waiter);
        }
        if (cancellationToken.CanBeCanceled)
            waiter.Registration = cancellationToken.Register(static (state, ct) =>
            {
                var (budget, w) = ((ByteBudget, Waiter))state!;
                budget.Cancel(w, ct);
            }, (this, waiter));
        return new ValueTask(waiter.Completion.Task);
    }

    public void Release(long bytes)
    {
        List<Waiter>? granted = null;
        lock (_lock)
        {
            _used -= bytes;
            while (_waiters.First is { } node && Fits(node.Value.Bytes))
            {
                _waiters.RemoveFirst();
                node.Value.Node = null;
                _used += node.Value.Bytes;
                (granted ??= []).Add(node.Value);
            }
        }
        // Completed outside the lock; continuations run asynchronously anyway.
        if (granted != null)
            foreach (var w in granted)
            {
                w.Registration.Dispose();
                w.Completion.TrySetResult();
            }
    }

    private bool Fits(long bytes) => _used + bytes <= Capacity || _used == 0;

    private void Cancel(Waiter w, CancellationToken ct)
    {
        lock (_lock)
        {
            // Already granted: the acquirer holds the bytes and will see success.
            if (w.Node == null) return;
            _waiters.Remove(w.Node);
            w.Node = null;
        }
        w.Completion.TrySetCanceled(ct);
        // Removing a head waiter may let the next ones in.
        Release(0);
    }

    private sealed class Waiter(long bytes)
    {
        public long Bytes { get; } = bytes;
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public LinkedListNode<Waiter>? Node { get; set; }
        public CancellationTokenRegistration Registration { get; set; }
    }
}
