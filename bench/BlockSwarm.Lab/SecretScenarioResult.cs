namespace BlockSwarm.Lab;

/// <summary>One client's <c>deploy --server-key</c> against the rogue serve: refused (exit 6, event 1121) with its target untouched, or not.</summary>
public sealed record RogueAttempt(string Client, int ExitCode, int ServerRefusedEvents, bool TargetUnchanged, string? Refusal)
{
    public bool Refused => ExitCode == 6 && ServerRefusedEvents > 0 && TargetUnchanged;
}

/// <summary>
/// What an outsider got, counted two ways: the payload counter it reports itself (-1: it reported none) and the
/// non-zero bytes of what it wrote; <see cref="Report"/> is its own last line of counters.
/// </summary>
public sealed record OutsiderResult(string Who, string Address, int ExitCode, long ReportedPayloadBytes, long NonZeroBytesWritten, string Report)
{
    public bool GotNothing => ReportedPayloadBytes == 0 && NonZeroBytesWritten == 0;
}

/// <summary>A client's copy from the real server: when it had every piece (s from the deploys' start) and the first used byte that differs (null: bit-exact).</summary>
public sealed record ClientCopy(string Client, double Seconds, long? FirstDifference)
{
    public bool BitExact => FirstDifference is null;
}

/// <summary>
/// What the swarm refused, as its logs and counters tell: serve's <c>connections_refused{reason="secret"}</c> (every
/// refused connection; -1 when /metrics had none) and event 11 (logged once a minute per address, the rest at debug),
/// serve's refused announces (2013), the clients' event 11, the outsider fetch's "gave up" (12) and the peers it
/// names, the TCP connections libtorrent made (its peer_connect_alert) and to which peers, and libtorrent's tracker
/// errors naming the secret.
/// </summary>
public sealed record RefusalEvidence(long ServeRefusedConnections, int ServeEvent11, int ServeEvent2013, int ClientsEvent11, int OutsiderFetchEvent12,
    IReadOnlyList<string> FetchPeersReached, int LibtorrentConnections, IReadOnlyList<string> LibtorrentPeersReached, int LibtorrentTrackerRefusals);

/// <summary>The outcome of <see cref="SecretSwarmScenario"/>: the rogue's refusals, the outsiders' bytes, the clients' copies.</summary>
public sealed record SecretScenarioResult(int Clients, string Image, long Bytes, double RateMbit, string SecretId, string WrongSecretId,
    string ServerKey, string RogueServerKey, IReadOnlyList<RogueAttempt> Rogue, IReadOnlyList<OutsiderResult> Outsiders,
    IReadOnlyList<ClientCopy> Copies, RefusalEvidence Refusals)
{
    /// <summary>Until the last client had every piece, with the outsiders at work.</summary>
    public double Seconds => Copies.Count == 0 ? double.NaN : Copies.Max(c => c.Seconds);

    /// <summary>F/c.</summary>
    public double FloorSeconds => Bytes * 8.0 / (RateMbit * 1e6);

    public double Ratio => Seconds / FloorSeconds;

    /// <summary>What failed the acceptance, one line each (empty: it holds).</summary>
    public IReadOnlyList<string> Failures =>
    [
        .. Rogue.Where(r => !r.Refused).Select(r => $"{r.Client} against the rogue serve: exit {r.ExitCode}, event 1121 ×{r.ServerRefusedEvents}, target {(r.TargetUnchanged ? "unchanged" : "changed")}"),
        .. Outsiders.Where(o => !o.GotNothing).Select(o => $"{o.Who}: {o.ReportedPayloadBytes} payload bytes reported, {o.NonZeroBytesWritten} non-zero bytes written"),
        .. Copies.Where(c => !c.BitExact).Select(c => $"{c.Client}: its copy differs from the image at byte {c.FirstDifference}"),
    ];

    public bool Passed => Failures.Count == 0 && Rogue.Count == Clients && Copies.Count == Clients && Outsiders.Count > 0;
}
