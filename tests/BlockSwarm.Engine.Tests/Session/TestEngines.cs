using System.Net;
using BlockSwarm.Engine.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Engine.Tests.Session;

/// <summary>Started engines for loopback tests: one per simulated host, each on its own 127.0.0.x.</summary>
internal static class TestEngines
{
    /// <summary>
    /// An engine listening on <paramref name="address"/> (port 0, or <paramref name="port"/>) whose outgoing connections
    /// leave from the same address; dial-only when <paramref name="address"/> is null. No trackers, no LSD.
    /// </summary>
    public static TorrentEngine Start(IPAddress? address, int seed, TimeProvider? time = null, ILoggerFactory? logs = null, int port = 0,
        long uploadLimit = 0, bool pex = true, int compression = EngineOptions.DefaultCompressionLevel,
        BlockSwarm.Security.SwarmSecret? secret = null)
    {
        var engine = new TorrentEngine(new EngineOptions
        {
            Listen = address is null ? [] : [new IPEndPoint(address, port)],
            LocalAddress = address,
            Seed = seed,
            Time = time ?? TimeProvider.System,
            UploadLimit = uploadLimit,
            CompressionLevel = compression,
            SwarmSecret = secret,
            // Loopback is never the bottleneck: compress every run, so what is compressed does not depend on timing.
            AdaptiveCompression = false,
            LoggerFactory = logs ?? NullLoggerFactory.Instance,
            Discovery = new DiscoveryOptions { Trackers = false, Pex = pex },
        });
        engine.Start();
        return engine;
    }
}
