using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Ezio;

/// <summary>
/// The daemon's gRPC server: Kestrel speaking HTTP/2 without TLS (h2c with prior knowledge, what gRPC clients send to
/// an <c>insecure_channel</c>) on EZIO's <c>--listen</c> address, with <see cref="EzioService"/> as its only service.
/// </summary>
public sealed class EzioServer : IAsyncDisposable
{
    /// <summary>EZIO's default <c>--listen</c>.</summary>
    public const string DefaultListen = "127.0.0.1:50051";

    private readonly WebApplication _app;
    private readonly EzioShutdownSignal _signal;

    private EzioServer(WebApplication app, EzioShutdownSignal signal, string address)
    {
        _app = app;
        _signal = signal;
        Address = address;
    }

    /// <summary>The bound address, e.g. <c>http://127.0.0.1:50051</c> (port 0 resolved).</summary>
    public string Address { get; }

    /// <summary>Completes once the API's Shutdown has been answered (the daemon has flushed by then).</summary>
    public Task ShutdownRequested => _signal.Requested;

    /// <summary>
    /// Starts serving <paramref name="daemon"/> on <paramref name="listen"/> (<c>IP:PORT</c>, <c>[IPv6]:PORT</c>,
    /// <c>localhost:PORT</c> or <c>HOST:PORT</c>). Throws a <see cref="FormatException"/> for an address it cannot read
    /// and an <see cref="IOException"/> naming it when it cannot be bound (EZIO's "address in use or invalid").
    /// </summary>
    public static async Task<EzioServer> StartAsync(EzioDaemon daemon, string listen, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(daemon);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var (address, port) = ParseListen(listen);
        var signal = new EzioShutdownSignal();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Kestrel, the hosting layer and gRPC log through the daemon's factory (their warnings and errors).
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(daemon);
        builder.Services.AddSingleton(signal);
        // No size limit on a message, as EZIO sets: a torrent of a large disk with small pieces runs to tens of MB.
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = null);
        builder.WebHost.ConfigureKestrel(k =>
        {
            if (address is null) k.ListenLocalhost(port, l => l.Protocols = HttpProtocols.Http2);
            else k.Listen(address, port, l => l.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        app.MapGrpcService<EzioService>();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"cannot serve gRPC on {listen}: {ex.Message} (address in use, or not one of this host's?)", ex);
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? $"http://{listen}";
        var options = daemon.Options;
        EzioLog.Started(loggerFactory.CreateLogger<EzioServer>(), EzioVersion.Text, bound, daemon.Engine.LocalEndPoint?.ToString() ?? "-",
            options.FileMode ? "file mode (-F: save paths are directories)" : $"raw mode (save paths are disks or partitions, write mode {options.WriteMode.ToString().ToLowerInvariant()})",
            options.CacheBytes >> 20);
        return new EzioServer(app, signal, bound);
    }

    /// <summary>Reads EZIO's <c>--listen</c>: (null = localhost, port), or the address to bind.</summary>
    public static (IPAddress? Address, int Port) ParseListen(string listen)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(listen);
        if (IPEndPoint.TryParse(listen, out var ep) && listen.Contains(':', StringComparison.Ordinal) && !listen.EndsWith(']'))
            return (ep.Address, ep.Port);
        int colon = listen.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(listen.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port)
            || port > IPEndPoint.MaxPort)
            throw new FormatException($"--listen '{listen}' is not ADDRESS:PORT (e.g. 127.0.0.1:50051, 0.0.0.0:50051, localhost:50051)");
        string host = listen[..colon];
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return (null, port);
        try
        {
            var addresses = Dns.GetHostAddresses(host);
            var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
            return chosen is null ? throw new FormatException($"--listen '{listen}': {host} has no address") : (chosen, port);
        }
        catch (SocketException ex)
        {
            throw new FormatException($"--listen '{listen}': cannot resolve {host}: {ex.Message}", ex);
        }
    }

    /// <summary>Stops serving: requests in flight (a Shutdown's answer) are finished first.</summary>
    public async ValueTask DisposeAsync()
    {
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(grace.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
