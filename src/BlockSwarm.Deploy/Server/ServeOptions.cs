using System.Net;
using BlockSwarm.Deploy.Api;

namespace BlockSwarm.Deploy.Server;

/// <summary>What <see cref="DeployServer"/> listens on and how it seeds.</summary>
public sealed record ServeOptions
{
    public IPAddress Listen { get; init; } = IPAddress.Any;
    public int BitTorrentPort { get; init; } = 6881;
    public int HttpPort { get; init; } = 8080;

    /// <summary>Origin upload limit in bytes/s; 0 = unlimited.</summary>
    public long UploadLimit { get; init; }

    /// <summary>Origin slow start: the limit ramps up over this time.</summary>
    public TimeSpan? SlowStart { get; init; }

    public CompletionPolicy Policy { get; init; } = new();

    /// <summary>Exit once every expected client is done.</summary>
    public bool StopWhenDone { get; init; }

    /// <summary>Most peers the origin serves at once (every client connects to it).</summary>
    public int MaxPeers { get; init; } = 256;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Where the origin's engine logs.</summary>
    public Microsoft.Extensions.Logging.ILoggerFactory LoggerFactory { get; init; } = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
}
