using BlockSwarm.Engine.Session;
using BlockSwarm.Engine.Swarm;

namespace BlockSwarm.Simulation;

/// <summary>
/// One side of a simulated connection: what <c>PeerSession</c> keeps per peer (choke and interest flags, the queue of
/// the peer's requests we serve, the rate we receive at) without sockets. Its <see cref="Mirror"/> is the other side's.
/// </summary>
internal sealed class SimConn(SimPeer owner, SimPeer remote, bool outgoing)
{
    public SimPeer Owner { get; } = owner;
    public SimPeer Remote { get; } = remote;
    public SimConn Mirror { get; set; } = null!;
    public bool Outgoing { get; } = outgoing;
    public PeerHandle RemoteHandle { get; } = new(remote.Host);

    /// <summary>The dial that made this connection (outgoing side only): told when it closes.</summary>
    public DialState? Dial { get; init; }

    public bool AmChoking { get; set; } = true;
    public bool AmInterested { get; set; }
    public bool PeerInterested { get; set; }
    public bool Open { get; set; } = true;

    /// <summary>The remote peer's requests, served in order (a list and a head: cancels are rare, appends constant).</summary>
    public List<BlockRequest> Uploads { get; } = [];
    public int UploadHead { get; set; }
    public int Queued => Uploads.Count - UploadHead;

    /// <summary>CANCELs received for queued requests (as PeerSession keeps them: never more than are queued).</summary>
    public HashSet<BlockRequest> Cancelled { get; } = [];

    /// <summary>Payload bytes this flow may still send in the current step.</summary>
    public double Credit { get; set; }

    public BlockRequest Dequeue()
    {
        var r = Uploads[UploadHead++];
        if (UploadHead == Uploads.Count)
        {
            Uploads.Clear();
            UploadHead = 0;
        }
        return r;
    }

    public void ClearUploads()
    {
        Uploads.Clear();
        UploadHead = 0;
        Cancelled.Clear();
        Credit = 0;
    }
}

/// <summary>
/// One simulated host running the engine's policy objects for the torrent: the real <see cref="SwarmState"/> (picker,
/// pipeline, endgame, timeouts), <see cref="Choker"/>, and on the origin <see cref="OriginServePolicy"/>; dial backoff is
/// the engine's <see cref="DialState"/>. The glue around them is <see cref="Simulator"/>'s, written to do what
/// <c>TorrentSession</c>, <c>PeerSession</c> and <c>ChokeScheduler</c> do with the same calls.
/// </summary>
internal sealed class SimPeer(int host, SwarmState swarm, Choker choker, OriginServePolicy? origin, byte[] peerId)
{
    public int Host { get; } = host;
    public SwarmState Swarm { get; } = swarm;
    public Choker Choker { get; } = choker;
    public OriginServePolicy? Origin { get; } = origin;

    /// <summary>Connections in the order they opened (iteration order must not depend on hashing).</summary>
    public List<SimConn> Conns { get; } = [];
    public Dictionary<int, SimConn> ByHost { get; } = [];

    /// <summary>Addresses known to dial (the origin from the job, the rest from the tracker), in the order learnt.</summary>
    public List<int> KnownOrder { get; } = [];
    public Dictionary<int, DialState> Known { get; } = [];

    /// <summary>Listening and running (started, not vanished).</summary>
    public bool Up { get; set; }
    public bool Vanished { get; set; }
    public double StartAt { get; set; }
    public double? CompletedAt { get; set; }

    public bool ChokeRequested { get; set; }
    public long NextChoke { get; set; }
    public long NextTick { get; set; }
    public long NextAnnounce { get; set; } = long.MaxValue;

    /// <summary>Bytes of started pieces (what the engine's assembling budget counts).</summary>
    public long Started { get; set; }

    public long Uploaded { get; set; }

    /// <summary>Payload sent and received in the current second (the per-second series of the result).</summary>
    public long UploadedThisSecond { get; set; }
    public long ReceivedThisSecond { get; set; }

    /// <summary>Dials in flight.</summary>
    public int Dialing { get; set; }

    public Func<int>? Allowance { get; set; }

    public byte[] PeerId { get; } = peerId;
}
