using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Security;
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
    /// <summary>
    /// The swarm secret (<c>--secret-file</c>): the origin and every client connect only to holders of it, encrypted; the
    /// embedded tracker answers only announces that prove it. The job names its id (never the secret).
    /// </summary>
    public Security.SwarmSecret? SwarmSecret { get; init; }

    public int CompressionLevel { get; init; } = Engine.Hosting.EngineOptions.DefaultCompressionLevel;

    /// <summary>Given to clients in the job (<see cref="Api.JobInfo.SwitchPrefixLength"/>): null = their netmask, 0 = off, N = /N.</summary>
    public int? SwitchPrefixLength { get; init; }

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

    /// <summary>
    /// The key that signs every job (<c>serve --signing-key</c>) and, with <see cref="TlsCertificate"/> made from it, the
    /// TLS certificate's; null: a key generated for this server's life (its fingerprint changes at every start).
    /// </summary>
    public ServerIdentity? Identity { get; init; }

    /// <summary>
    /// The token operator actions (forget a client, stop) and, with <see cref="DashboardAccess.Token"/>, dashboard reads
    /// need; null: a random one nobody knows (operator actions are closed).
    /// </summary>
    public OperatorToken? OperatorToken { get; init; }

    /// <summary>Whether reading the dashboard, <c>/api/clients</c>, <c>/api/events</c> and <c>/metrics</c> needs the operator token.</summary>
    public DashboardAccess Dashboard { get; init; } = DashboardAccess.Open;

    /// <summary>
    /// The HTTP port's TLS certificate (<c>serve --tls</c>: self-signed on <see cref="Identity"/>; or <c>--tls-cert</c>
    /// and <c>--tls-key</c>); null: plain HTTP.
    /// </summary>
    public X509Certificate2? TlsCertificate { get; init; }

    /// <summary>
    /// With TLS and <see cref="NetbootDirectory"/>: a plain-HTTP port serving <c>/netboot/</c> only (iPXE cannot check a
    /// self-signed certificate). Null: <see cref="HttpPort"/> + 1 (0 when that is 0).
    /// </summary>
    public int? NetbootPort { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Loggers of the server, its tracker and its HTTP host (Kestrel warnings and errors).</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>
    /// Further meters whose instruments <c>/metrics</c> exports beside the server's own (the origin seeder engine's);
    /// more can be added later with <see cref="DeployServer.AddMeter"/>.
    /// </summary>
    public IReadOnlyList<Meter> Meters { get; init; } = [];
}

/// <summary>Who may read the dashboard and its data (<c>serve --dashboard</c>).</summary>
public enum DashboardAccess
{
    /// <summary>Anyone who reaches the HTTP port (the default: the room's progress is not secret).</summary>
    Open,

    /// <summary>Only with the operator token (HTTP Basic password in a browser, or <c>Authorization: Bearer</c>).</summary>
    Token,
}
