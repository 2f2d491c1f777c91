using BlockSwarm.Security;
using BlockSwarm.Tracker.Client;

namespace BlockSwarm.Tracker;

/// <summary>
/// Checks the swarm-secret proof of announces (<see cref="AnnounceProof"/>): present and well formed, the HMAC right,
/// its time within the window of our clock, and never seen before. Every proof accepted is remembered until its time
/// leaves the window (after which it is refused as stale anyway), so a recorded announce cannot be replayed. The memory
/// is bounded: when full, the proof with the oldest time is forgotten and no proof that old or older is accepted from
/// then on, so the cache never forgets a proof it would still accept (under a flood the window only narrows). Only
/// proofs that verified are remembered, so only holders of the secret can fill it. Thread-safe.
/// </summary>
internal sealed class AnnounceProofVerifier
{
    private readonly SwarmSecret _secret;
    private readonly TimeProvider _time;
    private readonly long _window;
    private readonly int _capacity;
    private readonly Lock _gate = new();
    private readonly HashSet<UInt128> _seen = [];
    private readonly PriorityQueue<UInt128, long> _byTime = new();
    private long _floor = long.MinValue;

    public AnnounceProofVerifier(SwarmSecret secret, TimeProvider time, TimeSpan window, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _secret = secret;
        _time = time;
        _window = (long)window.TotalSeconds;
        _capacity = capacity;
    }

    /// <summary>Proofs remembered now.</summary>
    public int Count
    {
        get { lock (_gate) return _seen.Count; }
    }

    /// <summary>Null when <paramref name="request"/> proves the secret (its proof is spent from now on); else why not.</summary>
    public string? Check(AnnounceRequest request)
    {
        if (request.Proof is not { } proof)
            return request.ProofTime is null && request.ProofNonce is null ? "no proof" : "malformed proof: bs_proof missing";
        if (request.ProofTime is not { } time) return "malformed proof: bs_time missing";
        if (request.ProofNonce is not { } nonce) return "malformed proof: bs_nonce missing";
        if (proof.Length != AnnounceProof.ProofLength || nonce.Length != AnnounceProof.NonceLength)
            return $"malformed proof: bs_proof must be {AnnounceProof.ProofLength * 2} and bs_nonce {AnnounceProof.NonceLength * 2} hex digits";
        var fields = new AnnounceProofFields
        {
            InfoHash = request.InfoHash,
            PeerId = request.PeerId,
            Port = request.Port,
            Event = request.Event,
            Left = request.Left,
            Uploaded = request.Uploaded,
            Downloaded = request.Downloaded,
            NumWant = request.NumWant ?? -1,
            Compact = request.Compact,
            NoPeerId = request.NoPeerId,
            Ip = request.ClaimedIp,
            Time = time,
            Nonce = nonce,
        };
        if (!AnnounceProof.Verify(_secret, fields, proof.Span))
            return "wrong proof: a different swarm secret, or a parameter changed after the proof was made";

        long now = _time.GetUtcNow().ToUnixTimeSeconds();
        long skew = time - now;
        if (skew < -_window || skew > _window)
            return $"stale time: the proof was made {Math.Abs(skew)} s {(skew < 0 ? "before" : "after")} the tracker's clock says, {_window} s allowed (check the clocks)";
        var key = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(proof.Span);
        lock (_gate)
        {
            // Forget proofs whose time left the window: they are refused as stale from now on.
            while (_byTime.TryPeek(out var old, out long oldTime) && oldTime < now - _window)
            {
                _byTime.Dequeue();
                _seen.Remove(old);
            }
            if (time <= _floor) return "stale time: older than the replay cache reaches under this load (announce again)";
            if (!_seen.Add(key)) return "replayed proof: this very announce was answered before";
            _byTime.Enqueue(key, time);
            if (_seen.Count > _capacity)
            {
                _byTime.TryDequeue(out var evicted, out long evictedTime);
                _seen.Remove(evicted);
                _floor = Math.Max(_floor, evictedTime);
            }
        }
        return null;
    }
}
