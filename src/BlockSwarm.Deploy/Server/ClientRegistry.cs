using System.Collections.Concurrent;
using BlockSwarm.Deploy.Api;

namespace BlockSwarm.Deploy.Server;

/// <summary>
/// Every client that reported, with its last status. Bounded (a flood of fake ids cannot grow it
/// without limit) and thread-safe; <see cref="Changed"/> wakes the event streams.
/// </summary>
public sealed class ClientRegistry(TimeProvider time, int maxClients = 10_000)
{
    private readonly ConcurrentDictionary<string, Entry> _clients = new();
    /// <summary>Each enrolled client id and the address it first enrolled from (bounded like the clients).</summary>
    private readonly ConcurrentDictionary<string, string> _enrolled = new(StringComparer.Ordinal);
    private readonly object _signalGate = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A client silent this long is shown as stale.</summary>
    public TimeSpan StaleAfter { get; init; } = TimeSpan.FromSeconds(15);

    public int Count => _clients.Count;

    /// <summary>Completes at the next change; take a new one after it fires.</summary>
    public Task Changed
    {
        get { lock (_signalGate) return _changed.Task; }
    }

    /// <summary>Records a report; false when the registry is full and the id is new.</summary>
    public bool Report(string id, string address, ClientReport report) => Report(id, address, report, out _);

    /// <summary>Records a report and says what the client reported before (null for a new client), for logging changes.</summary>
    public bool Report(string id, string address, ClientReport report, out ClientReport? previous)
    {
        ArgumentNullException.ThrowIfNull(report);
        var now = time.GetUtcNow();
        previous = null;
        if (!_clients.ContainsKey(id) && _clients.Count >= maxClients) return false;
        ClientReport? before = null;
        _clients.AddOrUpdate(id,
            _ =>
            {
                before = null;
                return new Entry(address, report, now, now, report.Progress, now);
            },
            (_, old) =>
            {
                before = old.Report;
                return old with { Address = address, Report = report, LastSeen = now, PrevProgress = old.Report.Progress, PrevAt = old.LastSeen };
            });
        previous = before;
        Signal();
        return true;
    }

    /// <summary>
    /// Enrols client <paramref name="id"/> from <paramref name="address"/>: the first enrolment of an id binds it to its
    /// address, and only that address may enrol it again (a machine re-running deploy) until an operator forgets it.
    /// </summary>
    public EnrolResult Enrol(string id, string address)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(address);
        if (_enrolled.TryGetValue(id, out var first))
            return first == address ? new EnrolResult(EnrolOutcome.Again, first) : new EnrolResult(EnrolOutcome.BoundElsewhere, first);
        if (_enrolled.Count >= maxClients) return new EnrolResult(EnrolOutcome.Full, null);
        first = _enrolled.GetOrAdd(id, address);
        return first == address ? new EnrolResult(EnrolOutcome.New, first) : new EnrolResult(EnrolOutcome.BoundElsewhere, first);
    }

    /// <summary>Whether <paramref name="id"/> enrolled with this server (since it started or since it was last forgotten).</summary>
    public bool IsEnrolled(string id) => _enrolled.ContainsKey(id);

    /// <summary>Forgets a client: its dashboard row and its enrolment (an operator action). False when it was unknown.</summary>
    public bool Forget(string id)
    {
        bool enrolled = _enrolled.TryRemove(id, out _);
        bool listed = _clients.TryRemove(id, out _);
        if (listed) Signal();
        return enrolled || listed;
    }

    public void Signal()
    {
        TaskCompletionSource fire;
        lock (_signalGate)
        {
            fire = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        fire.TrySetResult();
    }

    public IReadOnlyList<ClientView> List()
    {
        var now = time.GetUtcNow();
        // ToArray is an atomic snapshot. LINQ straight over the live dictionary sizes its buffer from Count and then
        // enumerates: a client registering in between threw IndexOutOfRangeException (it killed `serve` at N = 16).
        return _clients.ToArray().OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv =>
        {
            var e = kv.Value;
            double? eta = null;
            var r = e.Report;
            if (r.State == "downloading" && r.DownloadRate > 0 && r.TotalBytes > 0)
                eta = Math.Max(0, (r.TotalBytes - r.BytesHave) / r.DownloadRate);
            return new ClientView
            {
                Id = kv.Key,
                Address = e.Address,
                Report = r,
                FirstSeen = e.FirstSeen,
                LastSeen = e.LastSeen,
                EtaSeconds = eta,
                Stale = now - e.LastSeen > StaleAfter && r.State is not ("done" or "failed" or "refused"),
            };
        }).ToList();
    }

    /// <summary>A state of a client that finished: verified, fsynced, and reported done or seeding.</summary>
    private static bool Finished(ClientReport r) => r.State is "done" or "seeding";

    /// <summary>Whether client <paramref name="id"/> reported that it finished (see <see cref="DoneCount"/>).</summary>
    public bool IsFinished(string id) => _clients.TryGetValue(id, out var e) && Finished(e.Report);

    /// <summary>Clients that finished: verified, fsynced, and reported done or seeding.</summary>
    public int DoneCount => _clients.Values.Count(e => Finished(e.Report));

    public int FailedCount => _clients.Values.Count(e => e.Report.State is "failed" or "refused");

    private sealed record Entry(string Address, ClientReport Report, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, double PrevProgress, DateTimeOffset PrevAt);
}

/// <summary>What <see cref="ClientRegistry.Enrol"/> did, and the address the id is bound to.</summary>
public readonly record struct EnrolResult(EnrolOutcome Outcome, string? BoundAddress);

public enum EnrolOutcome
{
    /// <summary>First enrolment of the id: bound to this address.</summary>
    New,

    /// <summary>The id enrolled before from the same address (deploy run again).</summary>
    Again,

    /// <summary>The id is bound to another address: refused.</summary>
    BoundElsewhere,

    /// <summary>The registry holds as many ids as it may.</summary>
    Full,
}
