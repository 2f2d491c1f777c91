using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace BlockSwarm.Tracker;

/// <summary>
/// The HTTP front of <see cref="Tracker"/> over ASP.NET Core (shipped with the SDK's shared
/// framework, so no package download). The deployment server maps these endpoints into its own
/// Kestrel app with <see cref="MapTracker"/>; <see cref="StandaloneTrackerHost"/> does the same
/// in a server of its own. Trackers answer errors with HTTP 200 and a bencoded
/// <c>failure reason</c>, which every client shows to its user; so does this front.
/// </summary>
public static class TrackerEndpoints
{
    private const string ContentType = "text/plain";

    /// <summary>Maps <c>{prefix}/announce</c> and <c>{prefix}/scrape</c>.</summary>
    public static IEndpointRouteBuilder MapTracker(this IEndpointRouteBuilder endpoints, Tracker tracker, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(tracker);
        endpoints.MapGet(prefix + "/announce", ctx => HandleAnnounceAsync(ctx, tracker));
        endpoints.MapGet(prefix + "/scrape", ctx => HandleScrapeAsync(ctx, tracker));
        return endpoints;
    }

    public static Task HandleAnnounceAsync(HttpContext context, Tracker tracker)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(tracker);
        var body = new ArrayBufferWriter<byte>(256);
        var source = context.Connection.RemoteIpAddress;
        // QueryString.Value is the raw, still-escaped query: the parser decodes it to bytes itself.
        if (source is null) TrackerResponseWriter.WriteFailure("unknown source address", body);
        else tracker.HandleAnnounce(context.Request.QueryString.Value.AsSpan(), source, body);
        return WriteAsync(context, body);
    }

    public static Task HandleScrapeAsync(HttpContext context, Tracker tracker)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(tracker);
        var body = new ArrayBufferWriter<byte>(256);
        tracker.HandleScrape(context.Request.QueryString.Value.AsSpan(), body, context.Connection.RemoteIpAddress);
        return WriteAsync(context, body);
    }

    private static Task WriteAsync(HttpContext context, ArrayBufferWriter<byte> body)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
        response.ContentLength = body.WrittenCount;
        return response.Body.WriteAsync(body.WrittenMemory, context.RequestAborted).AsTask();
    }

    /// <summary>
    /// Limits for a server exposed to a whole LAN: small request lines and headers (an announce is
    /// a few hundred bytes; larger requests are refused by Kestrel before any allocation of ours),
    /// no request bodies, bounded connections.
    /// </summary>
    public static void ApplyLimits(KestrelServerLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        limits.MaxRequestLineSize = 8 * 1024; // a 64-hash scrape is ~4.5 KiB
        limits.MaxRequestHeadersTotalSize = 8 * 1024;
        limits.MaxRequestHeaderCount = 32;
        limits.MaxRequestBodySize = 1024;
        limits.MaxConcurrentConnections = 20_000;
        limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
        limits.KeepAliveTimeout = TimeSpan.FromSeconds(75);
    }

    internal static IPEndPoint ParseBoundAddress(string url)
    {
        var uri = new Uri(url.Replace("://+:", "://0.0.0.0:", StringComparison.Ordinal));
        return new IPEndPoint(IPAddress.Parse(uri.Host.Trim('[', ']')), uri.Port);
    }
}
