using System.Net;

namespace BlockSwarm.Tracker.Tests;

/// <summary>An HttpMessageHandler answering from a function and recording each request URI.</summary>
internal sealed class StubHandler(Func<Uri, HttpResponseMessage> respond) : HttpMessageHandler
{
    private readonly List<Uri> _requests = [];

    public IReadOnlyList<Uri> Requests { get { lock (_requests) return [.. _requests]; } }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        lock (_requests) _requests.Add(request.RequestUri!);
        return Task.FromResult(respond(request.RequestUri!));
    }

    public static HttpResponseMessage Ok(byte[] body) => new(HttpStatusCode.OK) { Content = new ByteArrayContent(body) };

    public static HttpResponseMessage Error() => new(HttpStatusCode.ServiceUnavailable);
}
