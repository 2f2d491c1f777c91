using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Tracker.Client.Lsd;

public sealed record LsdOptions
{
    /// <summary>BEP 14's IPv4 group; configurable so tests can use a private namespace or group.</summary>
    public IPEndPoint Group { get; init; } = new(IPAddress.Parse("239.192.152.143"), 6771);

    /// <summary>At most one announce per torrent this often (BEP 14 suggests 5 minutes).</summary>
    public TimeSpan AnnounceInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Hard floor between two announces of one torrent, whatever the caller asks.</summary>
    public TimeSpan MinAnnounceInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The interface to send and join on; null lets the OS pick by route.</summary>
    public IPAddress? LocalInterface { get; init; }

    /// <summary>Identifies our own announces when they loop back; random per process by default.</summary>
    public string Cookie { get; init; } = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Failed multicast sends (warning); peers found, receive errors and stray datagrams at debug.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
}
