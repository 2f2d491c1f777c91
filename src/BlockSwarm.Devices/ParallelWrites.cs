using System.Runtime.ExceptionServices;

namespace BlockSwarm.Devices;

/// <summary>
/// Runs the items of a batch of blocking writes on up to <see cref="Width"/> threads at once: the caller and threads of
/// its own (started on first use, parked between batches), so several O_DIRECT writes are in flight without blocking
/// thread-pool threads, which the network needs. <see cref="Run"/> returns once every item is done; an item's failure
/// does not stop the others, and the first one is rethrown.
/// </summary>
internal sealed class ParallelWrites : IDisposable
{
    private readonly SemaphoreSlim _wake = new(0);
    private readonly List<Thread> _threads = [];
    private readonly string _name;
    private volatile Batch? _current;
    private volatile bool _disposed;

    public ParallelWrites(int width, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        Width = width;
        _name = name;
    }

    public int Width { get; }

    /// <summary>Runs <paramref name="body"/>(0 … <paramref name="count"/> − 1), as many at once as <see cref="Width"/> allows.</summary>
    public void Run(int count, Action<int> body)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0) return;
        var batch = new Batch(count, body);
        int helpers = Math.Min(Width, count) - 1;
        if (helpers > 0)
        {
            EnsureThreads(helpers);
            _current = batch;
            _wake.Release(helpers);
        }
        batch.Work();
        batch.Done.Wait();
        batch.Done.Dispose();
        if (batch.Error is { } error) ExceptionDispatchInfo.Throw(error);
    }

    private void EnsureThreads(int helpers)
    {
        while (_threads.Count < helpers)
        {
            var t = new Thread(Loop) { IsBackground = true, Name = $"{_name} writer {_threads.Count + 1}" };
            _threads.Add(t);
            t.Start();
        }
    }

    private void Loop()
    {
        while (true)
        {
            _wake.Wait();
            if (_disposed) return;
            // A thread woken late (its batch already done) finds nothing left to take and parks again.
            _current?.Work();
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_threads.Count > 0) _wake.Release(_threads.Count);
    }

    private sealed class Batch(int count, Action<int> body)
    {
        private readonly int _count = count;
        private int _next;
        private int _pending = count;

        public ManualResetEventSlim Done { get; } = new();
        public Exception? Error { get; private set; }

        public void Work()
        {
            int i;
            while ((i = Interlocked.Increment(ref _next) - 1) < _count)
            {
                try
                {
                    body(i);
                }
                catch (Exception ex)
                {
                    lock (this) Error ??= ex;
                }
                if (Interlocked.Decrement(ref _pending) == 0) Done.Set();
            }
        }
    }
}
