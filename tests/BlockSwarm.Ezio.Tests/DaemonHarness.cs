using System.Net;
using BlockSwarm.Ezio.Api;
using BlockSwarm.Testing;
using Grpc.Net.Client;

namespace BlockSwarm.Ezio.Tests;

/// <summary>
/// One daemon in this process, as a host would run it: an <see cref="EzioDaemon"/> on its own 127.0.0.x for BitTorrent,
/// its gRPC server on 127.0.0.1 (a free port), and a real gRPC client (Grpc.Net.Client over HTTP/2 cleartext).
/// </summary>
internal sealed class DaemonHarness : IAsyncDisposable
{
    private readonly GrpcChannel _channel;

    private DaemonHarness(EzioDaemon daemon, EzioServer server, RecordingLoggerFactory logs)
    {
        Daemon = daemon;
        Server = server;
        Logs = logs;
        _channel = GrpcChannel.ForAddress(server.Address);
        Client = new EZIO.EZIOClient(_channel);
    }

    public EzioDaemon Daemon { get; }
    public EzioServer Server { get; }
    public EZIO.EZIOClient Client { get; }
    public RecordingLoggerFactory Logs { get; }

    /// <summary>A started daemon whose peers use <paramref name="bindIp"/>; <paramref name="configure"/> adjusts the rest.</summary>
    public static async Task<DaemonHarness> StartAsync(string bindIp, TempDirectory dir, Func<EzioOptions, EzioOptions>? configure = null)
    {
        var logs = new RecordingLoggerFactory();
        var address = IPAddress.Parse(bindIp);
        var options = new EzioOptions
        {
            BindAddress = address,
            PeerPort = FreePort.Tcp(address),
            CacheBytes = 64L << 20,
            ResumeDirectory = dir.Path,
            StatusLogInterval = TimeSpan.FromSeconds(1),
            LoggerFactory = logs,
        };
        var daemon = new EzioDaemon(configure?.Invoke(options) ?? options);
        daemon.Start();
        var server = await EzioServer.StartAsync(daemon, "127.0.0.1:0", logs, TestContext.Current.CancellationToken);
        return new DaemonHarness(daemon, server, logs);
    }

    /// <summary>This daemon's status of one torrent.</summary>
    public async Task<Api.Torrent> StatusAsync(string hash)
    {
        var reply = await Client.GetTorrentStatusAsync(new UpdateRequest { Hashes = { hash } }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([hash], reply.Hashes);
        return reply.Torrents[hash];
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await Server.DisposeAsync();
        await Daemon.DisposeAsync();
        Logs.Dispose();
    }
}
