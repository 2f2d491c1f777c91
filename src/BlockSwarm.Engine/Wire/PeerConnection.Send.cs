using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Wire;

// The send side: queued messages to the transport, in batches (pipe writer) or gather writes and sendfile runs (sockets).
public sealed partial class PeerConnection
{
    private async Task SendLoopAsync(CancellationTokenSource runCts)
    {
        PipeWriter output = _transport.Output;
        ChannelReader<OutgoingMessage> queue = _sendQueue.Reader;
        CancellationToken ct = runCts.Token;
        try
        {
            while (await queue.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                long written = 0;
                while (queue.TryRead(out OutgoingMessage message))
                {
                    try
                    {
                        MessageWriter.Write(output, message);
                    }
                    finally
                    {
                        message.PayloadOwner?.Dispose();
                    }
                    int length = message.WireLength;
                    written += length;
                    OnSendQueueShrunk(Interlocked.Add(ref _queuedSendBytes, -length));
                    Interlocked.Add(ref _wireBytesSent, length);
                    if (message.Kind == MessageKind.Piece) Interlocked.Add(ref _payloadBytesSent, message.PayloadByteCount);
                    if (written >= _options.FlushThreshold)
                    {
                        if (!await FlushAsync(output, ct).ConfigureAwait(false)) return;
                        written = 0;
                    }
                }
                if (!await FlushAsync(output, ct).ConfigureAwait(false)) return;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _sendError = ex;
            await runCts.CancelAsync().ConfigureAwait(false);
        }

        async ValueTask<bool> FlushAsync(PipeWriter writer, CancellationToken token)
        {
            // Waits here while the transport is over its pause threshold: a slow peer holds back only its own queue.
            FlushResult flush = await writer.FlushAsync(token).ConfigureAwait(false);
            Volatile.Write(ref _lastSendTimestamp, _time.GetTimestamp());
            if (!flush.IsCompleted) return true;
            _sendError = new IOException("transport closed: the send side no longer accepts data");
            await runCts.CancelAsync().ConfigureAwait(false);
            return false;
        }
    }

    /// <summary>
    /// The send loop over an <see cref="IGatherSendTransport"/>: queued messages become one gather write (headers
    /// copied into a scratch buffer, block payloads referenced where they are) of up to
    /// <see cref="PeerConnectionOptions.FlushThreshold"/> bytes; payload owners are released once the socket took
    /// the bytes. Awaiting each send is the back-pressure a full socket buffer (a slow peer) puts on this peer.
    /// </summary>
    private async Task GatherSendLoopAsync(IGatherSendTransport transport, CancellationTokenSource runCts)
    {
        ChannelReader<OutgoingMessage> queue = _sendQueue.Reader;
        CancellationToken ct = runCts.Token;
        using var batch = new GatherBatch();
        bool corked = false;
        FileRun? sending = null;
        try
        {
            while (await queue.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                while (queue.TryRead(out OutgoingMessage message))
                {
                    batch.Add(message);
                    int length = message.WireLength;
                    OnSendQueueShrunk(Interlocked.Add(ref _queuedSendBytes, -length));
                    Interlocked.Add(ref _wireBytesSent, length);
                    if (message.Kind == MessageKind.Piece) Interlocked.Add(ref _payloadBytesSent, message.PayloadByteCount);
                    if (message.File is { } file)
                    {
                        // Corked while runs stream, so each header rides in its run's first segment.
                        if (!corked) transport.SetCork(corked = true);
                        sending = file;
                        try
                        {
                            await transport.SendFileAsync(batch.Segments, file, ct).ConfigureAwait(false);
                        }
                        finally
                        {
                            batch.Clear();
                        }
                        sending = null;
                        Volatile.Write(ref _lastSendTimestamp, _time.GetTimestamp());
                    }
                    else if (batch.Bytes >= _options.FlushThreshold || batch.IsFull)
                    {
                        await SendBatchAsync().ConfigureAwait(false);
                    }
                }
                if (!batch.IsEmpty) await SendBatchAsync().ConfigureAwait(false);
                // Nothing more queued: let held partial segments go.
                if (corked) transport.SetCork(corked = false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _sendError = ex;
            sending?.OnSendFailed?.Invoke(sending, ex);
            await runCts.CancelAsync().ConfigureAwait(false);
        }

        async ValueTask SendBatchAsync()
        {
            try
            {
                await transport.SendAsync(batch.Segments, ct).ConfigureAwait(false);
            }
            finally
            {
                batch.Clear();
            }
            Volatile.Write(ref _lastSendTimestamp, _time.GetTimestamp());
        }
    }
}
