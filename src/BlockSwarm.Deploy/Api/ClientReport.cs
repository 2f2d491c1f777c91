namespace BlockSwarm.Deploy.Api;

/// <summary>A client's status, posted to <c>/api/clients/{id}/status</c> every second or two.</summary>
public sealed record ClientReport
{
    public string Hostname { get; init; } = "";

    /// <summary>checking, refused, downloading, verifying, seeding, done, failed, interrupted.</summary>
    public string State { get; init; } = "";

    public string Target { get; init; } = "";
    public double Progress { get; init; }
    public long BytesHave { get; init; }
    public long TotalBytes { get; init; }
    public double DownloadRate { get; init; }
    public double UploadRate { get; init; }
    public long Downloaded { get; init; }
    public long Uploaded { get; init; }

    /// <summary>Payload bytes this client received from the origin seeder.</summary>
    public long FromOrigin { get; init; }

    public int Peers { get; init; }
    public string? Error { get; init; }
    public string? InfoHash { get; init; }

    /// <summary>The client's BitTorrent endpoint (for the dashboard).</summary>
    public string? Endpoint { get; init; }
}

/// <summary>The server's answer to a status report: whether to keep seeding.</summary>
public sealed record ReportReply(bool KeepSeeding, bool AllDone, string JobId);

/// <summary>One client as the server sees it.</summary>
public sealed record ClientView
{
    public required string Id { get; init; }
    public required string Address { get; init; }
    public required ClientReport Report { get; init; }
    public required DateTimeOffset FirstSeen { get; init; }
    public required DateTimeOffset LastSeen { get; init; }
    public double? EtaSeconds { get; init; }
    public bool Stale { get; init; }
}

/// <summary>Room totals for the dashboard and metrics.</summary>
public sealed record Totals
{
    public int Clients { get; init; }
    public int Done { get; init; }
    public int Failed { get; init; }
    public int Expected { get; init; }
    public bool AllDone { get; init; }
    public long OriginUploaded { get; init; }
    public long PeerUploaded { get; init; }
    public long ClientsDownloaded { get; init; }
    public double AggregateDownloadRate { get; init; }
    public double OriginUploadRate { get; init; }
    public long TotalBytes { get; init; }
    public double ElapsedSeconds { get; init; }
}

/// <summary>What the dashboard's event stream carries.</summary>
public sealed record Snapshot(JobInfo Job, Totals Totals, IReadOnlyList<ClientView> Clients);
