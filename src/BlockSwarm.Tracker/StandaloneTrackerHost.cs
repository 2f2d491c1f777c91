using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Tracker;

/// <summary>
/// A tracker in a Kestrel server of its own, for <c>blockswarm tracker</c> and tests:
/// <c>await using var host = new StandaloneTrackerHost(); await host.StartAsync(ep, allow, ct);</c>
/// then announce to <see cref="AnnounceUri"/>.
/// </summary>
public sealed class StandaloneTrackerHost : IAsyncDisposable
{
    private readonly TrackerOptions _options;
    private readonly TimeProvider _time;
    private readonly Random? _random;
    private WebApplication? _app;
    private CancellationTokenSource? _expiryCts;
    private Task? _expiryLoop;

    public StandaloneTrackerHost(TrackerOptions? options = null, TimeProvider? time = null, Random? random = null)
    {
        _options = options ?? new TrackerOptions();
        _time = time ?? TimeProvider.System;
        _random = random;
    }

    public Tracker Tracker { get; private set; } = null!;

    /// <summary>The bound endpoint (the real port when started with port 0).</summary>
    public IPEndPoint LocalEndPoint { get; private set; } = null!;

    public Uri AnnounceUri => new($"http://{FormatHost(LocalEndPoint)}/announce");

    public Uri ScrapeUri => new($"http://{FormatHost(LocalEndPoint)}/scrape");

    public async Task StartAsync(IPEndPoint listen, AllowList? allowList, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(listen);
        if (_app != null) throw new InvalidOperationException("already started");
        Tracker = new Tracker(_options, allowList, _time, _random);

        // The empty builder reads no appsettings or environment: a tracker needs none and starts fast.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            TrackerEndpoints.ApplyLimits(k.Limits);
            k.Listen(listen);
        });
        builder.Services.AddRoutingCore();
        builder.Logging.ClearProviders();
        // Kestrel's warnings and errors go where the tracker's own lines go.
        builder.Services.AddSingleton(_options.LoggerFactory);
        var app = builder.Build();
        app.UseRouting();
        app.MapTracker(Tracker);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        LocalEndPoint = TrackerEndpoints.ParseBoundAddress(addresses.First());
        var log = _options.LoggerFactory.CreateLogger<StandaloneTrackerHost>();
        if (allowList is null) TrackerLog.Listening(log, LocalEndPoint);
        else TrackerLog.ListeningAllowList(log, LocalEndPoint, allowList.Count);
        if (_options.SwarmSecret is { } secret) TrackerLog.SecretRequired(log, secret.Id);
        _expiryCts = new CancellationTokenSource();
        _expiryLoop = Tracker.RunExpiryAsync(_expiryCts.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_app == null) return;
        await _expiryCts!.CancelAsync().ConfigureAwait(false);
        await _expiryLoop!.ConfigureAwait(false);
        await _app.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_app != null) await _app.DisposeAsync().ConfigureAwait(false);
        _expiryCts?.Dispose();
        _app = null;
    }

    private static string FormatHost(IPEndPoint ep) =>
        ep.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ep.Address}]:{ep.Port}" : $"{ep.Address}:{ep.Port}";
}
