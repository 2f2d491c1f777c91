using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Engine.Wire;
using BlockSwarm.Metainfo;
using SwarmPeerId = BlockSwarm.Engine.Swarm.PeerId;
using WirePeerId = BlockSwarm.Engine.Wire.PeerId;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Session;

/// <summary>
/// One torrent being shared: a listener and dialer, a <see cref="PeerSession"/> per connection
/// (each with its own receive, send and upload loops), the swarm state, the piece assembler and
/// hashing workers, the choker, and resume checkpoints. The control surface — start, add peers,
/// stats, stop — is what a CLI, HTTP or gRPC front wraps.
/// </summary>
public sealed class TorrentSession : IAsyncDisposable
{
    private readonly SessionOptions _options;
    private readonly ConcurrentDictionary<SwarmPeerId, PeerSession> _peers = new();
    private readonly ConcurrentDictionary<IPEndPoint, DialState> _known = new();
    private readonly ConcurrentDictionary<string, long> _downloadedFrom = new();
    private readonly ConcurrentDictionary<IPAddress, byte> _bannedAddresses = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Choker _choker;
    private readonly OriginServePolicy? _origin;
    private readonly byte[] _peerId;
    private readonly Handshake _handshake;
    private readonly MessageLimits _limits;
    private readonly RateMeter _downRate;
    private readonly RateMeter _upRate;
    private readonly SemaphoreSlim _chokerSignal = new(0, 1);
    private readonly List<Task> _background = [];
    private TcpListener? _listener;
    private int _nextPeer;
    private long _downloaded;
    private long _uploaded;
    private readonly Lock _peerGate = new();
    private long _uploadedFromFile;
    private long _wireDown;
    private long _wireUp;
    private int _banned;
    private volatile Exception? _error;
    private bool _started;

    public TorrentSession(Torrent torrent, IPieceStorage storage, Bitfield have, SessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(torrent);
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(have);
        _options = options ?? new SessionOptions();
        Torrent = torrent;
        Storage = storage;
        Time = _options.Time;
        var random = new Random(_options.Seed);
        Swarm = new SwarmState(torrent.TotalLength, torrent.PieceLength, _options.Swarm, Time, new Random(random.Next()));
        for (int i = have.NextSet(0); i >= 0; i = have.NextSet(i + 1)) Swarm.MarkHave(i);
        _choker = new Choker(_options.Choker, Time, new Random(random.Next()));
        // Peer ids must be unique even when sessions share a seed (they identify duplicates and ourselves).
        _peerId = _options.PeerId ?? WirePeerId.Create(new Random(System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue)));
        _handshake = Handshake.Create(torrent.InfoHash.Span, _peerId);
        int reqlen = _options.MaxRequestLength;
        if (!Extensions.ExtensionHandshake.IsValidRequestLength(reqlen))
            throw new ArgumentException($"MaxRequestLength must be a multiple of 16 KiB in [16 KiB, 1 MiB], not {reqlen}", nameof(options));
        MaxRequestLength = reqlen;
        _limits = new MessageLimits(torrent.PieceCount, maxBlockLength: reqlen);
        UploadLimiter = _options.UploadLimit > 0
            ? new RateLimiter(Time, _options.UploadLimit, _options.SlowStart is null ? null : _options.UploadLimit / 4, _options.SlowStart)
            : new RateLimiter(Time, 0);
        if (_options.OriginSpreading && Swarm.IsComplete) _origin = new OriginServePolicy(Swarm, Time);
        _downRate = new RateMeter(Time);
        _upRate = new RateMeter(Time);
        // Every piece buffer is either assembling (MaxBufferedBytes, plus what is in flight) or queued for writing: keep
        // that many free ones, so a drained write-back queue does not drop buffers the next burst allocates again.
        BufferPool = new PieceBufferPool(_options.MaxBufferedBytes + (storage is MappedPieceStorage mapped ? mapped.WriteCacheBytes : 0));
        Assembler = new PieceAssembler(this, _options.HashWorkers);
    }

    public Torrent Torrent { get; }
    public IPieceStorage Storage { get; }
    public TimeProvider Time { get; }
    internal SwarmState Swarm { get; }
    internal PieceAssembler Assembler { get; }

    /// <summary>Where piece buffers come from and go back to (after hashing, or once storage wrote them).</summary>
    internal PieceBufferPool BufferPool { get; }
    internal RateLimiter UploadLimiter { get; }

    /// <summary>Longest REQUEST we serve and PIECE we accept (<see cref="SessionOptions.MaxRequestLength"/>).</summary>
    internal int MaxRequestLength { get; }

    /// <summary>Our 20-byte peer id.</summary>
    public ReadOnlyMemory<byte> PeerId => _peerId;

    /// <summary>The listener's bound endpoint (port 0 resolved), or null.</summary>
    public IPEndPoint? LocalEndPoint => _listener?.LocalEndpoint as IPEndPoint;

    /// <summary>Completes when every piece is verified and on stable storage; faults with the storage error.</summary>
    public Task Completion => _completed.Task;

    public bool IsComplete => Swarm.IsComplete;

    /// <summary>Raised (from a worker thread) after each verified piece; for progress displays and checkpoints.</summary>
    public event Action<int>? PieceVerified;

    internal bool MemoryBudgetFull => Assembler.BufferedBytes >= _options.MaxBufferedBytes;

    public void Start()
    {
        if (_started) throw new InvalidOperationException("session already started");
        _started = true;
        if (_options.Listen is { } ep)
        {
            _listener = new TcpListener(ep);
            _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _listener.Start(512);
            _background.Add(AcceptLoopAsync(_stop.Token));
        }
        _background.Add(TickLoopAsync(_stop.Token));
        _background.Add(ChokerLoopAsync(_stop.Token));
        if (Swarm.IsComplete) _ = FinishAsync();
    }

    /// <summary>Adds a peer address to dial (and re-dial with backoff while it is not connected).</summary>
    public void AddPeer(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        if (_listener != null && endPoint.Equals(LocalEndPoint)) return;
        if (_known.TryAdd(endPoint, new DialState()) && _started) _ = DialAsync(endPoint, _stop.Token);
    }

    public SessionStats GetStats()
    {
        int seeds = 0;
        foreach (var p in _peers.Values) if (Swarm.PeerIsSeed(p.Id)) seeds++;
        int have = Swarm.HaveCount;
        long bytesHave = (long)have * Torrent.PieceLength;
        if (Swarm.Have(Torrent.PieceCount - 1)) bytesHave += Torrent.GetPieceLength(Torrent.PieceCount - 1) - Torrent.PieceLength;
        return new SessionStats
        {
            PieceCount = Torrent.PieceCount,
            PiecesHave = have,
            TotalBytes = Torrent.TotalLength,
            BytesHave = bytesHave,
            PayloadDownloaded = Interlocked.Read(ref _downloaded),
            PayloadUploaded = Interlocked.Read(ref _uploaded),
            PayloadUploadedFromFile = Interlocked.Read(ref _uploadedFromFile),
            WireDownloaded = Interlocked.Read(ref _wireDown) + _peers.Values.Sum(p => p.Connection.WireBytesReceived),
            WireUploaded = Interlocked.Read(ref _wireUp) + _peers.Values.Sum(p => p.Connection.WireBytesSent),
            DownloadRate = _downRate.BytesPerSecond,
            UploadRate = _upRate.BytesPerSecond,
            Peers = _peers.Count,
            Seeds = seeds,
            HashFailures = Assembler.HashFailures,
            BannedPeers = Volatile.Read(ref _banned),
            Complete = _completed.Task.IsCompletedSuccessfully,
            Error = _error?.Message,
            DownloadedFrom = DownloadedByAddress(),
        };
    }

    /// <summary>Payload received per remote IP address: finished connections plus live ones.</summary>
    private Dictionary<string, long> DownloadedByAddress()
    {
        var result = new Dictionary<string, long>(_downloadedFrom.ToArray()); // ToArray: an atomic snapshot
        foreach (var p in _peers.Values)
        {
            var key = p.Remote.Address.ToString();
            result[key] = result.GetValueOrDefault(key) + p.PayloadFromPeer;
        }
        return result;
    }

    // ---- connections ----------------------------------------------------------------------

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener!.AcceptSocketAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { continue; }
            _ = RunIncomingAsync(socket, ct);
        }
    }

    private async Task RunIncomingAsync(Socket socket, CancellationToken ct)
    {
        var remote = (IPEndPoint)socket.RemoteEndPoint!;
        if (_bannedAddresses.ContainsKey(remote.Address) || _peers.Count >= _options.MaxConnections)
        {
            socket.Dispose();
            return;
        }
        Tune(socket);
        var conn = PeerConnection.Create(new NetworkStream(socket, ownsSocket: true), timeProvider: Time);
        try
        {
            var theirs = await conn.AcceptHandshakeAsync(h => h.InfoHash.SequenceEqual(_handshake.InfoHash) ? _handshake : null, ct).ConfigureAwait(false);
            await RunPeerAsync(conn, theirs, remote, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is PeerProtocolException or IOException or SocketException or OperationCanceledException or TimeoutException)
        {
        }
        finally
        {
            await conn.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task DialAsync(IPEndPoint ep, CancellationToken ct)
    {
        if (!_known.TryGetValue(ep, out var state) || !state.TryBegin()) return;
        var socket = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (_options.LocalAddress is { } local && local.AddressFamily == ep.AddressFamily)
                socket.Bind(new IPEndPoint(local, 0));
            Tune(socket);
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                await socket.ConnectAsync(ep, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            state.End(Time, connected: false);
            return;
        }
        var conn = PeerConnection.Create(new NetworkStream(socket, ownsSocket: true), timeProvider: Time);
        try
        {
            var theirs = await conn.ConnectHandshakeAsync(_handshake, ct).ConfigureAwait(false);
            state.Connected = true;
            await RunPeerAsync(conn, theirs, ep, ct, outgoing: true).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is PeerProtocolException or IOException or SocketException or OperationCanceledException or TimeoutException)
        {
        }
        finally
        {
            await conn.DisposeAsync().ConfigureAwait(false);
            state.End(Time, state.Connected);
            state.Connected = false;
        }
    }

    private void Tune(Socket socket)
    {
        socket.NoDelay = true;
        if (_options.SocketBufferBytes > 0)
        {
            socket.SendBufferSize = _options.SocketBufferBytes;
            socket.ReceiveBufferSize = _options.SocketBufferBytes;
        }
        if (_options.TcpCongestion is { Length: > 0 } cc && !cc.Equals("system", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                socket.SetRawSocketOption(TcpSocketOptions.Level, TcpSocketOptions.Congestion, System.Text.Encoding.ASCII.GetBytes(cc));
            }
            catch (SocketException)
            {
                // Not built into this kernel or not allowed: the system default stays.
            }
        }
    }

    private async Task RunPeerAsync(PeerConnection conn, Handshake theirs, IPEndPoint remote, CancellationToken ct, bool outgoing = false)
    {
        if (theirs.PeerIdBytes.SequenceEqual(_peerId)) return; // ourselves
        // Two peers that learn of each other at the same moment (a PEX message reaches both) dial each other at
        // once. Each side keeping its first connection and refusing the second would close a different one on
        // each side, and both die. Both sides instead keep the connection opened by the peer with the lower id.
        bool weAreLow = ((ReadOnlySpan<byte>)_peerId).SequenceCompareTo(theirs.PeerIdBytes) < 0;
        var id = new SwarmPeerId(Interlocked.Increment(ref _nextPeer));
        var peer = new PeerSession(this, conn, id, remote, theirs.SupportsFastExtension) { Outgoing = outgoing };
        lock (_peerGate)
        {
            foreach (var existing in _peers.Values)
            {
                if (existing.Connection.RemoteHandshake?.PeerIdBytes.SequenceEqual(theirs.PeerIdBytes) != true) continue;
                bool keepNew = existing.Outgoing != outgoing && outgoing == weAreLow;
                if (!keepNew) return; // a duplicate: the connection we have is the one both sides keep
                existing.Connection.Close();
            }
            Swarm.AddPeer(id);
            _peers[id] = peer;
        }
        SendInitialState(peer);
        var uploads = peer.RunUploadsAsync(ct);
        RequestChokerRun();
        try
        {
            var result = await conn.RunAsync(peer, _limits, ct).ConfigureAwait(false);
            _ = result;
        }
        finally
        {
            peer.CompleteUploads();
            _peers.TryRemove(id, out _);
            _downloadedFrom.AddOrUpdate(remote.Address.ToString(), peer.PayloadFromPeer, (_, v) => v + peer.PayloadFromPeer);
            Swarm.RemovePeer(id);
            _origin?.RemovePeer(id);
            Interlocked.Add(ref _wireDown, conn.WireBytesReceived);
            Interlocked.Add(ref _wireUp, conn.WireBytesSent);
            try { await uploads.ConfigureAwait(false); } catch (OperationCanceledException) { }
            RequestChokerRun();
        }
    }

    private void SendInitialState(PeerSession peer)
    {
        if (peer.Connection.RemoteHandshake?.SupportsExtensionProtocol == true)
        {
            var ours = new Extensions.ExtensionHandshake
            {
                Messages = _options.Pex ? new Dictionary<string, byte> { [Extensions.PexMessage.ExtensionName] = Extensions.ExtensionHandshake.PexId } : new Dictionary<string, byte>(),
                ListenPort = LocalEndPoint?.Port,
                Client = "BlockSwarm 0.1",
                RequestQueue = 4096,
                MaxRequestLength = MaxRequestLength > SwarmOptions.BlockSize ? MaxRequestLength : null,
            };
            peer.Connection.Send(OutgoingMessage.Extended(0, ours.Encode()));
        }
        var have = Swarm.HaveSnapshot();
        if (peer.SupportsFast && have.IsComplete) peer.Connection.Send(OutgoingMessage.HaveAll);
        else if (peer.SupportsFast && have.IsEmpty) peer.Connection.Send(OutgoingMessage.HaveNone);
        else if (!have.IsEmpty) peer.Connection.Send(OutgoingMessage.Bitfield(have));
    }

    // ---- events from peers and workers ----------------------------------------------------

    internal void CountDownloaded(int bytes)
    {
        Interlocked.Add(ref _downloaded, bytes);
        _downRate.Add(bytes);
    }

    internal void CountUploadedFromFile(int bytes) => Interlocked.Add(ref _uploadedFromFile, bytes);

    internal void CountUploaded(PeerSession peer, int bytes)
    {
        Interlocked.Add(ref _uploaded, bytes);
        _upRate.Add(bytes);
        _origin?.OnBlockSent(bytes);
    }

    internal bool ShouldServe(SwarmPeerId peer, int piece) =>
        _origin is not { Active: true } origin || origin.ShouldServe(peer, piece);

    internal bool PexEnabled => _options.Pex;

    /// <summary>A peer learned through PEX: dial it like any other (bounded by the connection limit and bans).</summary>
    internal void OnPexPeer(IPEndPoint endPoint)
    {
        if (_bannedAddresses.ContainsKey(endPoint.Address) || _known.Count >= 4 * _options.MaxConnections) return;
        AddPeer(endPoint);
    }

    /// <summary>Tells every ut_pex peer which peers we are connected to (the tracker-less way peers learn of each other).</summary>
    private void SendPex()
    {
        if (!_options.Pex) return;
        var connected = new List<Extensions.PexPeer>();
        foreach (var p in _peers.Values)
            if (p.ListenEndPoint is { } ep) connected.Add(new Extensions.PexPeer(ep, Swarm.PeerIsSeed(p.Id) ? Extensions.PexFlags.Seed : Extensions.PexFlags.None));
        foreach (var p in _peers.Values)
        {
            byte id = p.Extensions?.IdOf(Extensions.PexMessage.ExtensionName) ?? 0;
            if (id == 0) continue;
            var msg = p.Pex.TryBuild(connected.Where(c => !c.EndPoint.Equals(p.ListenEndPoint)));
            if (msg != null) p.Connection.Send(OutgoingMessage.Extended(id, msg.Encode()));
        }
    }

    internal void SendCancel(SwarmPeerId peer, BlockRequest block)
    {
        // A block that went out inside a longer request (bs_reqlen) matches no queued request there: the peer sends the
        // run anyway and the copy is dropped as a duplicate, which is all endgame costs.
        if (_peers.TryGetValue(peer, out var p)) p.Connection.Send(OutgoingMessage.Cancel(block.Piece, block.Begin, block.Length));
    }

    internal void OnPieceVerified(int piece)
    {
        Swarm.PieceVerified(piece);
        foreach (var p in _peers.Values)
        {
            p.Connection.Send(OutgoingMessage.Have(piece));
            p.FillRequests();
        }
        PieceVerified?.Invoke(piece);
        if (Swarm.IsComplete)
        {
            foreach (var p in _peers.Values) p.RefreshInterest();
            _ = FinishAsync();
        }
    }

    internal void OnHashFailed(int piece)
    {
        var banned = new List<SwarmPeerId>();
        Swarm.PieceHashFailed(piece, banned);
        foreach (var id in banned)
        {
            if (_peers.TryGetValue(id, out var p))
            {
                _bannedAddresses.TryAdd(p.Remote.Address, 0);
                Interlocked.Increment(ref _banned);
                p.Connection.Close();
            }
        }
        foreach (var p in _peers.Values) p.FillRequests();
    }

    internal void Fail(Exception error)
    {
        _error ??= error;
        _completed.TrySetException(error);
        _stop.Cancel();
    }

    private int _finishing;

    private async Task FinishAsync()
    {
        if (Interlocked.Exchange(ref _finishing, 1) == 1) return;
        try
        {
            await Storage.FlushAsync(_stop.Token).ConfigureAwait(false);
            if (_options.ResumePath is { } path && Storage.IsWritable)
                await ResumeFile.CheckpointAsync(Storage, path, Torrent, _stop.Token).ConfigureAwait(false);
            _completed.TrySetResult();
        }
        catch (StorageException ex)
        {
            Fail(ex);
        }
        catch (OperationCanceledException)
        {
            _completed.TrySetCanceled();
        }
    }

    // ---- timers -----------------------------------------------------------------------------

    internal void RequestChokerRun()
    {
        try { _chokerSignal.Release(); } catch (SemaphoreFullException) { }
    }

    private async Task ChokerLoopAsync(CancellationToken ct)
    {
        var unchoke = new List<SwarmPeerId>();
        var candidates = new List<ChokerPeer>();
        Task? signal = null;
        while (!ct.IsCancellationRequested)
        {
            // Run on a signal (interest changed, peer came or went) or every 10 s (rotation).
            signal ??= _chokerSignal.WaitAsync(ct);
            try
            {
                await Task.WhenAny(signal, Task.Delay(TimeSpan.FromSeconds(10), Time, ct)).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { return; }
            if (ct.IsCancellationRequested) return;
            if (signal.IsCompleted) signal = null;
            candidates.Clear();
            foreach (var p in _peers.Values) candidates.Add(new ChokerPeer(p.Id, p.PeerInterested, p.Download.BytesPerSecond));
            unchoke.Clear();
            bool seeding = Swarm.IsComplete;
            _choker.Decide(candidates, seeding, unchoke);
            if (_origin != null) _origin.Active = seeding && _peers.Values.All(p => !Swarm.PeerIsSeed(p.Id));
            var set = new HashSet<SwarmPeerId>(unchoke);
            foreach (var p in _peers.Values)
            {
                bool shouldUnchoke = set.Contains(p.Id);
                if (shouldUnchoke && p.AmChoking)
                {
                    p.AmChoking = false;
                    p.Connection.Send(OutgoingMessage.Unchoke);
                }
                else if (!shouldUnchoke && !p.AmChoking)
                {
                    p.AmChoking = true;
                    p.Connection.Send(OutgoingMessage.Choke);
                }
            }
        }
    }

    private async Task TickLoopAsync(CancellationToken ct)
    {
        var timedOut = new List<PeerBlock>();
        long lastCheckpoint = Time.GetTimestamp();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), Time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                if (!Tick(timedOut, ct)) continue;
                if (_options.ResumePath is { } path && Storage.IsWritable && !Swarm.IsComplete
                    && Time.GetElapsedTime(lastCheckpoint) >= _options.CheckpointInterval)
                {
                    lastCheckpoint = Time.GetTimestamp();
                    try
                    {
                        await ResumeFile.CheckpointAsync(Storage, path, Torrent, ct).ConfigureAwait(false);
                    }
                    catch (StorageException ex)
                    {
                        Fail(ex);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One second's housekeeping: request timeouts, interest, pipelines, re-dials.</summary>
    private bool Tick(List<PeerBlock> timedOut, CancellationToken ct)
    {
        try
        {
            {
                timedOut.Clear();
                Swarm.Tick(timedOut);
                foreach (var pb in timedOut) SendCancel(pb.Peer, pb.Block);
                foreach (var p in _peers.Values)
                {
                    p.RefreshInterest();
                    p.FillRequests();
                }
                foreach (var (ep, state) in _known)
                    if (!state.Connected && _peers.Count < _options.MaxConnections && state.Due(Time)) _ = DialAsync(ep, ct);
                SendPex();
            }
            return true;
        }
        catch (InvalidOperationException ex)
        {
            // Never let one bad tick stop timeouts and re-dials for good; the error is kept for the stats.
            _error ??= ex;
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await _stop.CancelAsync().ConfigureAwait(false);
        _listener?.Stop();
        foreach (var p in _peers.Values) p.Connection.Close();
        try
        {
            await Task.WhenAll(_background).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        for (int i = 0; i < 100 && !_peers.IsEmpty; i++) await Task.Delay(10).ConfigureAwait(false);
        await Assembler.DisposeAsync().ConfigureAwait(false);
        _completed.TrySetCanceled();
        _stop.Dispose();
        _chokerSignal.Dispose();
    }

    /// <summary>Dial bookkeeping for one known address: exponential backoff from 2 s to 60 s.</summary>
    private sealed class DialState
    {
        private int _dialing;
        private long _nextAttempt;
        private TimeSpan _backoff = TimeSpan.FromSeconds(2);

        public volatile bool Connected;

        public bool Due(TimeProvider time) => Volatile.Read(ref _dialing) == 0 && time.GetTimestamp() >= Volatile.Read(ref _nextAttempt);

        public bool TryBegin() => Interlocked.CompareExchange(ref _dialing, 1, 0) == 0;

        public void End(TimeProvider time, bool connected)
        {
            // Wait the current backoff, then double it for the attempt after: retries at 2, 4, 8 ... 60 s.
            if (connected) _backoff = TimeSpan.FromSeconds(2);
            Volatile.Write(ref _nextAttempt, time.GetTimestamp() + (long)(_backoff.TotalSeconds * time.TimestampFrequency));
            if (!connected) _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, TimeSpan.FromSeconds(60).Ticks));
            Volatile.Write(ref _dialing, 0);
        }
    }
}
