using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Deploy.Server;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Deploy.Tests;

/// <summary>What the trust tests share: a served ext4 image, enrolment over HTTP from a chosen source address, a rewriting proxy.</summary>
internal static class TrustTestKit
{
    /// <summary>A <see cref="DeployServer"/> of <paramref name="img"/> on loopback, ports chosen by the kernel.</summary>
    public static async Task<(DeployServer Server, MappedPieceStorage Storage)> StartAsync(string img, Torrent torrent, ServeOptions options, CancellationToken ct)
    {
        var storage = DeviceStorage.Open(img, torrent, writable: false);
        storage.MarkDurable(PieceRecovery.TrustSeed(storage).Pieces);
        var server = new DeployServer(torrent, storage, new FileInfo(img).Length, options with { Listen = IPAddress.Loopback, HttpPort = 0, BitTorrentPort = 0 });
        await server.StartAsync(ct);
        return (server, storage);
    }

    /// <summary>A target file of <paramref name="length"/> bytes of a pattern, so "unchanged" means something.</summary>
    public static string PatternedTarget(TempDirectory dir, string name, long length)
    {
        var path = dir.File(name);
        var block = new byte[1 << 20];
        new Random(5).NextBytes(block);
        using var f = new FileStream(path, FileMode.Create);
        for (long left = length; left > 0; left -= block.Length) f.Write(block, 0, (int)Math.Min(block.Length, left));
        return path;
    }

    /// <summary>An HTTP client whose connections leave from <paramref name="source"/> (another machine on the LAN, as the server sees it).</summary>
    public static HttpClient From(IPAddress source) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    });

    public static async Task<string> EnrolAsync(HttpClient http, Uri server, string id, CancellationToken ct)
    {
        using var resp = await http.PostAsync(new Uri(server, $"/api/clients/{id}/enrol"), null, ct);
        resp.EnsureSuccessStatusCode();
        return (await resp.Content.ReadFromJsonAsync(DeployJson.Default.EnrolReply, ct))!.Token;
    }

    public static async Task<HttpResponseMessage> ReportAsync(HttpClient http, Uri server, string id, string? token, ClientReport report, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, $"/api/clients/{id}/status"))
        {
            Content = JsonContent.Create(report, DeployJson.Default.ClientReport),
        };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await http.SendAsync(request, ct);
    }

    /// <summary>
    /// A man in the middle on the HTTP port: forwards every request to <paramref name="upstream"/> and hands each answer's
    /// path, headers and body to <paramref name="rewrite"/> before passing it on.
    /// </summary>
    public static async Task<WebApplication> StartProxyAsync(Uri upstream, Func<string, HttpResponseMessage, byte[], byte[]> rewrite, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var http = new HttpClient();
        app.Run(async ctx =>
        {
            using var request = new HttpRequestMessage(new HttpMethod(ctx.Request.Method), new Uri(upstream, ctx.Request.Path + ctx.Request.QueryString));
            if (ctx.Request.ContentLength > 0 || ctx.Request.Headers.ContainsKey("Transfer-Encoding"))
            {
                var ms = new MemoryStream();
                await ctx.Request.Body.CopyToAsync(ms, ctx.RequestAborted);
                request.Content = new ByteArrayContent(ms.ToArray());
                if (ctx.Request.ContentType is { } type) request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(type);
            }
            if (ctx.Request.Headers.Authorization.ToString() is { Length: > 0 } auth) request.Headers.TryAddWithoutValidation("Authorization", auth);
            using var response = await http.SendAsync(request, ctx.RequestAborted);
            byte[] body = rewrite(ctx.Request.Path, response, await response.Content.ReadAsByteArrayAsync(ctx.RequestAborted));
            ctx.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers)
                if (!name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)) ctx.Response.Headers[name] = values.ToArray();
            if (response.Content.Headers.ContentType is { } ct2) ctx.Response.ContentType = ct2.ToString();
            ctx.Response.ContentLength = body.Length;
            await ctx.Response.Body.WriteAsync(body, ctx.RequestAborted);
        });
        await app.StartAsync(ct);
        return app;
    }

    public static Uri Address(WebApplication app) =>
        new(((IApplicationBuilder)app).ServerFeatures.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First() + "/");
}
