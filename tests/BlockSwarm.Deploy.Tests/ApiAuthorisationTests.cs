using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Deploy.Server;
using BlockSwarm.Security;
using BlockSwarm.Testing;
using Microsoft.Extensions.Logging;
using static BlockSwarm.Deploy.Tests.TrustTestKit;

namespace BlockSwarm.Deploy.Tests;

/// <summary>
/// Issue 18's API authorisation: a status report needs its own client's token, an operator action the operator token,
/// and with <c>--dashboard token</c> so does reading the dashboard. Every refusal leaves the state as it was and one
/// log line naming who (client id, address) and why.
/// </summary>
public sealed class ApiAuthorisationTests
{
    private const string OperatorSecret = "operator-token-for-tests-0123456789";

    private static string State(DeployServer server) => JsonSerializer.Serialize(server.Registry.List(), DeployServer.Json);

    [Fact]
    public async Task A_status_report_with_another_clients_token_or_none_is_refused_and_changes_nothing()
    {
        using var dir = new TempDirectory("auth-status");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var log = new RecordingLoggerFactory();
        var (server, storage) = await StartAsync(img, torrent, new ServeOptions { LoggerFactory = log, Policy = new CompletionPolicy { Expected = 2 } }, ct);
        await using var _ = storage;
        await using var __ = server;
        var url = server.HttpAddress!;
        using var http = new HttpClient();
        string tokenA = await EnrolAsync(http, url, "pc-a", ct);
        string tokenB = await EnrolAsync(http, url, "pc-b", ct);
        Assert.NotEqual(tokenA, tokenB);
        using (var ok = await ReportAsync(http, url, "pc-a", tokenA, new ClientReport { Hostname = "a", State = "downloading", Progress = 0.3 }, ct))
            ok.EnsureSuccessStatusCode();
        string before = State(server);
        log.Clear();

        // pc-b's token on pc-a's report: 403, nothing changes, one line naming pc-a, the address and why.
        using (var forged = await ReportAsync(http, url, "pc-a", tokenB, new ClientReport { Hostname = "a", State = "done", Progress = 1 }, ct))
        {
            Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
            Assert.Contains("not this client's", (await forged.Content.ReadFromJsonAsync(DeployJson.Default.ApiError, ct))!.Error, StringComparison.Ordinal);
        }
        // No token at all (a report for a client that never enrolled, e.g. to mark a netboot machine imaged): 401.
        using (var anonymous = await ReportAsync(http, url, "pc-c", null, new ClientReport { Hostname = "c", State = "done", Progress = 1 }, ct))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        // A token that is no token.
        using (var garbage = await ReportAsync(http, url, "pc-b", "x", new ClientReport { State = "done", Progress = 1 }, ct))
            Assert.Equal(HttpStatusCode.Forbidden, garbage.StatusCode);

        Assert.Equal(before, State(server));
        Assert.Equal(0, server.Registry.DoneCount);
        Assert.False(server.AllDone.IsCompleted);
        var lines = log.Named("StatusRefused");
        Assert.Equal(3, lines.Count);
        Assert.Equal(3, log.Entries.Count(e => e.Level >= LogLevel.Warning));
        Assert.Equal("pc-a", lines[0]["ClientId"]);
        Assert.Equal("127.0.0.1", lines[0]["Address"]);
        Assert.Contains("not this client's", lines[0].Message, StringComparison.Ordinal);
        Assert.Equal("pc-c", lines[1]["ClientId"]);
        Assert.Contains("no client token", lines[1].Message, StringComparison.Ordinal);

        // Its own token still works.
        using (var own = await ReportAsync(http, url, "pc-b", tokenB, new ClientReport { Hostname = "b", State = "done", Progress = 1 }, ct))
            own.EnsureSuccessStatusCode();
        Assert.Equal(1, server.Registry.DoneCount);
    }

    [Fact]
    public async Task A_client_id_enrolled_from_one_address_cannot_be_enrolled_from_another()
    {
        using var dir = new TempDirectory("auth-enrol");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var log = new RecordingLoggerFactory();
        var (server, storage) = await StartAsync(img, torrent, new ServeOptions { LoggerFactory = log, OperatorToken = OperatorToken.FromText(OperatorSecret, "test") }, ct);
        await using var _ = storage;
        await using var __ = server;
        var url = server.HttpAddress!;
        using var pc = From(IPAddress.Loopback);
        using var intruder = From(IPAddress.Parse("127.0.0.2"));
        string token = await EnrolAsync(pc, url, "52-54-00-00-00-01", ct);
        // The same machine again (deploy rerun): the same token.
        Assert.Equal(token, await EnrolAsync(pc, url, "52-54-00-00-00-01", ct));
        // Another address asking for that id's token: refused, logged with both addresses.
        using (var refused = await intruder.PostAsync(new Uri(url, "/api/clients/52-54-00-00-00-01/enrol"), null, ct))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.DoesNotContain(token, await refused.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        }
        var line = Assert.Single(log.Named("EnrolRefused"));
        Assert.Equal("127.0.0.2", line["Address"]);
        Assert.Contains("enrolled from 127.0.0.1 first", line.Message, StringComparison.Ordinal);

        // Once the operator forgets the client, the id is free again.
        using var op = new HttpClient();
        op.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorSecret);
        using (var forgot = await op.DeleteAsync(new Uri(url, "/api/clients/52-54-00-00-00-01"), ct))
            Assert.Equal(HttpStatusCode.NoContent, forgot.StatusCode);
        await EnrolAsync(intruder, url, "52-54-00-00-00-01", ct);
    }

    [Fact]
    public async Task Operator_actions_without_or_with_a_wrong_token_are_refused_and_change_nothing()
    {
        using var dir = new TempDirectory("auth-operator");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var log = new RecordingLoggerFactory();
        var (server, storage) = await StartAsync(img, torrent, new ServeOptions { LoggerFactory = log, OperatorToken = OperatorToken.FromText(OperatorSecret, "test") }, ct);
        await using var _ = storage;
        await using var __ = server;
        var url = server.HttpAddress!;
        using var http = new HttpClient();
        string token = await EnrolAsync(http, url, "pc-1", ct);
        using (var r = await ReportAsync(http, url, "pc-1", token, new ClientReport { State = "downloading" }, ct)) r.EnsureSuccessStatusCode();
        string before = State(server);
        log.Clear();

        async Task<HttpStatusCode> Send(HttpMethod method, string path, AuthenticationHeaderValue? auth)
        {
            using var request = new HttpRequestMessage(method, new Uri(url, path));
            request.Headers.Authorization = auth;
            using var response = await http.SendAsync(request, ct);
            return response.StatusCode;
        }
        var wrong = new AuthenticationHeaderValue("Bearer", OperatorSecret + "x");
        // The client's own token is not an operator token either.
        var client = new AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(HttpMethod.Post, "/api/stop", null));
        Assert.Equal(HttpStatusCode.Forbidden, await Send(HttpMethod.Post, "/api/stop", wrong));
        Assert.Equal(HttpStatusCode.Forbidden, await Send(HttpMethod.Post, "/api/stop", client));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(HttpMethod.Delete, "/api/clients/pc-1", null));
        Assert.Equal(HttpStatusCode.Forbidden, await Send(HttpMethod.Delete, "/api/clients/pc-1", wrong));
        Assert.False(server.StopRequested.IsCompleted);
        Assert.Equal(before, State(server));
        var refusals = log.Named("OperatorRefused");
        Assert.Equal(5, refusals.Count);
        Assert.Equal(5, log.Entries.Count(e => e.Level >= LogLevel.Warning));
        Assert.All(refusals, l => Assert.Equal("127.0.0.1", l["Address"]));
        Assert.Contains("stop the server", refusals[0].Message, StringComparison.Ordinal);
        Assert.Contains("no operator token", refusals[0].Message, StringComparison.Ordinal);
        Assert.Contains("wrong operator token", refusals[1].Message, StringComparison.Ordinal);
        Assert.Contains("forget client pc-1", refusals[4].Message, StringComparison.Ordinal);
        Assert.DoesNotContain(log.Entries, e => e.Message.Contains(OperatorSecret, StringComparison.Ordinal));

        // With the token (as a Bearer token, or as a browser's Basic password): done, and logged.
        var right = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + OperatorSecret)));
        Assert.Equal(HttpStatusCode.NoContent, await Send(HttpMethod.Delete, "/api/clients/pc-1", right));
        Assert.Empty(server.Registry.List());
        Assert.Equal(HttpStatusCode.NotFound, await Send(HttpMethod.Delete, "/api/clients/pc-1", right));
        Assert.Equal(HttpStatusCode.Accepted, await Send(HttpMethod.Post, "/api/stop", new AuthenticationHeaderValue("Bearer", OperatorSecret)));
        Assert.True(server.StopRequested.IsCompleted);
        Assert.Equal(3, log.Named("OperatorAction").Count);
    }

    [Fact]
    public async Task The_dashboard_is_open_by_default_and_needs_the_operator_token_with_dashboard_token()
    {
        using var dir = new TempDirectory("auth-dashboard");
        var ct = TestContext.Current.CancellationToken;
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var log = new RecordingLoggerFactory();
        var (server, storage) = await StartAsync(img, torrent, new ServeOptions
        {
            LoggerFactory = log, OperatorToken = OperatorToken.FromText(OperatorSecret, "test"), Dashboard = DashboardAccess.Token,
        }, ct);
        await using var _ = storage;
        await using var __ = server;
        var url = server.HttpAddress!;
        using var http = new HttpClient();
        foreach (var path in new[] { "/", "/app.js", "/api/clients", "/api/events", "/metrics" })
        {
            using var anonymous = await http.GetAsync(new Uri(url, path), HttpCompletionOption.ResponseHeadersRead, ct);
            Assert.True(anonymous.StatusCode == HttpStatusCode.Unauthorized, $"{path}: {anonymous.StatusCode}");
            Assert.Equal("Basic", anonymous.Headers.WwwAuthenticate.Single().Scheme);
        }
        // A browser's first request carries no password: no warning for that, but one for a wrong password.
        Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Warning);
        using (var wrong = new HttpRequestMessage(HttpMethod.Get, new Uri(url, "/api/clients")))
        {
            wrong.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:guess")));
            using var r = await http.SendAsync(wrong, ct);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        }
        Assert.Single(log.Named("DashboardRefused"));
        using (var basic = new HttpRequestMessage(HttpMethod.Get, new Uri(url, "/api/clients")))
        {
            basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + OperatorSecret)));
            using var r = await http.SendAsync(basic, ct);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        using (var bearer = new HttpRequestMessage(HttpMethod.Get, new Uri(url, "/metrics")))
        {
            bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", OperatorSecret);
            using var r = await http.SendAsync(bearer, ct);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        // What clients need stays open: the job, the torrent, enrolment, the tracker.
        using (var job = await http.GetAsync(new Uri(url, "/api/job"), ct)) Assert.Equal(HttpStatusCode.OK, job.StatusCode);
        using (var t = await http.GetAsync(new Uri(url, "/job.torrent"), ct)) Assert.Equal(HttpStatusCode.OK, t.StatusCode);
        await EnrolAsync(http, url, "pc-1", ct);
    }
}
