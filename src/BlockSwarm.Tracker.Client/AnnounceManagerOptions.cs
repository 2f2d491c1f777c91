using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Tracker.Client;

public sealed record AnnounceManagerOptions
{
    /// <summary>First retry delay after every tracker failed; doubles per failure.</summary>
    public TimeSpan InitialRetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>One HTTP announce; a hung tracker must not stall the whole tier walk.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(15);

    public int NumWant { get; init; } = 50;

    /// <summary>Sent as <c>ip=</c>: the address peers should use (trackers believe it only from trusted sources).</summary>
    public System.Net.IPAddress? AnnounceIp { get; init; }

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Shuffles tiers (BEP 12) and jitters retries; seed it for deterministic tests.</summary>
    public Random Random { get; init; } = new();

    /// <summary>Failed rounds (each tracker's error and the next try), recoveries and tracker warnings; peers received at debug.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
}
