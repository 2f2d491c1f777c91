using System.Buffers;
using System.Net;
using System.Threading.Channels;
using BlockSwarm.Engine.Compression;
using BlockSwarm.Engine.Extensions;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Engine.Wire;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Session;

/// <summary>
/// One connected peer: turns its messages into swarm-state calls, keeps its request pipeline
/// full, and serves its requests from storage on its own upload loop (so a slow disk read never
/// stalls this peer's receive loop, and no peer's upload waits on another's).
/// </summary>
internal sealed class PeerSession : IPeerMessageHandler
{
    private readonly IPeerSessionHost _session;
    private readonly Channel<BlockRequest> _uploads;
    private readonly HashSet<BlockRequest> _cancelled = [];
    private readonly List<BlockRequest> _picked = [];
    private Func<int>? _newPieceAllowance;
    private readonly List<PeerBlock> _cancelTo = [];
    private int _queuedUploads;
    private long _payloadFromPeer;

    public PeerSession(IPeerSessionHost session, PeerConnection connection, PeerHandle id, IPEndPoint remote, bool fast)
    {
        _session = session;
        Connection = connection;
        Id = id;
        Remote = remote;
        SupportsFast = fast;
        _uploads = Channel.CreateUnbounded<BlockRequest>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    }

    public PeerConnection Connection { get; }
    public PeerHandle Id { get; }
    public IPEndPoint Remote { get; }
    public bool SupportsFast { get; }

    /// <summary>We are choking the peer (start state per BEP 3).</summary>
    public bool AmChoking { get; set; } = true;
    public bool AmInterested { get; private set; }
    public bool PeerInterested { get; private set; }
    public long PayloadFromPeer => Interlocked.Read(ref _payloadFromPeer);

    /// <summary>Requests are topped up in batches of at least this many blocks (256 KiB), one packet for many.</summary>
    internal const int RequestBatch = 16;

    /// <summary>Upper bound of queued upload requests per peer; more is abuse (a request flood).</summary>
    internal const int MaxQueuedUploads = 4096;

    public async ValueTask OnMessageAsync(PeerConnection connection, PeerMessage message, CancellationToken cancellationToken)
    {
        var swarm = _session.Swarm;
        switch (message.Kind)
        {
            case MessageKind.Choke:
                swarm.OnChoked(Id);
                break;
            case MessageKind.Unchoke:
                swarm.OnUnchoked(Id);
                FillRequests();
                break;
            case MessageKind.Interested:
                PeerInterested = true;
                _session.RequestChokerRun();
                break;
            case MessageKind.NotInterested:
                PeerInterested = false;
                _session.RequestChokerRun();
                break;
            case MessageKind.Have:
                UpdateInterest(swarm.OnHave(Id, message.PieceIndex));
                // A peer of our own switch has it now: what we still asked across the uplink for it is cancelled there.
                if (!BehindOtherSwitch) _session.CancelUplinkRequests();
                break;
            case MessageKind.Bitfield:
                {
                    Bitfield bits;
                    try
                    {
                        bits = Bitfield.FromBytes(message.Payload.IsSingleSegment ? message.Payload.FirstSpan : message.Payload.ToArray(), _session.Torrent.PieceCount);
                    }
                    catch (FormatException ex)
                    {
                        throw new PeerProtocolException(ex.Message);
                    }
                    UpdateInterest(swarm.OnBitfield(Id, bits));
                    break;
                }
            case MessageKind.HaveAll:
                UpdateInterest(swarm.OnHaveAll(Id));
                break;
            case MessageKind.HaveNone:
                swarm.OnHaveNone(Id);
                break;
            case MessageKind.Request:
                OnRequest(new BlockRequest(message.PieceIndex, message.Begin, message.Length));
                break;
            case MessageKind.Cancel:
                // Never more cancels kept than requests queued: one for a block already sent (or inside a longer
                // run) matches nothing, and a peer must not grow this set without bound. Cleared when the queue drains.
                lock (_cancelled)
                    if (_cancelled.Count < Volatile.Read(ref _queuedUploads)) _cancelled.Add(new BlockRequest(message.PieceIndex, message.Begin, message.Length));
                break;
            case MessageKind.Piece:
                {
                    var block = new BlockRequest(message.PieceIndex, message.Begin, message.Length);
                    await OnRunAsync(block, message.Payload, keep: null, cancellationToken).ConfigureAwait(false);
                    break;
                }
            case MessageKind.Reject:
                swarm.OnRejected(Id, new BlockRequest(message.PieceIndex, message.Begin, message.Length));
                // Ask for something else now (an origin spreading pieces rejects on purpose); the picker's
                // minimum batch groups a burst of rejects into one refill.
                FillRequests();
                break;
            case MessageKind.AllowedFast:
                swarm.OnAllowedFast(Id, message.PieceIndex);
                FillRequests();
                break;
            case MessageKind.Extended when message.ExtendedId == ExtensionHandshake.ZstdId:
                await OnZstdRunAsync(message, cancellationToken).ConfigureAwait(false);
                break;
            case MessageKind.Extended when message.ExtendedId == ExtensionHandshake.ImportId:
                // From a peer behind another switch the claim means nothing to us (the swarm ignores it); checked all the same.
                foreach (int piece in ImportMessage.Decode(message.Payload, swarm.PieceCount)) swarm.OnImporting(Id, piece);
                break;
            case MessageKind.Extended:
                OnExtended(message);
                break;
            default:
                // Suggest carries nothing this engine acts on.
                break;
        }
    }

    private readonly Lock _announceGate = new();
    private bool _stateSent;

    /// <summary>
    /// Sends our initial piece state (BITFIELD, HAVE_ALL or HAVE_NONE, built by <paramref name="build"/> from a snapshot
    /// taken now). Together with <see cref="AnnounceHave"/> it guarantees the BITFIELD goes first and no piece is missed:
    /// a piece made ours before the snapshot is in it, one made ours after it gets a HAVE.
    /// </summary>
    public void SendInitialState(Func<OutgoingMessage?> build)
    {
        lock (_announceGate)
        {
            if (build() is { } message) Connection.Send(message);
            _stateSent = true;
        }
    }

    /// <summary>HAVE for a piece that just became ours (or was revealed); held back until the initial state went out.</summary>
    public void AnnounceHave(int piece)
    {
        lock (_announceGate)
            if (_stateSent) Connection.Send(OutgoingMessage.Have(piece));
    }

    /// <summary>The peer's BEP 10 handshake, once it sent one.</summary>
    public ExtensionHandshake? Extensions { get; private set; }

    /// <summary>Builds this connection's PEX messages (at most one a minute, 50 peers each way).</summary>
    public PexTracker Pex { get; } = new();

    /// <summary>Where the peer accepts connections: its listen port from BEP 10, else the address we dialed.</summary>
    public IPEndPoint? ListenEndPoint => Extensions?.ListenPort is int p ? new IPEndPoint(Remote.Address, p) : Outgoing ? Remote : null;

    /// <summary>We dialed this peer (its remote endpoint is its listen endpoint).</summary>
    public bool Outgoing { get; init; }

    /// <summary>Of another subnet: asked only for pieces no peer of ours has (<see cref="ConnectionPolicy.IsBehindOtherSwitch"/>).</summary>
    public bool BehindOtherSwitch { get; init; }

    private void OnExtended(PeerMessage message)
    {
        var payload = message.Payload.ToArray();
        try
        {
            if (message.ExtendedId == 0)
            {
                Extensions = ExtensionHandshake.Decode(payload);
                // Longer requests only to a peer that announced it takes them, and no longer than we take ourselves.
                _maxRequestToPeer = Math.Min(_session.MaxRequestLength, Extensions.MaxRequestLength ?? SwarmOptions.BlockSize);
                _zstdTo = _session.Compression != null ? Extensions.IdOf(ZstdBlock.ExtensionName) : (byte)0;
                ImportTo = BehindOtherSwitch ? (byte)0 : Extensions.IdOf(ImportMessage.ExtensionName);
                return;
            }
            if (message.ExtendedId == ExtensionHandshake.PexId && _session.PexEnabled)
            {
                var pex = PexMessage.Decode(payload);
                foreach (var p in pex.Added) _session.OnPexPeer(p.EndPoint);
            }
        }
        catch (BlockSwarm.Bencode.BencodeException ex)
        {
            throw new PeerProtocolException($"malformed extension message {message.ExtendedId}: {ex.Message}");
        }
    }

    /// <summary>Whether CPU is spare for compressing runs to this peer (created on first use).</summary>
    private CompressionGate? _gate;

    private bool ShouldCompress(WireCompression compression)
    {
        if (!compression.Adaptive) return true;
        return (_gate ??= new CompressionGate(_session.Time)).ShouldCompress(Connection, static c => c.SendBacklog);
    }

    /// <summary>The torrent's piece lengths, for checking <c>bs_zstd</c> headers (one delegate per connection, not per message).</summary>
    private Func<int, int>? _pieceLengthOf;

    /// <summary>The id the peer takes <c>bs_zstd</c> messages under; 0 = send it plain PIECE messages.</summary>
    private volatile byte _zstdTo;

    /// <summary>The id the peer takes <c>bs_import</c> messages under (<see cref="ImportMessage"/>); 0 = it is not told (another switch's, or not BlockSwarm).</summary>
    public byte ImportTo { get; private set; }

    /// <summary>
    /// A <c>bs_zstd</c> run: checked (a run of the torrent no longer than our longest request, so the decoded size is
    /// bounded before anything is decoded), decoded into exactly its announced length, then handled as the PIECE it
    /// stands for. A frame that does not decode to that length is a protocol violation: the peer is closed.
    /// </summary>
    private async ValueTask OnZstdRunAsync(PeerMessage message, CancellationToken cancellationToken)
    {
        var compression = _session.Compression
            ?? throw new PeerProtocolException($"{ZstdBlock.ExtensionName} message, which we did not announce");
        var t = _session.Torrent;
        var (piece, begin, length) = ZstdBlock.ReadHeader(message.Payload, t.PieceCount, _pieceLengthOf ??= t.GetPieceLength, _session.MaxRequestLength);
        var block = new BlockRequest(piece, begin, length);
        // The copy kept for forwarding is taken first and decoded from: one copy out of the receive buffer, not two
        // when the frame spans its segments.
        byte[]? keep = compression.KeepsReceived ? message.Payload.ToArray() : null;
        var frame = keep is null ? message.Payload.Slice(ZstdBlock.HeaderLength) : new ReadOnlySequence<byte>(keep, ZstdBlock.HeaderLength, keep.Length - ZstdBlock.HeaderLength);
        byte[] decoded = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Decode(frame, decoded.AsSpan(0, length), block);
            compression.OnReceived(length, message.WireLength);
            await OnRunAsync(block, new ReadOnlySequence<byte>(decoded, 0, length), keep, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(decoded);
        }
    }

    private static void Decode(in ReadOnlySequence<byte> frame, Span<byte> destination, BlockRequest block)
    {
        byte[]? joined = null;
        try
        {
            ReadOnlySpan<byte> source;
            if (frame.IsSingleSegment)
            {
                source = frame.FirstSpan;
            }
            else
            {
                joined = ArrayPool<byte>.Shared.Rent((int)frame.Length);
                frame.CopyTo(joined);
                source = joined.AsSpan(0, (int)frame.Length);
            }
            Zstd.DecompressExactly(source, destination);
        }
        catch (InvalidDataException ex)
        {
            throw new PeerProtocolException($"{ZstdBlock.ExtensionName}: piece {block.Piece} run [{block.Begin}, +{block.Length}) does not decode: {ex.Message}");
        }
        finally
        {
            if (joined != null) ArrayPool<byte>.Shared.Return(joined);
        }
    }

    private void UpdateInterest(bool interesting)
    {
        if (interesting && !AmInterested)
        {
            AmInterested = true;
            Connection.Send(OutgoingMessage.Interested);
        }
        FillRequests();
    }

    /// <summary>Drops interest once the peer has nothing we lack (or we are complete).</summary>
    public void RefreshInterest()
    {
        if (AmInterested && !_session.Swarm.IsInteresting(Id))
        {
            AmInterested = false;
            Connection.Send(OutgoingMessage.NotInterested);
        }
        else if (!AmInterested && _session.Swarm.IsInteresting(Id))
        {
            AmInterested = true;
            Connection.Send(OutgoingMessage.Interested);
        }
    }

    /// <summary>Longest request this peer gets: 16 KiB unless both sides announced more in their BEP 10 handshakes.</summary>
    private volatile int _maxRequestToPeer = SwarmOptions.BlockSize;

    /// <summary>
    /// Tops the request pipeline up from the swarm's picker. Blocks are picked (and tracked) one by one; for a
    /// peer that takes longer requests, consecutive blocks of a piece go out as one REQUEST for the run.
    /// </summary>
    public void FillRequests()
    {
        if (!AmInterested || _session.Swarm.IsComplete) return;
        bool picked;
        lock (_picked)
        {
            _picked.Clear();
            int max = _maxRequestToPeer;
            _session.Swarm.PickRequests(Id, int.MaxValue, _picked, _newPieceAllowance ??= () => _session.NewPieceAllowance, minBatch: RequestBatch,
                grain: max / SwarmOptions.BlockSize);
            for (int i = 0; i < _picked.Count;)
            {
                var run = NextRun(_picked, ref i, max);
                Connection.Send(OutgoingMessage.Request(run.Piece, run.Begin, run.Length));
            }
            picked = _picked.Count > 0;
        }
        // Pieces now fetched across the uplink: the peers of our own switch hear of them, so they leave them to us.
        if (picked && BehindOtherSwitch) _session.AnnounceImports();
    }

    /// <summary>
    /// The CANCELs for released blocks (<see cref="SwarmState.TakeUplinkCancels"/>), one per run they were asked in: the
    /// consecutive blocks of one peer inside one <paramref name="maxRequestOf"/>-aligned stretch of a piece, as
    /// <see cref="NextRun"/> cut them (an uploader matches a CANCEL to a queued request exactly).
    /// </summary>
    internal static void CancelRuns(PeerBlock[] released, Func<PeerHandle, int> maxRequestOf, List<PeerBlock> into)
    {
        Array.Sort(released, static (a, b) => a.Peer.Value != b.Peer.Value ? a.Peer.Value.CompareTo(b.Peer.Value)
            : a.Block.Piece != b.Block.Piece ? a.Block.Piece.CompareTo(b.Block.Piece) : a.Block.Begin.CompareTo(b.Block.Begin));
        for (int i = 0; i < released.Length;)
        {
            var (peer, run) = released[i++];
            int max = maxRequestOf(peer);
            while (i < released.Length && released[i].Peer == peer && released[i].Block is var next && next.Piece == run.Piece
                && next.Begin == run.Begin + run.Length && run.Length % SwarmOptions.BlockSize == 0 && run.Length + next.Length <= max && next.Begin % max != 0)
            {
                run = run with { Length = run.Length + next.Length };
                i++;
            }
            into.Add(new PeerBlock(peer, run));
        }
    }

    /// <summary>The longest request we send this peer (what its runs are cut to).</summary>
    public int MaxRequestToPeer => _maxRequestToPeer;

    /// <summary>
    /// The request for <paramref name="picked"/>[<paramref name="i"/>] and the consecutive blocks after it, at most
    /// <paramref name="max"/> bytes; moves <paramref name="i"/> past them.
    /// </summary>
    internal static BlockRequest NextRun(List<BlockRequest> picked, ref int i, int max)
    {
        var run = picked[i++];
        // Only whole blocks extend a run: a short block is a piece's last, nothing follows it. Runs never cross a
        // multiple of the longest request, so the same runs are asked of every peer: a compressed one
        // (bs_zstd) received from the origin is then forwarded as it is, never compressed again.
        while (i < picked.Count && picked[i] is var next && next.Piece == run.Piece && next.Begin == run.Begin + run.Length
            && run.Length % SwarmOptions.BlockSize == 0 && run.Length + next.Length <= max && next.Begin % max != 0)
        {
            run = run with { Length = run.Length + next.Length };
            i++;
        }
        return run;
    }

    /// <summary>
    /// A run of blocks arrived (a PIECE, or a decoded <c>bs_zstd</c> run whose received payload, <paramref name="keep"/>,
    /// is kept for forwarding when every block of it went into the piece).
    /// </summary>
    private async ValueTask OnRunAsync(BlockRequest block, ReadOnlySequence<byte> data, byte[]? keep, CancellationToken cancellationToken)
    {
        int pieceLength = _session.Torrent.GetPieceLength(block.Piece);
        if (block.Begin + block.Length > pieceLength)
            throw new PeerProtocolException($"piece {block.Piece} block [{block.Begin}, +{block.Length}) runs past the piece's {pieceLength} bytes");
        Interlocked.Add(ref _payloadFromPeer, block.Length);
        _session.OnDownloaded(block.Length);
        BlockReceivedStatus status;
        PieceAssembly? complete;
        lock (_cancelTo)
        {
            _cancelTo.Clear();
            (status, complete, _) = _session.Assembler.Accept(Id, block, data, _cancelTo, keep);
            foreach (var c in _cancelTo) _session.SendCancel(c.Peer, c.Block);
        }
        if (status == BlockReceivedStatus.Invalid)
            throw new PeerProtocolException($"piece message for block {block} that does not exist");
        if (complete != null) await _session.Assembler.EnqueueVerifyAsync(complete).ConfigureAwait(false);
        FillRequests();
    }

    private void OnRequest(BlockRequest r)
    {
        var t = _session.Torrent;
        bool valid = (uint)r.Piece < (uint)t.PieceCount && r.Length > 0 && r.Length <= _session.MaxRequestLength && r.Begin >= 0
            && (long)r.Begin + r.Length <= t.GetPieceLength(r.Piece);
        if (!valid) throw new PeerProtocolException($"request {r} is outside the torrent");
        if (AmChoking || !_session.Swarm.Have(r.Piece) || !_session.ShouldServe(Id, r.Piece) || _queuedUploads >= MaxQueuedUploads)
        {
            if (SupportsFast) Connection.Send(OutgoingMessage.Reject(r.Piece, r.Begin, r.Length));
            return;
        }
        lock (_cancelled) _cancelled.Remove(r);
        Interlocked.Increment(ref _queuedUploads);
        _uploads.Writer.TryWrite(r);
    }

    /// <summary>Serves queued requests: limiter, pooled read from storage, send (the transport copies once and returns the buffer).</summary>
    public async Task RunUploadsAsync(CancellationToken cancellationToken)
    {
        var reader = _uploads.Reader;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var r))
                {
                    Interlocked.Decrement(ref _queuedUploads);
                    bool cancelled;
                    lock (_cancelled) cancelled = _cancelled.Remove(r);
                    if (cancelled) continue;
                    if (AmChoking)
                    {
                        if (SupportsFast) Connection.Send(OutgoingMessage.Reject(r.Piece, r.Begin, r.Length));
                        continue;
                    }
                    // Back-pressure from this peer's socket: read the next block only once the queue has room, so a
                    // slow peer never holds more than about UploadQueueHighWater of read blocks (cache leases, pooled buffers).
                    await Connection.WaitForSendSpaceAsync(UploadQueueHighWater, cancellationToken).ConfigureAwait(false);
                    var (done, closed, lease) = await TrySendCompressedAsync(r, cancellationToken).ConfigureAwait(false);
                    if (closed) return;
                    if (done) continue;
                    try
                    {
                        await _session.WaitForUploadAsync(r.Length, cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        lease?.Dispose();
                        throw;
                    }
                    // A run of blocks (a BlockSwarm peer's long request) goes from the page cache to the socket with
                    // sendfile: no read into a buffer and no copy into the socket (over a secret swarm's encrypted
                    // channel: read straight into its records and sealed there, no read-cache fill). 16 KiB blocks do
                    // not pay for the extra system call per block, they keep the cache-and-gather path below.
                    if (lease == null && r.Length >= MinFileSendLength && Connection.SupportsFileSend && _session.FileRuns is { } files
                        && files.TryGetFileRun(r.Piece, r.Begin, r.Length, _onFileSendFailed ??= OnFileSendFailed) is { } run)
                    {
                        if (!Connection.Send(OutgoingMessage.Piece(r.Piece, r.Begin, run))) return;
                        OnUploaded(r, fromFile: true);
                        continue;
                    }
                    lease ??= await ReadRunAsync(r, cancellationToken).ConfigureAwait(false);
                    if (!Connection.Send(OutgoingMessage.Piece(r.Piece, r.Begin, lease.Memory, lease))) return;
                    OnUploaded(r, fromFile: false);
                }
                // Queue drained: any cancel still held matches no request (the peer's requests were all served).
                lock (_cancelled)
                    if (Volatile.Read(ref _queuedUploads) == 0) _cancelled.Clear();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (StorageException ex)
        {
            _session.Fail(ex);
        }
        catch (Exception ex)
        {
            // Anything else ends this peer's uploads: close it rather than leave its requests unanswered
            // until they time out (it reconnects or fetches elsewhere at once).
            _session.OnUploadFailed(Remote, ex);
            Connection.Close();
        }
    }

    private void OnUploaded(BlockRequest r, bool fromFile)
    {
        _session.OnUploaded(r.Piece, r.Length, fromFile);
    }

    /// <summary>
    /// To a peer that takes bs_zstd, a run that compresses goes out compressed: from the cache (free), or compressed now
    /// while the path is the bottleneck (CPU is spare then). <c>Done</c>: sent; <c>Closed</c>: the connection closed;
    /// else it goes raw, with <c>Lease</c> the bytes read to try it (null: nothing read yet).
    /// </summary>
    private async ValueTask<(bool Done, bool Closed, IMemoryOwner<byte>? Lease)> TrySendCompressedAsync(BlockRequest r, CancellationToken cancellationToken)
    {
        if (_zstdTo is not (var zstdTo and not 0) || _session.Compression is not { } compression
            || r.Length < WireCompression.MinRunLength || compression.IsIncompressible(r.Piece, r.Begin))
            return (false, false, null);
        IMemoryOwner<byte>? lease = null;
        byte[]? packed = compression.TryGetCached(r);
        if (packed == null && ShouldCompress(compression))
        {
            lease = await ReadRunAsync(r, cancellationToken).ConfigureAwait(false);
            try
            {
                packed = compression.TryCompress(r, lease.Memory.Span);
            }
            catch
            {
                lease.Dispose();
                throw;
            }
        }
        if (packed == null) return (false, false, lease);
        lease?.Dispose();
        await _session.WaitForUploadAsync(packed.Length, cancellationToken).ConfigureAwait(false);
        var message = OutgoingMessage.Extended(zstdTo, packed);
        if (!Connection.Send(message)) return (false, true, null);
        compression.OnSent(r.Length, message.WireLength);
        OnUploaded(r, fromFile: false);
        return (true, false, null);
    }

    /// <summary>
    /// A run's bytes to send: preferably a lease on it in the storage's read cache (no copy here: the send loop's copy
    /// into the transport is the only one); else a pooled buffer read from storage.
    /// </summary>
    private async ValueTask<IMemoryOwner<byte>> ReadRunAsync(BlockRequest r, CancellationToken cancellationToken)
    {
        if (await _session.Storage.TryLeaseAsync(r.Piece, r.Begin, r.Length, cancellationToken).ConfigureAwait(false) is { } lease) return lease;
        var pooled = new BlockLease(r.Length);
        try
        {
            await _session.Storage.ReadAsync(r.Piece, r.Begin, pooled.Memory, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            pooled.Dispose();
            throw;
        }
        return pooled;
    }

    /// <summary>
    /// Most bytes of this peer's PIECE messages queued ahead of its send loop before the upload loop waits (it resumes at
    /// half). 1 MiB keeps a 10 GbE socket fed between wake-ups (the socket's own buffer holds the bytes in flight) and
    /// bounds what a slow peer pins: without it every requested block (up to 4,096 per peer) was read and queued.
    /// </summary>
    internal const int UploadQueueHighWater = 1 << 20;

    /// <summary>Runs at least this long are sent with sendfile (see <see cref="RunUploadsAsync"/>).</summary>
    private const int MinFileSendLength = 64 * 1024;

    private Action<FileRun, Exception>? _onFileSendFailed;

    /// <summary>
    /// A sendfile failed: the socket broke (the connection closes, nothing more to do) or the device could not be
    /// read. Reading the device tells which; a read error stops the session as any storage error does.
    /// </summary>
    private void OnFileSendFailed(FileRun run, Exception sendError)
    {
        if (_session.FileRuns is not { } files) return;
        _ = Task.Run(() =>
        {
            try
            {
                files.CheckReadable(run);
            }
            catch (Exception ex) when (ex is IOException or StorageException)
            {
                _session.Fail(ex as StorageException ?? new StorageException($"seeding stopped: the device cannot be read ({ex.Message}); the send failed with: {sendError.Message}", ex));
            }
        });
    }

    /// <summary>Stops the upload loop (connection closed).</summary>
    public void CompleteUploads() => _uploads.Writer.TryComplete();

    /// <summary>A pooled 16 KiB buffer released by the transport after it copied the block.</summary>
    private sealed class BlockLease : IMemoryOwner<byte>
    {
        private byte[]? _array;

        public BlockLease(int length)
        {
            _array = ArrayPool<byte>.Shared.Rent(length);
            Memory = _array.AsMemory(0, length);
        }

        public Memory<byte> Memory { get; }

        public void Dispose()
        {
            var a = Interlocked.Exchange(ref _array, null);
            if (a != null) ArrayPool<byte>.Shared.Return(a);
        }
    }
}
