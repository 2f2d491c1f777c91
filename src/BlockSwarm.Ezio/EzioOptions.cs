using System.Net;
using BlockSwarm.Deploy.Client;
using BlockSwarm.Engine.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Ezio;

/// <summary>The EZIO daemon's settings: EZIO's command line, plus what BlockSwarm adds (bind address, discovery).</summary>
public sealed record EzioOptions
{
    /// <summary>EZIO's default BitTorrent port (libtorrent's), used when <c>-p</c> is 0 or absent.</summary>
    public const int DefaultPeerPort = 6881;

    /// <summary>
    /// The piece size the memory budget is split for (<see cref="BlockSwarm.Engine.Storage.PieceMemory.Split"/>): the
    /// largest a torrent is expected to have, Clonezilla's 16 MiB. The assembling part always holds two such pieces.
    /// </summary>
    public const int LargestExpectedPieceLength = 16 << 20;

    /// <summary>
    /// <c>-F</c>: save paths are directories holding the torrent's files in the standard layout
    /// (<c>save_path/name/file</c>), as in any BitTorrent client, instead of raw disks or partitions.
    /// </summary>
    public bool FileMode { get; init; }

    /// <summary><c>--cache-size</c> in bytes: all the piece data the process holds (assembling, write-back, read cache).</summary>
    public long CacheBytes { get; init; } = 512L << 20;

    /// <summary>
    /// <c>--aio-threads</c>: EZIO's disk I/O and hashing threads. Here it caps the hashing threads (each torrent's
    /// verification workers and its start-up check) at the number of cores, beyond which SHA-1 gets no faster; disk
    /// writes are one sorting, coalescing writer per target whatever the number.
    /// </summary>
    public int AioThreads { get; init; } = 16;

    /// <summary><c>--slow-start</c>: uploads capped at 10 MiB/s, 10 MiB/s more every <see cref="SlowStartPeriod"/>, no cap from 100 MiB/s on.</summary>
    public bool SlowStart { get; init; }

    /// <summary><c>--slow-start-period</c>.</summary>
    public TimeSpan SlowStartPeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>-p</c>: the BitTorrent port every torrent shares.</summary>
    public int PeerPort { get; init; } = DefaultPeerPort;

    /// <summary><c>--bind-ip</c>: listen for peers only there and dial from there (several daemons on one host, multi-homed servers); null = every address.</summary>
    public IPAddress? BindAddress { get; init; }

    /// <summary>Announce to each torrent's trackers (Clonezilla runs opentracker).</summary>
    public bool Trackers { get; init; } = true;

    /// <summary>Exchange peers with peers (BEP 11), as libtorrent does by default.</summary>
    public bool Pex { get; init; } = true;

    /// <summary>Local Service Discovery (BEP 14). Off by default, unlike libtorrent: its multicast leaves the host.</summary>
    public bool Lsd { get; init; }

    /// <summary>
    /// <c>--write-mode</c> (ours): how disk, partition and image-file targets are written; by default O_DIRECT where the
    /// target takes it (libtorrent, under EZIO, writes through the page cache). With <c>-F</c> files are written buffered.
    /// </summary>
    public WriteMode WriteMode { get; init; } = WriteMode.Auto;

    /// <summary>Where resume files of targets that are block devices go (an image file's sits beside it); null = the temp directory.</summary>
    public string? ResumeDirectory { get; init; }

    /// <summary>The checks a target passes before a byte is written (the deploy target guard).</summary>
    public TargetGuard Guard { get; init; } = new();

    /// <summary>How often each active torrent's status line is logged (EZIO: every 5 s).</summary>
    public TimeSpan StatusLogInterval { get; init; } = TimeSpan.FromSeconds(5);

    public TimeProvider Time { get; init; } = TimeProvider.System;

    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
}
