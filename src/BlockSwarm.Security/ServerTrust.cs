using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace BlockSwarm.Security;

/// <summary>
/// Which server key a client accepts (<c>deploy --server-key</c>, <c>blockswarm.server_key=</c>): none (the server is
/// not authenticated: a warning), one pinned fingerprint, or trust on first use (<c>tofu:FILE</c>: the first key seen is
/// recorded in FILE and every later one must equal it). Both the job signature and, over https, the TLS certificate are
/// checked against it.
/// </summary>
public sealed class ServerTrust
{
    private readonly object _gate = new();
    private string? _expected;

    private ServerTrust(ServerTrustMode mode, string? expected, string? file)
    {
        Mode = mode;
        _expected = expected;
        File = file;
    }

    /// <summary>No key pinned: whatever answers at the server URL is believed (deploy warns once).</summary>
    public static ServerTrust None { get; } = new(ServerTrustMode.None, null, null);

    public ServerTrustMode Mode { get; }

    /// <summary>The trust-on-first-use record (<see cref="ServerTrustMode.TrustOnFirstUse"/> only).</summary>
    public string? File { get; }

    /// <summary>The fingerprint a server must offer: the pinned one, the recorded one, or null (none yet / none pinned).</summary>
    public string? Expected
    {
        get { lock (_gate) return _expected; }
    }

    public static ServerTrust Pinned(string fingerprint) => new(ServerTrustMode.Pinned, KeyFingerprint.Parse(fingerprint, "--server-key"), null);

    /// <summary>Trust on first use, recorded in <paramref name="file"/> (read now: a garbled record is an error, not a first use).</summary>
    public static ServerTrust TrustOnFirstUse(string file)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        string? recorded = null;
        if (System.IO.File.Exists(file))
        {
            string text = PrivateFile.Read(file, 4096, "trust-on-first-use record", out _);
            recorded = KeyFingerprint.Parse(text.Split('\n')[0], $"the trust-on-first-use record {file}");
        }
        return new ServerTrust(ServerTrustMode.TrustOnFirstUse, recorded, file);
    }

    /// <summary>
    /// Reads <c>--server-key</c>: a fingerprint (<c>sha256:…</c>) or <c>tofu:FILE</c>; empty means none. Throws
    /// <see cref="SecretException"/> with what was expected.
    /// </summary>
    public static ServerTrust Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return None;
        text = text.Trim();
        if (text.StartsWith("tofu:", StringComparison.Ordinal))
        {
            string file = text["tofu:".Length..];
            if (file.Length == 0) throw new SecretException("--server-key tofu:FILE needs a file to record the server's key in");
            return TrustOnFirstUse(file);
        }
        return Pinned(text);
    }

    /// <summary>
    /// Whether a server offering <paramref name="offered"/> (a key fingerprint) is trusted. On a first use the
    /// fingerprint is recorded (<see cref="TrustDecision.Recorded"/>); a record that cannot be written refuses.
    /// </summary>
    public TrustDecision Check(string offered)
    {
        ArgumentNullException.ThrowIfNull(offered);
        lock (_gate)
        {
            switch (Mode)
            {
                case ServerTrustMode.None:
                    return new TrustDecision(true, false, null, "no --server-key: the server is not authenticated");
                case ServerTrustMode.Pinned:
                    return offered == _expected
                        ? new TrustDecision(true, false, _expected, "pinned")
                        : new TrustDecision(false, false, _expected, "its key is not the pinned one");
                default:
                    if (_expected is not null)
                        return offered == _expected
                            ? new TrustDecision(true, false, _expected, $"matches the key first seen and recorded in {File}")
                            : new TrustDecision(false, false, _expected, $"its key differs from the one first seen and recorded in {File}; remove that file only if the server's key really changed");
                    try
                    {
                        if (!PrivateFile.TryCreate(File!, offered + "\n", "trust-on-first-use record"))
                            return new TrustDecision(false, false, null, $"{File} appeared while this deploy ran; run it again");
                    }
                    catch (SecretException ex)
                    {
                        return new TrustDecision(false, false, null, ex.Message);
                    }
                    _expected = offered;
                    return new TrustDecision(true, true, offered, $"first use: recorded in {File}");
            }
        }
    }

    /// <summary>
    /// The TLS rule (a <c>RemoteCertificateValidationCallback</c>): a certificate whose public key has the expected
    /// fingerprint is accepted whatever its name or issuer (serve's self-signed one); otherwise only a certificate the
    /// system's CAs vouch for. With no pin and no CA, https is refused, except on a trust-on-first-use's first use (the
    /// job's key is then recorded). <paramref name="reason"/> says why a certificate was refused.
    /// </summary>
    public bool AcceptsCertificate(X509Certificate? certificate, SslPolicyErrors errors, out string offered, out string reason)
    {
        offered = certificate is null ? "(no certificate)" : CertificateFingerprint(certificate);
        reason = "";
        string? expected = Expected;
        if (certificate is not null && expected is not null && offered == expected) return true;
        if (errors == SslPolicyErrors.None) return true;
        if (Mode == ServerTrustMode.TrustOnFirstUse && expected is null && certificate is not null) return true;
        reason = expected is null
            ? $"its TLS certificate is not one the system trusts ({errors}) and no --server-key pins it"
            : $"its TLS certificate's key is not the pinned one and the system does not trust it ({errors})";
        return false;
    }

    /// <summary>The fingerprint of a certificate's public key (SubjectPublicKeyInfo), whatever its algorithm.</summary>
    public static string CertificateFingerprint(X509Certificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var cert = new X509Certificate2(certificate);
        return KeyFingerprint.Of(cert.PublicKey.ExportSubjectPublicKeyInfo());
    }

    public override string ToString() => Mode switch
    {
        ServerTrustMode.None => "none",
        ServerTrustMode.Pinned => $"pinned {Expected}",
        _ => Expected is null ? $"trust on first use ({File}, nothing recorded yet)" : $"trust on first use ({File}: {Expected})",
    };
}

public enum ServerTrustMode
{
    None,
    Pinned,
    TrustOnFirstUse,
}

/// <summary>A <see cref="ServerTrust.Check"/> answer: accepted or not, whether it was just recorded, what was expected and why.</summary>
public sealed record TrustDecision(bool Accepted, bool Recorded, string? Expected, string Reason);
