using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using BlockSwarm.Metainfo;
using BlockSwarm.Tracker.Client;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Tracker;

/// <summary>
/// The tracker core: announce and scrape over parsed requests, no I/O. Thread-safe; each swarm
/// has its own lock so announces to different torrents never contend. Time and randomness are
/// injected so expiry and peer sampling are deterministic in tests. The HTTP front
/// (<see cref="TrackerEndpoints"/>) and any embedding server call <see cref="HandleAnnounce"/>
/// and <see cref="HandleScrape"/>, which never throw and always produce a bencoded dictionary.
/// </summary>
public sealed class Tracker
{
    private readonly ConcurrentDictionary<InfoHash, Swarm> _swarms = new();
    private readonly TimeProvider _time;
    private readonly Random _seedSource;
    private readonly AnnounceRateLimiter _rateLimiter;
    private readonly ILogger _log;
    private readonly AnnounceProofVerifier? _proofs;
    private int _swarmCount;

    public Tracker(TrackerOptions? options = null, AllowList? allowList = null, TimeProvider? time = null, Random? random = null)
    {
        Options = options ?? new TrackerOptions();
        AllowList = allowList;
        _time = time ?? TimeProvider.System;
        _seedSource = random ?? new Random();
        _log = Options.LoggerFactory.CreateLogger<Tracker>();
        _rateLimiter = new AnnounceRateLimiter(_time, Options.AnnouncesPerSecondPerIp, Options.AnnounceBurst, Options.MaxRateLimitedSources);
        if (Options.SwarmSecret is { } secret)
            _proofs = new AnnounceProofVerifier(secret, _time, Options.ProofWindow, Options.MaxRememberedProofs);
    }

    public TrackerOptions Options { get; }

    /// <summary>When set, only these info-hashes are served; others get a failure reason.</summary>
    public AllowList? AllowList { get; }

    public int SwarmCount => Volatile.Read(ref _swarmCount);

    /// <summary>True when every announce must prove <see cref="TrackerOptions.SwarmSecret"/> and scrape is refused.</summary>
    public bool RequiresSecret => _proofs is not null;

    /// <summary>Accepted proofs remembered against replays (0 without a secret).</summary>
    internal int RememberedProofs => _proofs?.Count ?? 0;

    /// <summary>Parses, announces and writes the bencoded answer (a failure reason on any error).</summary>
    public void HandleAnnounce(ReadOnlySpan<char> query, IPAddress source, IBufferWriter<byte> output)
    {
        AnnounceResult result;
        var compact = true;
        var noPeerId = false;
        try
        {
            if (TrackerQuery.TryParseAnnounce(query, out var request, out var error))
            {
                compact = request!.Compact;
                noPeerId = request.NoPeerId;
                result = Announce(request, source);
            }
            else
            {
                TrackerLog.AnnounceMalformed(_log, source, error!);
                result = AnnounceResult.Failure(error!);
            }
        }
        catch (Exception ex)
        {
            // A bug must cost one request, never the server; the client sees a failure it can retry.
            TrackerLog.AnnounceError(_log, source, ex);
            result = AnnounceResult.Failure("internal error: " + ex.GetType().Name);
        }
        TrackerResponseWriter.WriteAnnounce(result, compact, noPeerId, output);
    }

    /// <summary>
    /// Parses a scrape query and writes the bencoded answer; with a swarm secret, a failure reason instead (a scrape
    /// carries no proof, and a secret swarm's counts are no one else's business).
    /// </summary>
    public void HandleScrape(ReadOnlySpan<char> query, IBufferWriter<byte> output, IPAddress? source = null)
    {
        if (_proofs is not null)
        {
            TrackerLog.ScrapeRefused(_log, source ?? IPAddress.None);
            TrackerResponseWriter.WriteFailure(AnnounceProof.Refusal + " (scrape is off)", output);
            return;
        }
        try
        {
            if (!TrackerQuery.TryParseScrape(query, Options.MaxScrapeHashes, out var hashes, out var error))
            {
                TrackerLog.ScrapeMalformed(_log, error!);
                TrackerResponseWriter.WriteFailure(error!, output);
                return;
            }
            TrackerResponseWriter.WriteScrape(Scrape(hashes), output);
        }
        catch (Exception ex)
        {
            TrackerLog.ScrapeError(_log, ex);
            TrackerResponseWriter.WriteFailure("internal error: " + ex.GetType().Name, output);
        }
    }

    public AnnounceResult Announce(AnnounceRequest request, IPAddress source)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(source);
        source = TrackerQuery.Normalize(source);
        if (!_rateLimiter.TryAcquire(source, out var startedLimiting))
        {
            if (startedLimiting) TrackerLog.RateLimited(_log, source, Options.AnnounceBurst, Options.AnnouncesPerSecondPerIp);
            else TrackerLog.RateLimitedAgain(_log, source, request.InfoHash);
            return AnnounceResult.Failure("rate limited: announce less often");
        }
        // Before anything that depends on the info-hash: an announce without the proof learns nothing, not even
        // whether the torrent is on the allow list.
        if (_proofs?.Check(request) is { } unproven)
        {
            TrackerLog.AnnounceUnproven(_log, source, request.InfoHash, unproven);
            return AnnounceResult.Failure($"{AnnounceProof.Refusal} ({unproven})");
        }
        if (AllowList != null && !AllowList.Contains(request.InfoHash))
        {
            TrackerLog.AnnounceNotAllowed(_log, source, request.InfoHash);
            return AnnounceResult.Failure("unregistered torrent");
        }

        var address = request.ClaimedIp != null && IsTrusted(source) ? request.ClaimedIp : source;
        var endPoint = new IPEndPoint(address, request.Port);
        var key = PeerKey.From(request.PeerId.Span);

        while (true)
        {
            Swarm? swarm;
            if (request.Event == AnnounceEvent.Stopped)
            {
                // A stopping peer never creates a swarm and needs no peers back.
                if (!_swarms.TryGetValue(request.InfoHash, out swarm)) return Counts(null, []);
            }
            else if ((swarm = GetOrCreate(request.InfoHash)) is null)
            {
                TrackerLog.TrackerFull(_log, source, request.InfoHash, Options.MaxSwarms);
                return AnnounceResult.Failure("tracker is full: too many torrents");
            }

            AnnounceResult result;
            lock (swarm.Gate)
            {
                if (swarm.Removed) continue; // the sweep unlinked it between lookup and lock
                result = AnnounceLocked(swarm, request, key, endPoint);
            }
            TrackerLog.Announced(_log, request.Event, endPoint, request.InfoHash, request.Left, result.Peers.Count, result.Complete, result.Incomplete);
            return result;
        }
    }

    private AnnounceResult AnnounceLocked(Swarm swarm, AnnounceRequest request, PeerKey key, IPEndPoint endPoint)
    {
        swarm.Peers.TryGetValue(key, out var self);
        if (request.Event == AnnounceEvent.Stopped)
        {
            if (self != null) swarm.Remove(self);
            return Counts(swarm, []);
        }

        if (self == null && swarm.Peers.Count < Options.MaxPeersPerSwarm)
        {
            self = new SwarmPeer(request.PeerId.ToArray(), endPoint) { IsSeeder = request.IsSeeder };
            swarm.Add(self);
        }
        if (self != null)
        {
            if (!self.EndPoint.Equals(endPoint)) self.SetEndPoint(endPoint);
            swarm.SetSeeder(self, request.IsSeeder);
            self.LastSeen = _time.GetTimestamp();
            if (request.Event == AnnounceEvent.Completed && !self.CountedCompletion)
            {
                self.CountedCompletion = true;
                swarm.Downloaded++;
            }
        }

        var want = Math.Min(request.NumWant ?? Options.DefaultNumWant, Options.MaxNumWant);
        var peers = new List<SwarmPeer>(Math.Min(want, swarm.Peers.Count));
        var selfCompact = self?.Compact ?? new SwarmPeer(request.PeerId.ToArray(), endPoint).Compact;
        if (request.IsSeeder)
        {
            // Seeders have nothing to gain from other seeders.
            swarm.Sample(swarm.Leechers, want, self, selfCompact, peers);
        }
        else
        {
            // A leecher gets a mix: about half seeders (the origin must stay reachable among
            // thousands of leechers), the rest leechers, topping up from either side.
            // Peers of its own subnet first (behind its own switch), then the mix below for the rest.
            int local = Options.LocalShare > 0 && swarm.Peers.Count <= Options.MaxLocalityScan
                ? swarm.SampleSubnet(endPoint.Address, (int)Math.Round(want * Options.LocalShare), self, selfCompact, Options.LocalityIPv4Prefix, Options.LocalityIPv6Prefix, peers)
                : 0;
            var seeders = swarm.Seeders.Count - (self is { IsSeeder: true } ? 1 : 0);
            var leechers = swarm.Leechers.Count - (self is { IsSeeder: false } ? 1 : 0);
            var takeSeeders = Swarm.SeedersToTake(seeders, leechers, want);
            // Without local peers the mix goes straight into the answer (no extra list on the usual path); after them
            // it is sampled aside and merged without repeating one.
            var rest = local == 0 ? peers : new List<SwarmPeer>(want);
            swarm.Sample(swarm.Seeders, takeSeeders, self, selfCompact, rest);
            swarm.Sample(swarm.Leechers, want - rest.Count, self, selfCompact, rest);
            if (local > 0)
            {
                var chosen = new HashSet<SwarmPeer>(peers, ReferenceEqualityComparer.Instance);
                foreach (var p in rest)
                    if (peers.Count < want && chosen.Add(p)) peers.Add(p);
            }
        }
        return Counts(swarm, peers);
    }

    private AnnounceResult Counts(Swarm? swarm, List<SwarmPeer> peers) => new()
    {
        Interval = Options.Interval,
        MinInterval = Options.MinInterval,
        Complete = swarm?.Seeders.Count ?? 0,
        Incomplete = swarm?.Leechers.Count ?? 0,
        Downloaded = swarm?.Downloaded ?? 0,
        Peers = peers,
    };

    private bool IsTrusted(IPAddress source) =>
        (Options.TrustLoopback && IPAddress.IsLoopback(source)) || Options.TrustedIpSources.Contains(source);

    private Swarm? GetOrCreate(InfoHash hash)
    {
        if (_swarms.TryGetValue(hash, out var swarm)) return swarm;
        if (Interlocked.Increment(ref _swarmCount) > Options.MaxSwarms)
        {
            Interlocked.Decrement(ref _swarmCount);
            return null;
        }
        Random random;
        lock (_seedSource) random = new Random(_seedSource.Next());
        var created = new Swarm(random);
        var actual = _swarms.GetOrAdd(hash, created);
        if (actual != created) Interlocked.Decrement(ref _swarmCount);
        return actual;
    }

    public IReadOnlyList<ScrapeEntry> Scrape(IEnumerable<InfoHash> hashes)
    {
        var result = new List<ScrapeEntry>();
        foreach (var h in hashes)
        {
            if (AllowList != null && !AllowList.Contains(h)) continue;
            if (_swarms.TryGetValue(h, out var s))
            {
                lock (s.Gate) result.Add(new ScrapeEntry(h, s.Seeders.Count, s.Leechers.Count, s.Downloaded));
            }
            else
            {
                result.Add(new ScrapeEntry(h, 0, 0, 0));
            }
        }
        return result;
    }

    /// <summary>Peers of a swarm (a copy), for dashboards and tests.</summary>
    public IReadOnlyList<SwarmPeer> GetPeers(InfoHash hash)
    {
        if (!_swarms.TryGetValue(hash, out var s)) return [];
        lock (s.Gate) return [.. s.Seeders, .. s.Leechers];
    }

    /// <summary>
    /// Drops peers silent for longer than <see cref="TrackerOptions.PeerExpiry"/> and swarms left
    /// empty. Returns how many peers were dropped.
    /// </summary>
    public int ExpireStale()
    {
        var now = _time.GetTimestamp();
        var expiry = Options.PeerExpiry;
        var dropped = 0;
        var stale = new List<SwarmPeer>();
        foreach (var (hash, swarm) in _swarms)
        {
            lock (swarm.Gate)
            {
                stale.Clear();
                foreach (var p in swarm.Peers.Values)
                    if (_time.GetElapsedTime(p.LastSeen, now) > expiry) stale.Add(p);
                foreach (var p in stale) swarm.Remove(p);
                dropped += stale.Count;
                if (swarm.Peers.Count == 0)
                {
                    swarm.Removed = true;
                    _swarms.TryRemove(hash, out _);
                    Interlocked.Decrement(ref _swarmCount);
                }
            }
        }
        if (dropped > 0) TrackerLog.Expired(_log, dropped, SwarmCount);
        return dropped;
    }

    /// <summary>Runs <see cref="ExpireStale"/> every interval until cancelled (for hosts).</summary>
    public async Task RunExpiryAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Options.Interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
                ExpireStale();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }
}
