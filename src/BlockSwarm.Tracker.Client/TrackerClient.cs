using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using BlockSwarm.Security;

namespace BlockSwarm.Tracker.Client;

/// <summary>
/// One HTTP announce (BEP 3, compact=1) to one tracker URL. Stateless; tiers, retries and
/// intervals are <see cref="AnnounceManager"/>'s business. The HttpClient is injected so tests
/// can stub the handler and the engine can share one client (keep-alive) across torrents.
/// With a <paramref name="secret"/> every announce carries its proof (<see cref="AnnounceProof"/>: a fresh time and
/// nonce each), and only HTTP(S) trackers are announced to.
/// </summary>
public sealed class TrackerClient(HttpClient http, SwarmSecret? secret = null, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Largest answer read; 200 peers of any form fit comfortably.</summary>
    public const int MaxResponseBytes = 256 * 1024;

    /// <summary>The swarm secret announces prove (null: plain BEP 3 announces).</summary>
    public SwarmSecret? Secret => secret;

    public static Uri BuildAnnounceUri(Uri announce, AnnounceParameters p) => BuildAnnounceUri(announce, p, null);

    /// <summary>The announce URL; with <paramref name="proof"/> (<see cref="AnnounceProof.QueryOf"/>) appended last.</summary>
    public static Uri BuildAnnounceUri(Uri announce, AnnounceParameters p, string? proof)
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
        if (proof is not null) sb.Append('&').Append(proof);
        return new Uri(sb.ToString());
    }

    public async Task<TrackerAnnounceResponse> AnnounceAsync(Uri announce, AnnounceParameters parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(announce);
        ArgumentNullException.ThrowIfNull(parameters);
        if (!AnnounceProof.CanCarry(announce))
            throw new TrackerException(secret is null
                ? $"unsupported tracker scheme '{announce.Scheme}' (only HTTP trackers)"
                : $"tracker {announce} cannot carry the swarm secret's proof (only HTTP(S) trackers can)");
        var uri = BuildAnnounceUri(announce, parameters, secret is null ? null : ProofFor(secret, parameters));
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

    private string ProofFor(SwarmSecret swarmSecret, AnnounceParameters parameters)
    {
        byte[] nonce = RandomNumberGenerator.GetBytes(AnnounceProof.NonceLength);
        return AnnounceProof.QueryOf(swarmSecret, AnnounceProof.FieldsOf(parameters, _time.GetUtcNow().ToUnixTimeSeconds(), nonce));
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
