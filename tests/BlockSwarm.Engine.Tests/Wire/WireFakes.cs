using System.Buffers;
using System.IO.Pipelines;
using BlockSwarm.Engine.Wire;

namespace BlockSwarm.Engine.Tests.Wire;

/// <summary>A manual clock: timers fire only inside <see cref="Advance"/>, in due order.</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private readonly List<ManualTimer> _timers = [];
    private long _now;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => Interlocked.Read(ref _now);
    public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch.AddTicks(GetTimestamp());

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        lock (_timers) _timers.Add(timer);
        timer.Change(dueTime, period);
        return timer;
    }

    public void Advance(TimeSpan by)
    {
        long target = GetTimestamp() + by.Ticks;
        while (true)
        {
            ManualTimer? next;
            lock (_timers)
                next = _timers.Where(t => t.Due is { } d && d <= target).OrderBy(t => t.Due).FirstOrDefault();
            if (next is null) break;
            Interlocked.Exchange(ref _now, Math.Max(GetTimestamp(), next.Due!.Value));
            next.Fire();
        }
        Interlocked.Exchange(ref _now, target);
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private long _period;

        public long? Due { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Due = dueTime == Timeout.InfiniteTimeSpan ? null : owner.GetTimestamp() + dueTime.Ticks;
            _period = period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks;
            return true;
        }

        public void Fire()
        {
            Due = _period > 0 ? Due + _period : null;
            callback(state);
        }

        public void Dispose()
        {
            Due = null;
            lock (owner._timers) owner._timers.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>Two connected in-memory transports.</summary>
internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;
    public PipeWriter Output { get; } = output;

    public static (DuplexPipe A, DuplexPipe B) CreatePair()
    {
        var ab = new Pipe();
        var ba = new Pipe();
        return (new DuplexPipe(ba.Reader, ab.Writer), new DuplexPipe(ab.Reader, ba.Writer));
    }
}

/// <summary>
/// A stream that hands out its canned input at most 1-3 bytes per read (seeded), so every frame and the
/// handshake arrive split in odd places; writes are collected.
/// </summary>
internal sealed class SlowStream(byte[] input, int seed) : Stream
{
    private readonly Random _random = new(seed);
    private int _position;

    public MemoryStream Written { get; } = new();

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = Math.Min(Math.Min(buffer.Length, _random.Next(1, 4)), input.Length - _position);
        input.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Write(byte[] buffer, int offset, int count)
    {
        lock (Written) Written.Write(buffer, offset, count);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>Records a copy of every message (the view itself dies when the handler returns).</summary>
internal sealed class RecordingHandler(Func<PeerConnection, RecordedMessage, ValueTask>? onMessage = null) : IPeerMessageHandler
{
    private readonly List<RecordedMessage> _messages = [];

    public IReadOnlyList<RecordedMessage> Messages
    {
        get
        {
            lock (_messages) return [.. _messages];
        }
    }

    public ValueTask OnMessageAsync(PeerConnection connection, PeerMessage message, CancellationToken cancellationToken)
    {
        var copy = new RecordedMessage(message.Kind, message.PieceIndex, message.Begin, message.Length, message.ExtendedId, message.Payload.ToArray());
        lock (_messages) _messages.Add(copy);
        return onMessage?.Invoke(connection, copy) ?? ValueTask.CompletedTask;
    }
}

internal sealed record RecordedMessage(MessageKind Kind, int PieceIndex, int Begin, int Length, byte ExtendedId, byte[] Payload);

/// <summary>Stands for a cache lease on a block: counts how often it is handed back.</summary>
internal sealed class CountingOwner : IDisposable
{
    private int _disposed;

    public int DisposeCount => Volatile.Read(ref _disposed);

    public void Dispose() => Interlocked.Increment(ref _disposed);
}
