using System.Diagnostics;
using System.Net;
using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Engine.Swarm;
using BlockSwarm.Metainfo;
using BlockSwarm.Tracker;
using BlockSwarm.Tracker.Client;

namespace BlockSwarm.Simulation;

/// <summary>
/// A deployment on virtual time: one origin and N clients on a <see cref="Topology"/>, each running the engine's own
/// policy objects, the clients meeting through the real <see cref="Tracker.Tracker"/>, the bytes moved by a fluid
/// model of the links (<see cref="FairShare"/>, recomputed every <see cref="SimulationOptions.Step"/>).
/// </summary>
/// <remarks>
/// What is modelled as the engine does it (same calls, same order as <c>TorrentSession</c>/<c>PeerSession</c>/
/// <c>ChokeScheduler</c>): the origin dialed from the job and the tracker's peers dialed at once, the connection limit on
/// both sides (refused after the handshake, redialed with <see cref="DialState"/>'s backoff), bitfields and HAVEs,
/// interest, the choker on a signal and every 10 s, the origin's spreading on while no seed is connected to it, the
/// request pipeline topped up in batches as runs of up to <see cref="TorrentOptions.MaxRequestLength"/>, REJECTs
/// (answered a step later), CANCELs of endgame duplicates, the 1 s tick (timeouts, interest, refills, re-dials), the
/// assembling budget, tracker announces every interval and on completion.
/// Not modelled: hashing, disk writes and CPU (a client is as fast as its cable), TCP slow start and loss (flows get
/// their max-min fair share at once), PEX (one message a minute: runs here are shorter), compression.
/// </remarks>
public sealed class Simulator
{
    private static readonly TimeSpan ChokeRotation = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan TickInterval = TimeSpan.FromSeconds(1);

    private readonly SimulationOptions _o;
    private readonly SimClock _clock = new();
    private readonly Topology _net;
    private readonly SimPeer[] _peers;
    private readonly Tracker.Tracker _tracker;
    private readonly InfoHash _infoHash;
    private readonly Dictionary<IPAddress, int> _hostOf = [];
    private readonly Random _random;
    private readonly FairShare _fair = new();
    private readonly int _pieceLength;
    private readonly int _maxRequest;
    private readonly int _dialLimit;
    private readonly bool _locality;
    private readonly long _assembling;
    private readonly double[] _linkBytes;

    // Deferred work: dials land after ConnectDelay, REJECTs a step after the request.
    private readonly List<(long Due, SimPeer From, int To, DialState State)> _dials = [];
    private List<(SimConn Conn, BlockRequest Run)> _rejects = [], _rejectsNext = [];

    // Scratch.
    private readonly List<BlockRequest> _picked = [];
    private readonly List<PeerHandle> _cancelTo = [];
    private readonly List<PeerBlock> _timedOut = [];
    private readonly List<ChokerPeer> _candidates = [];
    private readonly List<PeerHandle> _unchoke = [];
    private readonly HashSet<PeerHandle> _unchokeSet = [];
    private readonly List<SimConn> _flows = [];
    private int[] _path = new int[1024 * FairShare.MaxHops];
    private byte[] _hops = new byte[1024];
    private double[] _rates = new double[1024];

    public Simulator(SimulationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.ImageBytes, 0);
        _o = options;
        _random = new Random(options.Seed);
        _net = new Topology(options.Network, options.PayloadShare);
        _linkBytes = new double[_net.LinkCount];
        _pieceLength = options.PieceLength ?? PieceSizing.Auto(options.ImageBytes);
        _maxRequest = options.Torrent.MaxRequestLength;
        _dialLimit = options.DialLimit ?? ConnectionPolicy.DialLimit(options.Torrent);
        _assembling = options.AssemblingBytes ?? PieceMemory.Split(StorageOptions.DefaultCacheBytes, _pieceLength).AssemblingCapacity;
        // Switch awareness works on subnets; the simulated LAN has one /24 per access switch. One flat switch is one subnet.
        _locality = options.Locality && _net.SwitchCount > 1;
        _tracker = new Tracker.Tracker(_locality ? options.Tracker : options.Tracker with { LocalShare = 0 }, null, _clock, new Random(options.Seed * 31 + 7));
        var hash = new byte[20];
        new Random(options.Seed).NextBytes(hash);
        _infoHash = new InfoHash(hash);
        _peers = new SimPeer[_net.HostCount];
        for (int h = 0; h < _net.HostCount; h++)
        {
            var peer = CreatePeer(h);
            _peers[h] = peer;
            _hostOf[_net.Address(h)] = h;
        }
        var origin = _peers[0];
        origin.Swarm.MarkHaveAll();
        origin.Up = true;
        origin.StartAt = 0;
        // The clients come up in a seeded random order (machines boot as they do), spread evenly over StartSpread; those
        // that come up in the same step dial in that order too.
        int n = _net.HostCount - 1;
        _startOrder = [.. Enumerable.Range(1, n).OrderBy(_ => _random.Next())];
        for (int i = 0; i < n; i++)
        {
            double spread = n > 1 ? options.StartSpread.TotalSeconds * i / (n - 1) : 0;
            _peers[_startOrder[i]].StartAt = options.StartDelay.TotalSeconds + spread;
        }
    }

    private readonly int[] _startOrder;

    public Topology Network => _net;

    private SimPeer CreatePeer(int host)
    {
        var swarmRandom = new Random(_o.Seed * 7919 + host);
        SimPeer? self = null;
        var peerId = new byte[20];
        new Random(_o.Seed * 15485863 + host).NextBytes(peerId);
        "-BS0100-"u8.CopyTo(peerId);
        var swarm = new SwarmState(_o.ImageBytes, _pieceLength, _o.Torrent.Swarm, _clock, swarmRandom, bytes => self!.Started += bytes)
        {
            RendezvousKey = SwarmState.RendezvousKeyOf(peerId),
        };
        var choker = new Choker(_o.Torrent.Choker, _clock, new Random(_o.Seed * 104729 + host));
        var origin = host == 0 && _o.Torrent.OriginSpreading ? new OriginServePolicy(swarm, _clock) : null;
        self = new SimPeer(host, swarm, choker, origin, peerId);
        self.Allowance = () => PieceMemory.PiecesThatFit(_assembling, self.Started, _pieceLength);
        // Ticks are a second apart for every peer, at its own phase (as each process's timer is).
        self.NextTick = (long)(swarmRandom.NextDouble() * TickInterval.Ticks);
        return self;
    }

    /// <summary>Runs the deployment to its end (every client still there complete) or <see cref="SimulationOptions.MaxTime"/>.</summary>
    public SimulationResult Run()
    {
        var wall = Stopwatch.StartNew();
        int clients = _net.HostCount - 1;
        var vanished = new bool[_net.HostCount];
        var vanishAt = _o.VanishAt.Ticks;
        bool vanishDone = _o.VanishFraction <= 0;
        var complete = new List<double>();
        var utilisation = new List<double>();
        var originShare = new List<double>();
        int steps = 0;
        long nextSecond = 0;
        double allSent = double.NaN;
        while (true)
        {
            long now = _clock.GetTimestamp();
            if (now >= nextSecond)
            {
                complete.Add(CompletedFraction(clients));
                if (nextSecond > 0) RecordSecond(utilisation, originShare);
                nextSecond += TimeSpan.TicksPerSecond;
            }
            StartDue(now);
            if (!vanishDone && now >= vanishAt)
            {
                Vanish(vanished);
                vanishDone = true;
            }
            ApplyOutages(now);
            DeliverRejects();
            ResolveDials(now);
            Housekeeping(now);
            Transfer(_o.Step.TotalSeconds);
            if (double.IsNaN(allSent) && _peers[0].Origin is { UnsentPieces: 0 }) allSent = _clock.Now + _o.Step.TotalSeconds;
            steps++;
            _clock.Advance(_o.Step);
            if (Done() || _clock.GetTimestamp() > _o.MaxTime.Ticks) break;
        }
        complete.Add(CompletedFraction(clients));
        var completed = new double?[_net.HostCount];
        for (int h = 1; h < _net.HostCount; h++) completed[h] = _peers[h].CompletedAt;
        bool all = Done();
        double t = all ? Enumerable.Range(1, clients).Where(h => !vanished[h]).Max(h => _peers[h].CompletedAt!.Value) : double.NaN;
        double f = _o.ImageBytes;
        var uplinks = new List<UplinkLoad>();
        if (_net.SwitchCount > 1)
            for (int s = 0; s < _net.SwitchCount; s++)
                uplinks.Add(new UplinkLoad(s, _linkBytes[_net.UplinkUp(s)] / f, _linkBytes[_net.UplinkDown(s)] / f));
        return new SimulationResult
        {
            Options = _o,
            CompletedAt = completed,
            Vanished = vanished,
            T = t,
            Floor = f * 8 / _o.Network.AccessRate,
            OriginCopies = _peers[0].Uploaded / f,
            PeerCopies = _peers.Skip(1).Sum(p => (double)p.Uploaded) / f,
            Uplinks = uplinks,
            PieceLength = _pieceLength,
            Steps = steps,
            WallSeconds = wall.Elapsed.TotalSeconds,
            CompleteBySecond = [.. complete],
            UtilisationBySecond = [.. utilisation],
            OriginRateBySecond = [.. originShare],
            OriginSentAllAt = allSent,
        };
    }

    /// <summary>
    /// The second that just ended: what the clients still downloading received ÷ what their cables could carry, and the
    /// origin's upload ÷ its cable.
    /// </summary>
    private void RecordSecond(List<double> utilisation, List<double> originShare)
    {
        double received = 0;
        int downloading = 0;
        for (int h = 1; h < _peers.Length; h++)
        {
            var p = _peers[h];
            received += p.ReceivedThisSecond;
            if (p.ReceivedThisSecond > 0 || (p.Up && p.CompletedAt == null)) downloading++;
            p.ReceivedThisSecond = 0;
        }
        double cable = _o.Network.AccessRate / 8 * _o.PayloadShare;
        utilisation.Add(downloading == 0 ? 0 : received / (downloading * cable));
        originShare.Add(_peers[0].UploadedThisSecond / cable);
        _peers[0].UploadedThisSecond = 0;
    }

    /// <summary>Every host's state in one line each (for a run that did not complete).</summary>
    public string Dump()
    {
        var sb = new System.Text.StringBuilder();
        foreach (var p in _peers)
        {
            int interested = p.Conns.Count(c => c.AmInterested), unchokedUs = p.Conns.Count(c => !p.Swarm.IsChokingUs(c.RemoteHandle));
            int theyWant = p.Conns.Count(c => c.PeerInterested), iUnchoke = p.Conns.Count(c => !c.AmChoking);
            sb.AppendLine(System.Globalization.CultureInfo.InvariantCulture,
                $"host {p.Host}: up={p.Up} have={p.Swarm.HaveCount}/{p.Swarm.PieceCount} conns={p.Conns.Count} known={p.Known.Count} origin={(p.ByHost.ContainsKey(0) ? "yes" : "no")} interested-in={interested} unchoked-by={unchokedUs} wanted-by={theyWant} unchoking={iUnchoke} queued={p.Conns.Sum(c => c.Queued)} started={p.Started >> 10} KiB uploaded={p.Uploaded >> 20} MiB");
        }
        return sb.ToString();
    }

    private double CompletedFraction(int clients)
    {
        int done = 0;
        for (int h = 1; h < _peers.Length; h++)
            if (_peers[h].CompletedAt != null) done++;
        return (double)done / clients;
    }

    private bool Done()
    {
        for (int h = 1; h < _peers.Length; h++)
            if (!_peers[h].Vanished && _peers[h].CompletedAt == null) return false;
        return true;
    }

    // ---- life cycle ------------------------------------------------------------------------------

    private void StartDue(long now)
    {
        double t = _clock.Now;
        foreach (int h in _startOrder)
        {
            var p = _peers[h];
            if (p.Up || p.Vanished || p.StartAt > t) continue;
            p.Up = true;
            // deploy: the origin's address comes with the job; the tracker introduces the others.
            AddKnown(p, 0, now);
            Announce(p, AnnounceEvent.Started, now);
        }
    }

    private void Vanish(bool[] vanished)
    {
        int clients = _peers.Length - 1;
        int count = (int)Math.Round(clients * _o.VanishFraction);
        // A seeded choice of which clients lose power; they say goodbye to nobody (the tracker keeps listing them).
        var order = Enumerable.Range(1, clients).OrderBy(_ => _random.Next()).Take(count);
        foreach (int h in order)
        {
            var p = _peers[h];
            vanished[h] = true;
            p.Vanished = true;
            p.Up = false;
            p.CompletedAt = null;
            foreach (var c in p.Conns.ToList()) Close(c);
        }
    }

    private void ApplyOutages(long now)
    {
        foreach (var o in _o.Outages)
        {
            bool down = now >= o.At.Ticks && now < (o.At + o.Duration).Ticks;
            foreach (int link in new[] { _net.UplinkUp(o.Switch), _net.UplinkDown(o.Switch) })
                if (link >= 0) _net.Capacity[link] = down ? 0 : _net.BaseCapacity[link];
        }
    }

    private void Announce(SimPeer p, AnnounceEvent e, long now)
    {
        var result = _tracker.Announce(new AnnounceRequest
        {
            InfoHash = _infoHash,
            PeerId = p.PeerId,
            Port = 6881,
            Left = p.Swarm.IsComplete ? 0 : _o.ImageBytes - (long)p.Swarm.HaveCount * _pieceLength,
            Event = e,
            NumWant = _o.NumWant,
            Compact = true,
        }, _net.Address(p.Host));
        if (result.FailureReason is { } why) throw new InvalidOperationException($"the tracker refused client {p.Host}: {why}");
        p.NextAnnounce = now + result.Interval.Ticks;
        foreach (var peer in result.Peers)
            if (_hostOf.TryGetValue(peer.EndPoint.Address, out int h) && h != p.Host) AddKnown(p, h, now);
    }

    /// <summary>TorrentSession.AddPeer: a new address is dialed at once (the connection limit is checked after the handshake).</summary>
    private void AddKnown(SimPeer p, int host, long now)
    {
        if (p.Known.ContainsKey(host)) return;
        var state = new DialState();
        p.Known[host] = state;
        p.KnownOrder.Add(host);
        if (ConnectionPolicy.MayDial(p.Conns.Count, p.Dialing, _dialLimit)) BeginDial(p, host, state, now);
    }

    private void BeginDial(SimPeer p, int host, DialState state, long now)
    {
        if (!state.TryBegin()) return;
        p.Dialing++;
        _dials.Add((now + _o.ConnectDelay.Ticks, p, host, state));
    }

    private void ResolveDials(long now)
    {
        int kept = 0;
        for (int i = 0; i < _dials.Count; i++)
        {
            var d = _dials[i];
            if (d.Due > now)
            {
                _dials[kept++] = d;
                continue;
            }
            var from = d.From;
            var to = _peers[d.To];
            from.Dialing--;
            if (!from.Up)
            {
                d.State.End(_clock, connected: false);
                continue;
            }
            if (!to.Up)
            {
                // Nobody listening: refused, or no answer from a machine that is off.
                d.State.End(_clock, connected: false);
                continue;
            }
            int limit = _o.Torrent.MaxConnections, toLimit = to.Host == 0 ? _o.OriginMaxConnections : limit;
            if (from.ByHost.ContainsKey(to.Host) || from.Conns.Count >= limit || to.Conns.Count >= toLimit)
            {
                // The handshake went through, then one side closed it (a duplicate, or over its limit): retried in 2 s.
                d.State.End(_clock, connected: true);
                continue;
            }
            Connect(from, to, d.State);
        }
        _dials.RemoveRange(kept, _dials.Count - kept);
    }

    private void Connect(SimPeer a, SimPeer b, DialState dial)
    {
        dial.Connected = true;
        var ab = new SimConn(a, b, outgoing: true) { Dial = dial };
        var ba = new SimConn(b, a, outgoing: false);
        ab.Mirror = ba;
        ba.Mirror = ab;
        // Behind another switch, as the engine tells it: another subnet.
        bool remote = _locality && ConnectionPolicy.IsBehindOtherSwitch(_o.Torrent, _net.Address(a.Host), _net.Address(b.Host));
        foreach (var (self, conn) in new[] { (a, ab), (b, ba) })
        {
            self.Conns.Add(conn);
            self.ByHost[conn.Remote.Host] = conn;
            self.Swarm.AddPeer(conn.RemoteHandle, remote, SwarmState.RendezvousKeyOf(conn.Remote.PeerId));
        }
        // Each side's initial state (HAVE_ALL, HAVE_NONE or BITFIELD), then interest.
        ReceiveInitialState(ab, b);
        ReceiveInitialState(ba, a);
        a.ChokeRequested = true;
        b.ChokeRequested = true;
    }

    private void ReceiveInitialState(SimConn conn, SimPeer sender)
    {
        var swarm = conn.Owner.Swarm;
        var have = sender.Swarm.HaveSnapshot();
        bool interesting;
        if (have.IsComplete) interesting = swarm.OnHaveAll(conn.RemoteHandle);
        else if (have.IsEmpty)
        {
            swarm.OnHaveNone(conn.RemoteHandle);
            interesting = false;
        }
        else interesting = swarm.OnBitfield(conn.RemoteHandle, have);
        UpdateInterest(conn, interesting);
    }

    private void Close(SimConn conn)
    {
        if (!conn.Open) return;
        foreach (var side in new[] { conn, conn.Mirror })
        {
            side.Open = false;
            var owner = side.Owner;
            owner.Conns.Remove(side);
            owner.ByHost.Remove(side.Remote.Host);
            owner.Swarm.RemovePeer(side.RemoteHandle);
            owner.Origin?.RemovePeer(side.RemoteHandle);
            side.ClearUploads();
            owner.ChokeRequested = true;
            if (side.Dial is { } dial)
            {
                dial.Connected = false;
                dial.End(_clock, connected: true);
            }
        }
    }

    // ---- periodic work -------------------------------------------------------------------------

    private void Housekeeping(long now)
    {
        int n = _peers.Length;
        int offset = _random.Next(n);
        for (int k = 0; k < n; k++)
        {
            var p = _peers[(k + offset) % n];
            if (!p.Up) continue;
            if (now >= p.NextTick)
            {
                p.NextTick += TickInterval.Ticks;
                Tick(p, now);
            }
            if (p.ChokeRequested || now >= p.NextChoke)
            {
                p.ChokeRequested = false;
                p.NextChoke = now + ChokeRotation.Ticks;
                Choke(p);
            }
            if (p.Host != 0 && now >= p.NextAnnounce) Announce(p, AnnounceEvent.None, now);
        }
    }

    /// <summary>TorrentSession.Tick: timeouts (CANCEL), interest and pipelines, re-dials.</summary>
    private void Tick(SimPeer p, long now)
    {
        _timedOut.Clear();
        p.Swarm.Tick(_timedOut);
        foreach (var pb in _timedOut) SendCancel(p, pb.Peer, pb.Block);
        // Nothing in these loops opens or closes a connection (a change would make foreach throw): no copy of the list.
        foreach (var c in p.Conns)
        {
            RefreshInterest(c);
            FillRequests(c);
        }
        DropSeeds(p);
        foreach (int host in p.KnownOrder)
        {
            var state = p.Known[host];
            if (state.Connected || !state.Due(_clock)) continue; // Due is false for an address closed as redundant
            if (!ConnectionPolicy.MayDial(p.Conns.Count, p.Dialing, _dialLimit)) break;
            BeginDial(p, host, state, now);
        }
    }

    /// <summary>TorrentSession.CloseRedundant: a seed closes its connections to seeds, and does not dial them again.</summary>
    private void DropSeeds(SimPeer p)
    {
        if (!_o.DropSeeds || !p.Swarm.IsComplete) return;
        foreach (var c in p.Conns.ToArray())
        {
            if (!ConnectionPolicy.IsRedundant(true, p.Swarm.PeerIsSeed(c.RemoteHandle))) continue;
            if (p.Known.TryGetValue(c.Remote.Host, out var state)) state.Redundant = true;
            Close(c);
        }
    }

    /// <summary>ChokeScheduler.Decide: the choker's choice, origin spreading while no seed is connected, CHOKE/UNCHOKE.</summary>
    private void Choke(SimPeer p)
    {
        _candidates.Clear();
        foreach (var c in p.Conns) _candidates.Add(new ChokerPeer(c.RemoteHandle, c.PeerInterested, p.Swarm.PeerHaveCount(c.RemoteHandle)));
        _unchoke.Clear();
        bool seeding = p.Swarm.IsComplete;
        p.Choker.Decide(_candidates, seeding, _unchoke, p.Uploaded);
        if (p.Origin is { } origin)
        {
            bool onlySeed = seeding;
            foreach (var c in p.Conns)
                if (p.Swarm.PeerIsSeed(c.RemoteHandle)) onlySeed = false;
            origin.Active = onlySeed;
        }
        _unchokeSet.Clear();
        _unchokeSet.UnionWith(_unchoke);
        foreach (var c in p.Conns)
        {
            bool unchoke = _unchokeSet.Contains(c.RemoteHandle);
            if (unchoke && c.AmChoking)
            {
                c.AmChoking = false;
                var them = c.Mirror;
                them.Owner.Swarm.OnUnchoked(them.RemoteHandle);
                FillRequests(them);
            }
            else if (!unchoke && !c.AmChoking)
            {
                c.AmChoking = true;
                c.Mirror.Owner.Swarm.OnChoked(c.Mirror.RemoteHandle);
            }
        }
    }

    // ---- messages ---------------------------------------------------------------------------------

    /// <summary>PeerSession.UpdateInterest.</summary>
    private void UpdateInterest(SimConn c, bool interesting)
    {
        if (!c.Open) return;
        if (interesting && !c.AmInterested)
        {
            c.AmInterested = true;
            c.Mirror.PeerInterested = true;
            c.Remote.ChokeRequested = true;
        }
        FillRequests(c);
    }

    /// <summary>PeerSession.RefreshInterest.</summary>
    private static void RefreshInterest(SimConn c)
    {
        if (!c.Open) return;
        bool interesting = c.Owner.Swarm.IsInteresting(c.RemoteHandle);
        if (c.AmInterested == interesting) return;
        c.AmInterested = interesting;
        c.Mirror.PeerInterested = interesting;
        c.Remote.ChokeRequested = true;
    }

    /// <summary>PeerSession.FillRequests: the picker's blocks, as runs of up to the longest request, to the uploader.</summary>
    private void FillRequests(SimConn c)
    {
        var swarm = c.Owner.Swarm;
        if (!c.Open || !c.AmInterested || swarm.IsComplete) return;
        _picked.Clear();
        swarm.PickRequests(c.RemoteHandle, int.MaxValue, _picked, c.Owner.Allowance!, minBatch: PeerSession.RequestBatch,
            grain: _maxRequest / SwarmOptions.BlockSize);
        for (int i = 0; i < _picked.Count;)
        {
            var run = PeerSession.NextRun(_picked, ref i, _maxRequest);
            OnRequest(c.Mirror, run);
        }
        if (!_o.ImportIntents || _picked.Count == 0 || !swarm.IsBehindOtherSwitch(c.RemoteHandle)) return;
        var imports = swarm.TakeImportsToAnnounce();
        if (imports.Length == 0) return;
        foreach (var local in c.Owner.Conns)
        {
            if (swarm.IsBehindOtherSwitch(local.RemoteHandle)) continue;
            foreach (int piece in imports) local.Mirror.Owner.Swarm.OnImporting(local.Mirror.RemoteHandle, piece);
        }
    }

    /// <summary>PeerSession.OnRequest at the uploader (<paramref name="c"/> is its side): queue it, or REJECT.</summary>
    private void OnRequest(SimConn c, BlockRequest run)
    {
        var up = c.Owner;
        bool serve = !c.AmChoking && up.Swarm.Have(run.Piece) && c.Queued < PeerSession.MaxQueuedUploads
            && (up.Origin is not { Active: true } origin || origin.ShouldServe(c.RemoteHandle, run.Piece));
        if (!serve)
        {
            _rejectsNext.Add((c.Mirror, run));
            return;
        }
        c.Cancelled.Remove(run);
        c.Uploads.Add(run);
    }

    private void DeliverRejects()
    {
        (_rejects, _rejectsNext) = (_rejectsNext, _rejects);
        foreach (var (c, run) in _rejects)
        {
            if (!c.Open) continue;
            c.Owner.Swarm.OnRejected(c.RemoteHandle, run);
            FillRequests(c);
        }
        _rejects.Clear();
    }

    /// <summary>TorrentSession.CancelUplinkRequests: what a local HAVE released from remote peers, cancelled run by run.</summary>
    private void CancelUplinkRequests(SimPeer p)
    {
        var released = p.Swarm.TakeUplinkCancels();
        if (released.Length == 0) return;
        _cancelRuns.Clear();
        PeerSession.CancelRuns(released, _ => _maxRequest, _cancelRuns);
        foreach (var (peer, run) in _cancelRuns) SendCancel(p, peer, run);
    }

    private readonly List<PeerBlock> _cancelRuns = [];

    private void SendCancel(SimPeer from, PeerHandle to, BlockRequest block)
    {
        // The uploader's side of the connection keeps the cancel while it has requests queued.
        if (from.ByHost.TryGetValue(to.Value, out var c) && c.Mirror.Cancelled.Count < c.Mirror.Queued) c.Mirror.Cancelled.Add(block);
    }

    /// <summary>A run arrived at <paramref name="c"/>'s owner: PeerSession.OnRunAsync and PieceAssembler.Accept, block by block.</summary>
    private void OnRun(SimConn c, BlockRequest run)
    {
        var me = c.Owner;
        me.ReceivedThisSecond += run.Length;
        for (int begin = run.Begin; c.Open && begin < run.Begin + run.Length; begin += SwarmOptions.BlockSize)
        {
            var block = new BlockRequest(run.Piece, begin, Math.Min(SwarmOptions.BlockSize, run.Begin + run.Length - begin));
            _cancelTo.Clear();
            var status = me.Swarm.BlockReceived(c.RemoteHandle, block, _cancelTo);
            foreach (var other in _cancelTo) SendCancel(me, other, block);
            if (status == BlockReceivedStatus.Invalid) throw new InvalidOperationException($"client {me.Host} got an invalid block {block}");
            if (status == BlockReceivedStatus.PieceComplete) OnPieceVerified(me, run.Piece);
        }
        FillRequests(c);
    }

    /// <summary>TorrentSession.OnPieceVerified: ours now, HAVE to everyone and refill; complete: drop interest, announce.</summary>
    private void OnPieceVerified(SimPeer me, int piece)
    {
        me.Swarm.PieceVerified(piece);
        foreach (var c in me.Conns)
        {
            var them = c.Mirror;
            UpdateInterest(them, them.Owner.Swarm.OnHave(them.RemoteHandle, piece));
            CancelUplinkRequests(them.Owner);
            FillRequests(c);
        }
        if (!me.Swarm.IsComplete) return;
        me.CompletedAt = _clock.Now + _o.Step.TotalSeconds;
        foreach (var c in me.Conns) RefreshInterest(c);
        Announce(me, AnnounceEvent.Completed, _clock.GetTimestamp());
        DropSeeds(me);
    }

    // ---- the network ------------------------------------------------------------------------------

    private void Transfer(double seconds)
    {
        _flows.Clear();
        foreach (var p in _peers)
        {
            if (!p.Up) continue;
            foreach (var c in p.Conns)
                if (c.Queued > 0) _flows.Add(c);
        }
        int flows = _flows.Count;
        if (flows == 0) return;
        if (_hops.Length < flows)
        {
            int size = Math.Max(flows, _hops.Length * 2);
            _hops = new byte[size];
            _rates = new double[size];
            _path = new int[size * FairShare.MaxHops];
        }
        for (int f = 0; f < flows; f++)
        {
            var c = _flows[f];
            _hops[f] = (byte)_net.Path(c.Owner.Host, c.Remote.Host, _path.AsSpan(f * FairShare.MaxHops, FairShare.MaxHops));
        }
        _fair.Compute(flows, _path, _hops, _net.Capacity, _rates);
        int offset = _random.Next(flows);
        for (int k = 0; k < flows; k++)
        {
            int f = (k + offset) % flows;
            Send(_flows[f], _rates[f] * seconds, f);
        }
    }

    /// <summary>PeerSession.RunUploadsAsync for one step: cancelled requests dropped, choked ones rejected, the rest sent.</summary>
    private void Send(SimConn c, double bytes, int flow)
    {
        if (!c.Open) return;
        c.Credit += bytes;
        var up = c.Owner;
        while (c.Open && c.Queued > 0)
        {
            var r = c.Uploads[c.UploadHead];
            if (c.Cancelled.Remove(r))
            {
                c.Dequeue();
                continue;
            }
            if (c.AmChoking)
            {
                c.Dequeue();
                _rejectsNext.Add((c.Mirror, r));
                continue;
            }
            if (c.Credit < r.Length) break;
            c.Dequeue();
            c.Credit -= r.Length;
            for (int h = 0; h < _hops[flow]; h++) _linkBytes[_path[flow * FairShare.MaxHops + h]] += r.Length;
            up.Uploaded += r.Length;
            up.UploadedThisSecond += r.Length;
            up.Origin?.OnBlockSent(r.Length);
            OnRun(c.Mirror, r);
        }
        if (c.Queued == 0)
        {
            c.Credit = 0;
            c.Cancelled.Clear();
        }
    }
}
