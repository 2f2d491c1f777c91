using System.Diagnostics;
using System.Diagnostics.Metrics;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Engine.Session;

namespace BlockSwarm.Deploy.Server;

/// <summary>
/// The instruments of one <see cref="DeployServer"/>, on a meter of its own (several servers can run in one process):
/// observable ones that read the server's state when scraped, and a counter of status reports. Their Prometheus names
/// are the ones <c>/metrics</c> always had (dashboards use them): <c>blockswarm_origin_uploaded_bytes_total</c>, ...
/// Every instrument of a scrape reads one snapshot of the server, so the numbers of a scrape agree with each other.
/// </summary>
internal sealed class DeployMetrics : IDisposable
{
    public const string MeterName = "BlockSwarm.Deploy";

    /// <summary>A snapshot older than this is retaken by the next instrument read (other listeners than our exporter).</summary>
    private static readonly TimeSpan MaxSnapshotAge = TimeSpan.FromSeconds(1);

    private readonly Func<Snapshot> _snapshot;
    private readonly Func<SessionStats> _seed;
    private readonly Lock _gate = new();
    private (Snapshot Room, SessionStats Seed, long Taken)? _current;

    public DeployMetrics(Func<Snapshot> snapshot, Func<SessionStats> seed)
    {
        _snapshot = snapshot;
        _seed = seed;
        var m = Meter = new Meter(MeterName);
        m.CreateObservableCounter("blockswarm.origin.uploaded", () => Seed.PayloadUploaded, "By", "Payload bytes the origin seeder uploaded.");
        m.CreateObservableCounter("blockswarm.origin.wire_uploaded", () => Seed.WireUploaded, "By", "Bytes the origin seeder sent on the wire.");
        // No unit on purpose: with By/s the exported name would become ..._bytes_per_second, and dashboards use this one.
        m.CreateObservableGauge("blockswarm.origin.upload_rate_bytes", () => Seed.UploadRate, null, "Origin upload rate, bytes per second.");
        m.CreateObservableGauge("blockswarm.origin.peers", () => Seed.Peers, "{peer}", "Peers connected to the origin.");
        m.CreateObservableGauge("blockswarm.pieces", () => Room.Job.PieceCount, "{piece}", "Pieces in the job.");
        m.CreateObservableGauge("blockswarm.job.bytes", () => Room.Job.TotalBytes, "By", "Payload bytes in the job.");
        m.CreateObservableGauge("blockswarm.clients.expected", () => Room.Totals.Expected, "{client}", "Clients the operator expects.");
        m.CreateObservableGauge("blockswarm.clients.registered", () => Room.Totals.Clients, "{client}", "Clients that reported at least once.");
        m.CreateObservableGauge("blockswarm.clients.done", () => Room.Totals.Done, "{client}", "Clients done (verified and on stable storage).");
        m.CreateObservableGauge("blockswarm.clients.failed", () => Room.Totals.Failed, "{client}", "Clients failed or refused.");
        m.CreateObservableCounter("blockswarm.peer.uploaded", () => Room.Totals.PeerUploaded, "By", "Payload bytes clients received from other clients.");
        m.CreateObservableGauge("blockswarm.client.progress", () => Room.Clients.Select(c => new Measurement<double>(c.Report.Progress,
            new KeyValuePair<string, object?>("client", c.Id), new KeyValuePair<string, object?>("host", c.Report.Hostname), new KeyValuePair<string, object?>("state", c.Report.State))),
            null, "Fraction of the job a client has verified.");
        m.CreateObservableCounter("blockswarm.client.downloaded", () => Room.Clients.Select(c => new Measurement<long>(c.Report.Downloaded, new KeyValuePair<string, object?>("client", c.Id))),
            "By", "Payload bytes a client downloaded.");
        m.CreateObservableCounter("blockswarm.client.uploaded", () => Room.Clients.Select(c => new Measurement<long>(c.Report.Uploaded, new KeyValuePair<string, object?>("client", c.Id))),
            "By", "Payload bytes a client uploaded.");
        StatusReports = m.CreateCounter<long>("blockswarm.status_reports", "{report}", "Client status reports received, by result (accepted, rejected, registry_full).");
    }

    public Meter Meter { get; }

    /// <summary>Tagged <c>result</c>: accepted, rejected (malformed) or registry_full.</summary>
    public Counter<long> StatusReports { get; }

    private Snapshot Room => Current().Room;

    private SessionStats Seed => Current().Seed;

    /// <summary>The next instrument read takes a new snapshot: called at the start of each scrape.</summary>
    public void Refresh()
    {
        lock (_gate) _current = null;
    }

    private (Snapshot Room, SessionStats Seed, long Taken) Current()
    {
        lock (_gate)
        {
            if (_current is { } c && Stopwatch.GetElapsedTime(c.Taken) < MaxSnapshotAge) return c;
            var now = (_snapshot(), _seed(), Stopwatch.GetTimestamp());
            _current = now;
            return now;
        }
    }

    public void Dispose() => Meter.Dispose();
}
