using System.Buffers;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Storage;

// The writer: one task drains the queue in batches, sorts them by device offset, merges device-adjacent slices into
// gather writes inside the layout's extents, fsyncs on flush, and stops the storage on the first failure.
public abstract partial class MappedPieceStorage
{
    private async Task WriterLoopAsync()
    {
        var batch = new List<QueueItem>();
        var segments = new List<Segment>();
        var slices = new List<DeviceSlice>();
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            long bytes = 0;
            TaskCompletionSource? flush = null;
            while (bytes < _options.MaxWriteBatchBytes && reader.TryRead(out var item))
            {
                if (item.Flush != null)
                {
                    flush = item.Flush;
                    break;
                }
                batch.Add(item);
                bytes += item.Length;
            }
            try
            {
                if (Volatile.Read(ref _fault) is { } fault) throw fault;
                if (batch.Count > 0) WriteBatch(batch, segments, slices);
                // Buffers go back before a flush in the same round completes: whoever awaited FlushAsync may count them.
                ReleaseBatch(batch);
                if (flush != null)
                {
                    Bitfield covered;
                    lock (_stateLock) covered = _written.Clone();
                    _device.Flush();
                    Interlocked.Increment(ref _flushes);
                    // Only pieces written before this fsync are durable now.
                    lock (_stateLock)
                        for (int i = covered.NextSet(0); i >= 0; i = covered.NextSet(i + 1))
                            _durable[i] = true;
                    flush.TrySetResult();
                }
            }
            catch (Exception ex)
            {
                var fault = SetFault(ex, batch);
                flush?.TrySetException(fault);
            }
            finally
            {
                ReleaseBatch(batch);
            }
        }
    }

    private void WriteBatch(List<QueueItem> batch, List<Segment> segments, List<DeviceSlice> slices)
    {
        segments.Clear();
        foreach (var item in batch)
        {
            slices.Clear();
            _stream.MapRange((long)item.Piece * PieceLength, item.Length, slices);
            ReadOnlyMemory<byte> mem = item.Data!.Memory;
            foreach (var s in slices)
                segments.Add(new Segment(s.DeviceOffset, mem.Slice(s.BufferOffset, s.Length)));
        }
        // Device order turns random piece arrival into sequential, mergeable writes.
        segments.Sort(static (a, b) => a.DeviceOffset.CompareTo(b.DeviceOffset));
        var runs = new List<WriteRun>();
        long bytes = 0;
        int i = 0;
        while (i < segments.Count)
        {
            long start = segments[i].DeviceOffset;
            long end = start;
            var run = new List<ReadOnlyMemory<byte>>();
            while (i < segments.Count && segments[i].DeviceOffset == end && run.Count < PositionalIO.MaxSegments
                   && end - start + segments[i].Data.Length <= int.MaxValue)
            {
                run.Add(segments[i].Data);
                end += segments[i].Data.Length;
                i++;
            }
            CheckInsideExtents(start, end - start);
            runs.Add(new WriteRun(start, run));
            bytes += end - start;
        }
        // The whole batch at once: a device that can keeps several runs in flight (O_DIRECT), since pieces arrive
        // scattered and the runs of one batch are often single pieces.
        _device.WriteRuns(runs);
        Interlocked.Add(ref _writeCalls, runs.Count);
        Interlocked.Add(ref _bytesWritten, bytes);
        lock (_stateLock)
            foreach (var item in batch) _written[item.Piece] = true;
    }

    /// <summary>The write guard: a run must lie inside the layout's extents (device-adjacent extents may be crossed).</summary>
    private void CheckInsideExtents(long offset, long length)
    {
        int i = Array.BinarySearch(_extentStarts, offset);
        if (i < 0) i = ~i - 1;
        long pos = offset, end = offset + length;
        while (pos < end)
        {
            if (i < 0 || i >= _extentStarts.Length || pos < _extentStarts[i] || pos >= _extentEnds[i])
                throw new StorageException($"{_device.Name}: refusing to write [{offset}, +{length}): byte {pos} is outside the torrent's extents");
            pos = _extentEnds[i];
            i++;
        }
    }

    private void ReleaseBatch(List<QueueItem> batch)
    {
        foreach (var item in batch)
        {
            lock (_pendingLock)
                if (_pending.TryGetValue(item.Piece, out var cur) && ReferenceEquals(cur.Data, item.Data))
                    _pending.Remove(item.Piece);
            // Again now that it is on the device: a read-ahead fill of neighbouring pieces that started while this one
            // was queued read what the device held before (zeros on a fresh target) and may have cached it; served to
            // a peer, that fails its hash there and gets this peer banned. (Fills still in flight discard their result.)
            _readCache?.Invalidate(item.Piece);
            item.Data!.Dispose();
            _budget.Release(item.Length);
        }
        batch.Clear();
    }

    private StorageException SetFault(Exception ex, List<QueueItem> batch)
    {
        var fault = ex as StorageException ?? new StorageException(
            $"{_device.Name}: writing {batch.Count} piece(s) failed, storage stopped: {ex.Message}", ex);
        if (Interlocked.CompareExchange(ref _fault, fault, null) is { } earlier) fault = earlier;
        // Wakes this storage's writers waiting for budget (they throw the fault); other storages sharing it are not touched.
        try { _faulted.Cancel(); } catch (ObjectDisposedException) { }
        // No more writes are accepted; queued pieces are released by the drain loop.
        _queue.Writer.TryComplete();
        return fault;
    }
}
