using System.Globalization;
using System.Text;

namespace BlockSwarm.Tracker.Client;

/// <summary>
/// One HTTP announce (BEP 3, compact=1) to one tracker URL. Stateless; tiers, retries and
/// intervals are <see cref="AnnounceManager"/>'s business. The HttpClient is injected so tests
/// can stub the handler and the engine can share one client (keep-alive) across torrents.
/// </summary>
public sealed class TrackerClient(HttpClient http)
{
    /// <summary>Largest answer read; 200 peers of any form fit comfortably.</summary>
    public const int MaxResponseBytes = 256 * 1024;

    public static Uri BuildAnnounceUri(Uri announce, AnnounceParameters p)
    {
        ArgumentNullException.ThrowIfNull(announce);
        ArgumentNullException.ThrowIfNull(p);
        var sb = new StringBuilder(announce.OriginalString);
        sb.Append(announce.OriginalString.Contains('?', StringComparison.Ordinal) ? '&' : '?');
        sb.Append("info_hash=").Append(p.InfoHash.ToUrlEncoded());
        sb.Append("&peer_id=");
        AppendEscaped(sb, p.PeerId.Span);
        sb.Append(CultureInfo.InvariantCulture, $"&port={p.Port}&uploaded={p.Uploaded}&downloaded={p.Downloaded}&left={p.Left}");
        sb.Append(CultureInfo.InvariantCulture, $"&compact=1&numwant={p.NumWant}&key={p.Key:x8}");
        var ev = p.Event switch
        {
            AnnounceEvent.Started => "started",
            AnnounceEvent.Completed => "completed",
            AnnounceEvent.Stopped => "stopped",
            _ => null,
        };
        if (ev != null) sb.Append("&event=").Append(ev);
        if (p.Ip != null) sb.Append("&ip=").Append(Uri.EscapeDataString(p.Ip.ToString()));
        if (p.TrackerId is { } id)
        {
            sb.Append("&trackerid=");
            AppendEscaped(sb, id.Span);
        }
        return new Uri(sb.ToString());
    }

    public async Task<TrackerAnnounceResponse> AnnounceAsync(Uri announce, AnnounceParameters parameters, CancellationToken cancellationToken)
    {
        var uri = BuildAnnounceUri(announce, parameters);
        if (uri.Scheme is not ("http" or "https"))
            throw new TrackerException($"unsupported tracker scheme '{uri.Scheme}' (only HTTP trackers)");
        try
        {
            using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new TrackerException($"tracker {announce} answered HTTP {(int)response.StatusCode}");
            if (response.Content.Headers.ContentLength > MaxResponseBytes)
                throw new TrackerException($"tracker {announce} answer too large");
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var buffer = new MemoryStream();
                var chunk = new byte[16 * 1024];
                int n;
                while ((n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (buffer.Length + n > MaxResponseBytes) throw new TrackerException($"tracker {announce} answer too large");
                    buffer.Write(chunk, 0, n);
                }
                return TrackerAnnounceResponse.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
            }
        }
        catch (HttpRequestException ex)
        {
            throw new TrackerException($"tracker {announce} unreachable: {ex.Message}", ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TrackerException($"tracker {announce} timed out", ex);
        }
    }

    private static void AppendEscaped(StringBuilder sb, ReadOnlySpan<byte> bytes)
    {
        // Unreserved bytes stay readable (trackers log peer ids); everything else is %XX.
        foreach (var b in bytes)
        {
            if (b is (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'a' and <= (byte)'z') or (>= (byte)'0' and <= (byte)'9') or (byte)'-' or (byte)'_' or (byte)'.' or (byte)'~')
                sb.Append((char)b);
            else
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
    }
}
