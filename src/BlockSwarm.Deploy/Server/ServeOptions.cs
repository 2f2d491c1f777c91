using System.Diagnostics.Metrics;
using System.Net;
using BlockSwarm.Deploy.Api;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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

    /// <summary>
    /// zstd level of the origin's runs to BlockSwarm peers (0 = off), also given to clients in the job: a deploy without
    /// its own <c>--compression</c> follows it (<see cref="Engine.Hosting.EngineOptions.CompressionLevel"/>).
    /// </summary>
    public int CompressionLevel { get; init; } = Engine.Hosting.EngineOptions.DefaultCompressionLevel;

    /// <summary>
    /// The smallest target a client may write, when the source knows more than the torrent's extents say (a Clonezilla
    /// image's partitions end where its table says, past their last used block); null: the end of the last extent.
    /// </summary>
    public long? RequiredTargetSize { get; init; }

    /// <summary>
    /// Directory of network-boot files (packaging/netboot/build-netboot.sh's output) served under <c>/netboot/</c>, with
    /// a generated <c>/netboot/boot.ipxe</c>; null: no network boot.
    /// </summary>
    public string? NetbootDirectory { get; init; }

    /// <summary>Kernel command line the iPXE script adds after <c>blockswarm.server=</c> (target, after, console, extras).</summary>
    public string NetbootKernelArgs { get; init; } = NetbootEndpoints.DefaultKernelArgs;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Loggers of the server, its tracker and its HTTP host (Kestrel warnings and errors).</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>
    /// Further meters whose instruments <c>/metrics</c> exports beside the server's own (the origin seeder engine's);
    /// more can be added later with <see cref="DeployServer.AddMeter"/>.
    /// </summary>
    public IReadOnlyList<Meter> Meters { get; init; } = [];
}
