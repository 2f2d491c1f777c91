using System.Buffers;
using System.Security.Cryptography;
using System.Threading.Channels;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Metainfo;
using SwarmPeerId = BlockSwarm.Engine.Swarm.PeerHandle;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Session;

/// <summary>A piece whose blocks have all arrived, waiting for its SHA-1.</summary>
internal sealed class PieceAssembly(int piece, PooledPieceBuffer buffer, long started, List<KeptRun>? kept)
{
    public int Piece { get; } = piece;
    public PooledPieceBuffer Buffer { get; } = buffer;

    /// <summary>Compressed runs received for this piece, to forward once it verified (see <see cref="KeptRun"/>).</summary>
    public List<KeptRun>? Kept { get; } = kept;

    /// <summary>When its first block arrived (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    public long Started { get; } = started;
}

/// <summary>
/// A run that arrived as a <c>bs_zstd</c> message and whose every block went into its piece's buffer: its received
/// payload, forwarded as it is once the piece verified (the piece's hash then vouches for every byte it decodes to).
/// </summary>
internal readonly record struct KeptRun(int Begin, int Length, byte[] Payload);

/// <summary>
/// Collects blocks into pooled piece buffers (the one copy from the receive buffer), hands
/// complete pieces to hashing workers, writes verified pieces to storage and reports them to
/// the session. Buffers come from the engine's shared <see cref="PieceMemory"/>, whose assembling budget counts every
/// started piece (the swarm state reports them) so that requests for new pieces pause when it is full; the bytes held
/// here are counted too, for a torrent's own cap.
/// </summary>
internal sealed class PieceAssembler : IAsyncDisposable
{
    private readonly TorrentSession _session;
    private readonly Torrent _torrent;
    private readonly SwarmState _swarm;
    private readonly PooledPieceBuffer?[] _buffers;
    private readonly long[] _started;
    private readonly List<KeptRun>?[] _kept;
    private readonly PieceMemory _memory;
    private readonly Channel<PieceAssembly> _verify;
    private readonly Task[] _workers;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<SwarmPeerId> _cancelScratch = [];
    private long _bufferedBytes;
    private long _hashFailures;

    public PieceAssembler(TorrentSession session, PieceMemory memory, int workers)
    {
        _session = session;
        _memory = memory;
        _torrent = session.Torrent;
        _swarm = session.Swarm;
        _buffers = new PooledPieceBuffer?[_torrent.PieceCount];
        _started = new long[_torrent.PieceCount];
        _kept = new List<KeptRun>?[_torrent.PieceCount];
        // Bounded: when hashing or storage falls behind, receive loops wait here (back-pressure to the network).
        _verify = Channel.CreateBounded<PieceAssembly>(new BoundedChannelOptions(Math.Max(4, workers * 4)) { SingleWriter = false });
        _workers = new Task[Math.Max(1, workers)];
        Array.Fill(_workers, Task.CompletedTask);
    }

    /// <summary>Starts the hashing workers.</summary>
    public void Start()
    {
        for (int i = 0; i < _workers.Length; i++) _workers[i] = Task.Run(() => VerifyLoopAsync(_stop.Token));
    }

    private void AddBuffered(long bytes) => Interlocked.Add(ref _bufferedBytes, bytes);

    public long BufferedBytes => Interlocked.Read(ref _bufferedBytes);
    public long HashFailures => Interlocked.Read(ref _hashFailures);

    /// <summary>
    /// Accepts a PIECE message: one 16 KiB block, or a run of consecutive blocks from a peer that takes longer
    /// requests (bs_reqlen). Each block is recorded in the swarm state and copied into its piece buffer under the
    /// assembler's lock, so when the last block completes the piece no other copy is in flight. Peers also asked
    /// for an accepted block (endgame) are added to <paramref name="cancelTo"/> with that block. <c>Whole</c>: every
    /// block of the run went into its piece buffer (none was a duplicate), so the piece's hash vouches for all of it;
    /// then <paramref name="keep"/> (the run's compressed payload) goes with the piece to verification, under the same
    /// lock as the blocks, so it can never outlive a failed attempt or miss the verification of its own.
    /// </summary>
    public (BlockReceivedStatus Status, PieceAssembly? Complete, bool Whole) Accept(SwarmPeerId peer, BlockRequest message, in ReadOnlySequence<byte> data, List<PeerBlock> cancelTo, byte[]? keep = null)
    {
        const int B = SwarmOptions.BlockSize;
        if (data.Length != message.Length || !_swarm.IsRunOnGrid(message)) return (BlockReceivedStatus.Invalid, null, false);
        int pieceLength = _torrent.GetPieceLength(message.Piece);
        int end = message.Begin + message.Length;

        var slot = _buffers;
        var result = BlockReceivedStatus.Duplicate;
        PieceAssembly? complete = null;
        bool whole = true;
        lock (slot)
        {
            var cancels = _cancelScratch;
            for (int begin = message.Begin; begin < end; begin += B)
            {
                var block = new BlockRequest(message.Piece, begin, Math.Min(B, end - begin));
                cancels.Clear();
                var status = _swarm.BlockReceived(peer, block, cancels);
                foreach (var other in cancels) cancelTo.Add(new PeerBlock(other, block));
                if (status is not (BlockReceivedStatus.Accepted or BlockReceivedStatus.PieceComplete))
                {
                    if (status == BlockReceivedStatus.Invalid) return (status, null, false);
                    if (result == BlockReceivedStatus.Duplicate) result = status;
                    whole = false;
                    continue;
                }
                var buffer = slot[block.Piece];
                if (buffer == null)
                {
                    buffer = new PooledPieceBuffer(pieceLength, _memory.Buffers);
                    slot[block.Piece] = buffer;
                    _started[block.Piece] = System.Diagnostics.Stopwatch.GetTimestamp();
                    AddBuffered(pieceLength);
                }
                data.Slice(begin - message.Begin, block.Length).CopyTo(buffer.Span.Slice(block.Begin, block.Length));
                if (status == BlockReceivedStatus.PieceComplete)
                {
                    // The completing block is the run's last whenever the run is whole (a later one would be a duplicate).
                    if (keep != null && whole && begin + block.Length == end) (_kept[block.Piece] ??= []).Add(new KeptRun(message.Begin, message.Length, keep));
                    slot[block.Piece] = null;
                    complete = new PieceAssembly(block.Piece, buffer, _started[block.Piece], _kept[block.Piece]);
                    _kept[block.Piece] = null;
                    result = status;
                }
                else if (result != BlockReceivedStatus.PieceComplete)
                {
                    result = status;
                }
            }
            if (keep != null && whole && complete == null) (_kept[message.Piece] ??= []).Add(new KeptRun(message.Begin, message.Length, keep));
        }
        return (result, complete, whole);
    }

    /// <summary>
    /// Queues a complete piece for hashing, waiting while the hashers are behind (back-pressure on
    /// this peer's receive loop). Deliberately not cancelled by the peer's connection closing: the
    /// swarm state already counts the piece as fully received, so dropping it here would leave it
    /// neither verified nor requested again — a download stuck just short of 100%.
    /// </summary>
    public async ValueTask EnqueueVerifyAsync(PieceAssembly piece)
    {
        try
        {
            await _verify.Writer.WriteAsync(piece, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            // The session is stopping: nothing will verify it; give the buffer back.
            AddBuffered(-piece.Buffer.Memory.Length);
            piece.Buffer.Dispose();
        }
    }

    private async Task VerifyLoopAsync(CancellationToken cancellationToken)
    {
        var hash = new byte[20];
        try
        {
            await foreach (var p in _verify.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                int len = p.Buffer.Memory.Length;
                SHA1.HashData(p.Buffer.Span, hash);
                if (!hash.AsSpan().SequenceEqual(_torrent.GetPieceHash(p.Piece)))
                {
                    p.Buffer.Dispose();
                    AddBuffered(-len);
                    Interlocked.Increment(ref _hashFailures);
                    _session.OnHashFailed(p.Piece);
                    continue;
                }
                try
                {
                    // Storage owns the buffer from here; it waits while its write-back cache is full.
                    await _session.Storage.WritePieceAsync(p.Piece, p.Buffer, cancellationToken).ConfigureAwait(false);
                }
                catch (StorageException ex)
                {
                    AddBuffered(-len);
                    Halt();
                    _session.Fail(ex);
                    return;
                }
                AddBuffered(-len);
                _session.RecordPieceDuration(System.Diagnostics.Stopwatch.GetElapsedTime(p.Started));
                _session.OnPieceVerified(p.Piece, p.Kept);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // A bug here must not leave pieces unverified forever: stop the session with the error.
            Halt();
            _session.Fail(new InvalidOperationException($"piece verification worker failed: {ex.Message}", ex));
        }
    }

    /// <summary>
    /// A worker hit an error that stops the torrent: nothing more will be verified, so the queue is closed and peers
    /// waiting for room in it are let go (their pieces' buffers are given back). Without this a peer's receive loop
    /// waited for room forever once the workers had stopped reading, and the session's stop waited for that loop: a
    /// disk error ended in a hang instead of the error line and exit.
    /// </summary>
    private void Halt()
    {
        _verify.Writer.TryComplete();
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Disposed already: nobody is waiting.
        }
    }

    /// <summary>Returns the buffers of pieces a peer left half done when the swarm drops them (called on shutdown).</summary>
    private void ReleaseAll()
    {
        lock (_buffers)
        {
            for (int i = 0; i < _buffers.Length; i++)
            {
                if (_buffers[i] is { } b)
                {
                    AddBuffered(-b.Memory.Length);
                    b.Dispose();
                    _buffers[i] = null;
                }
                _kept[i] = null;
            }
        }
        while (_verify.Reader.TryRead(out var p))
        {
            AddBuffered(-p.Buffer.Memory.Length);
            p.Buffer.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _verify.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_workers).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        ReleaseAll();
        _stop.Dispose();
    }
}
