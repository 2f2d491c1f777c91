namespace BlockSwarm.Observability.Logging;

/// <summary>
/// Lines on their way to the writer: logging threads enqueue, one background thread writes and flushes per batch. The
/// queue is bounded; when the writer cannot keep up (a stopped terminal, a stuck pipe) loggers wait rather than lose
/// lines, since an operator's record of failures matters more than the speed of a process that logs that much.
/// </summary>
internal sealed class LogLineQueue : IDisposable
{
    private readonly TextWriter _output;
    private readonly int _capacity;
    private readonly Queue<string> _lines = new();
    private readonly Thread _writer;
    private bool _closed;

    public LogLineQueue(TextWriter output, int capacity = 4096)
    {
        _output = output;
        _capacity = capacity;
        _writer = new Thread(Run) { IsBackground = true, Name = "blockswarm-log" };
        _writer.Start();
        // SIGTERM (systemd stopping serve) ends the process without unwinding the command: write what is queued first.
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    private void OnProcessExit(object? sender, EventArgs e) => Dispose();

    public void Enqueue(string line)
    {
        lock (_lines)
        {
            while (_lines.Count >= _capacity && !_closed) Monitor.Wait(_lines);
            if (!_closed)
            {
                _lines.Enqueue(line);
                if (_lines.Count == 1) Monitor.PulseAll(_lines);
                return;
            }
        }
        Write(line); // logged after Dispose (a late callback): written straight away, never dropped
        Flush();
    }

    private void Run()
    {
        var batch = new List<string>();
        while (true)
        {
            lock (_lines)
            {
                while (_lines.Count == 0 && !_closed) Monitor.Wait(_lines);
                if (_lines.Count == 0) return; // closed and drained
                while (_lines.Count > 0) batch.Add(_lines.Dequeue());
                Monitor.PulseAll(_lines); // room again for loggers waiting on a full queue
            }
            foreach (var line in batch) Write(line);
            Flush();
            batch.Clear();
        }
    }

    private void Write(string line)
    {
        try { _output.Write(line); }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }

    private void Flush()
    {
        try { _output.Flush(); }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }

    /// <summary>Writes every queued line, then returns (bounded: a writer stuck for 5 s is given up on).</summary>
    public void Dispose()
    {
        lock (_lines)
        {
            if (_closed) return;
            _closed = true;
            Monitor.PulseAll(_lines);
        }
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        _writer.Join(TimeSpan.FromSeconds(5));
        Flush();
    }
}
