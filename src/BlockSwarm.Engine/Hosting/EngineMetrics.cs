using System.Diagnostics.Metrics;
using BlockSwarm.Engine.Session;

namespace BlockSwarm.Engine.Hosting;

/// <summary>
/// The engine's instruments, on a <see cref="Meter"/> of its own (several engines can share a process: tests, a host
/// running a server and a client). Totals and levels are observable instruments read from the counters the engine
/// keeps anyway, so the hot path pays nothing for them; only per-connection and per-piece events are recorded.
/// </summary>
internal sealed class EngineMetrics : IDisposable
{
    public const string MeterName = "BlockSwarm.Engine";

    private readonly TorrentEngine _engine;

    public EngineMetrics(TorrentEngine engine)
    {
        _engine = engine;
        Meter = new Meter(MeterName, typeof(EngineMetrics).Assembly.GetName().Version?.ToString());
        ConnectionsOpened = Meter.CreateCounter<long>("blockswarm.engine.connections.opened", "{connection}",
            "Peer connections that completed the handshake, by direction.");
        ConnectionsClosed = Meter.CreateCounter<long>("blockswarm.engine.connections.closed", "{connection}",
            "Peer connections that ended, by reason (remote_close, local_close, protocol_violation, timeout, transport_error, handler_error).");
        ConnectionsRefused = Meter.CreateCounter<long>("blockswarm.engine.connections.refused", "{connection}",
            "Connections refused before any data was exchanged, by reason (unknown_torrent, engine_limit, torrent_limit, banned, duplicate, self).");
        PieceDuration = Meter.CreateHistogram<double>("blockswarm.engine.piece.duration", "s",
            "Time from a piece's first received block to its verified hand-over to storage.");
        FlushDuration = Meter.CreateHistogram<double>("blockswarm.engine.storage.flush.duration", "s",
            "Time to write every accepted piece and fsync (checkpoints and completion).");

        Meter.CreateObservableCounter("blockswarm.engine.payload.downloaded", () => PerTorrent(static t => t.Counters.Downloaded), "By",
            "Piece data received from peers.");
        Meter.CreateObservableCounter("blockswarm.engine.payload.uploaded", () => PerTorrent(static t => t.Counters.Uploaded), "By",
            "Piece data sent to peers.");
        Meter.CreateObservableCounter("blockswarm.engine.wire.received", () => PerTorrent(static t => t.WireReceived), "By",
            "Bytes received on peer connections, protocol overhead included.");
        Meter.CreateObservableCounter("blockswarm.engine.wire.sent", () => PerTorrent(static t => t.WireSent), "By",
            "Bytes sent on peer connections, protocol overhead included.");
        Meter.CreateObservableCounter("blockswarm.engine.pieces.hash_failed", () => PerTorrent(static t => t.Assembler.HashFailures), "{piece}",
            "Pieces whose SHA-1 did not match (they are requested again).");
        Meter.CreateObservableCounter("blockswarm.engine.peers.banned", () => PerTorrent(static t => (long)t.Counters.Banned), "{peer}",
            "Peers banned for sending pieces that failed their SHA-1 check.");
        Meter.CreateObservableGauge("blockswarm.engine.peers", () => PerTorrent(static t => (long)t.PeerCount), "{peer}",
            "Connected peers.");
        Meter.CreateObservableGauge("blockswarm.engine.verified", () => PerTorrent(static t => t.BytesHave), "By",
            "Bytes of the torrent verified and held.");
        Meter.CreateObservableGauge("blockswarm.engine.size", () => PerTorrent(static t => t.Torrent.TotalLength), "By",
            "Bytes in the torrent.");
        Meter.CreateObservableGauge("blockswarm.engine.download.rate", () => PerTorrentRate(static t => t.Counters.DownloadRate), "By/s",
            "Piece data received per second (10 s window).");
        Meter.CreateObservableGauge("blockswarm.engine.upload.rate", () => PerTorrentRate(static t => t.Counters.UploadRate), "By/s",
            "Piece data sent per second (10 s window).");
        Meter.CreateObservableGauge("blockswarm.engine.connections", () => (long)_engine.Connections.Count, "{connection}",
            "Open peer connections, handshaking ones included.");
        Meter.CreateObservableGauge("blockswarm.engine.torrents", () => (long)_engine.TorrentCount, "{torrent}",
            "Torrents in the engine.");
        Meter.CreateObservableGauge("blockswarm.engine.memory.used", MemoryUsed, "By",
            "Piece memory in use, by part (assembling, write_back, read_cache).");
        Meter.CreateObservableGauge("blockswarm.engine.memory.capacity", MemoryCapacity, "By",
            "Piece memory budget, by part (assembling, write_back, read_cache).");
    }

    public Meter Meter { get; }
    public Counter<long> ConnectionsOpened { get; }
    public Counter<long> ConnectionsClosed { get; }
    public Counter<long> ConnectionsRefused { get; }
    public Histogram<double> PieceDuration { get; }
    public Histogram<double> FlushDuration { get; }

    public void Refused(string reason) => ConnectionsRefused.Add(1, new KeyValuePair<string, object?>("reason", reason));

    private IEnumerable<Measurement<long>> PerTorrent(Func<TorrentSession, long> read)
    {
        foreach (var t in _engine.Torrents) yield return new Measurement<long>(read(t), t.MetricTags);
    }

    private IEnumerable<Measurement<double>> PerTorrentRate(Func<TorrentSession, double> read)
    {
        foreach (var t in _engine.Torrents) yield return new Measurement<double>(read(t), t.MetricTags);
    }

    private IEnumerable<Measurement<long>> MemoryUsed()
    {
        var m = _engine.Memory;
        yield return new(m.AssemblingUsed, Part("assembling"));
        yield return new(m.WriteBackUsed, Part("write_back"));
        yield return new(m.ReadCacheUsed, Part("read_cache"));
    }

    private IEnumerable<Measurement<long>> MemoryCapacity()
    {
        var m = _engine.Memory;
        yield return new(m.AssemblingCapacity, Part("assembling"));
        yield return new(m.WriteBackCapacity, Part("write_back"));
        yield return new(m.ReadCacheCapacity, Part("read_cache"));
    }

    private static KeyValuePair<string, object?>[] Part(string name) => [new("part", name)];

    public void Dispose() => Meter.Dispose();
}
