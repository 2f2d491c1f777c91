using BlockSwarm.Engine.Session;
using BlockSwarm.Tracker;

namespace BlockSwarm.Simulation;

/// <summary>An access switch's uplink down for a while (both directions).</summary>
public sealed record UplinkOutage(int Switch, TimeSpan At, TimeSpan Duration);

/// <summary>One simulated deployment: the room, the image, the engine's settings, and what goes wrong.</summary>
public sealed record SimulationOptions
{
    public required NetworkShape Network { get; init; }

    /// <summary>F: the payload every client must receive (the image's used bytes).</summary>
    public required long ImageBytes { get; init; }

    /// <summary>Piece length; null = what <c>blockswarm create</c> picks for <see cref="ImageBytes"/>.</summary>
    public int? PieceLength { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>Length of one step of the network model (flow rates are recomputed every step).</summary>
    public TimeSpan Step { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Payload bytes per byte on the cable. 1448/1514: TCP with timestamps in 1500-byte frames, counted as the lab's
    /// <c>tbf</c> counts them (no preamble or gap); real Ethernet adds 20 bytes a frame (1448/1538).
    /// </summary>
    public double PayloadShare { get; init; } = 1448.0 / 1514;

    /// <summary>When the client processes are up (listening, job fetched), from the moment they are launched.</summary>
    public TimeSpan StartDelay { get; init; } = TimeSpan.FromSeconds(0.4);

    /// <summary>The clients come up spread evenly over this much more (the lab's processes start one after another).</summary>
    public TimeSpan StartSpread { get; init; } = TimeSpan.Zero;

    /// <summary>From a dial to a running connection (TCP, handshakes, bitfield): a few round trips.</summary>
    public TimeSpan ConnectDelay { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>The clients' and the origin's torrent settings (connections, request length, picker, choker).</summary>
    public TorrentOptions Torrent { get; init; } = new();

    /// <summary>The origin's connection limit: <c>serve --max-peers</c>, 256 by default (a <c>seed</c> origin has the torrent's 48).</summary>
    public int OriginMaxConnections { get; init; } = 256;

    /// <summary>The embedded tracker's settings (announce interval, peers per answer).</summary>
    public TrackerOptions Tracker { get; init; } = new();

    /// <summary>Peers asked of the tracker per announce (the client's numwant).</summary>
    public int NumWant { get; init; } = 50;

    /// <summary>Each client's memory for pieces being assembled (deploy's default <c>--cache</c> split).</summary>
    public long? AssemblingBytes { get; init; }

    /// <summary>Share of the clients that vanish (power cut: no goodbye) at <see cref="VanishAt"/>.</summary>
    public double VanishFraction { get; init; }

    public TimeSpan VanishAt { get; init; } = TimeSpan.FromSeconds(5);

    public IReadOnlyList<UplinkOutage> Outages { get; init; } = [];

    /// <summary>Connections a peer dials up to; null = the engine's rule (<see cref="ConnectionPolicy.DialLimit"/>).</summary>
    public int? DialLimit { get; init; }

    /// <summary>Seeds close their connections to seeds (<see cref="ConnectionPolicy.IsRedundant"/>), as the engine does; false = what it did before.</summary>
    public bool DropSeeds { get; init; } = true;

    /// <summary>
    /// Switch awareness as the engine and tracker do it: the tracker answers with peers of the client's own subnet first,
    /// and peers of another subnet are asked only for pieces no local peer has. False: both off.
    /// </summary>
    public bool Locality { get; init; } = true;

    /// <summary>Give up after this much virtual time (a run that never completes is a finding, not a hang).</summary>
    public TimeSpan MaxTime { get; init; } = TimeSpan.FromHours(2);

    /// <summary>Peers tell their local peers which pieces they fetch across the uplink.</summary>
    public bool ImportIntents { get; init; } = true;
}
