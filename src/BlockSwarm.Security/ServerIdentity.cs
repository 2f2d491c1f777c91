using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace BlockSwarm.Security;

/// <summary>
/// <c>serve</c>'s signing key (<c>--signing-key FILE</c>): an ECDSA P-256 key (.NET has no public Ed25519) kept as a
/// PKCS#8 PEM file readable by its owner only. It signs every job the server hands out and, with <c>--tls</c>, is the
/// key of the server's self-signed certificate, so the one <see cref="Fingerprint"/> a client pins authenticates both.
/// </summary>
public sealed class ServerIdentity : IDisposable
{
    /// <summary>The OID of NIST P-256 (secp256r1).</summary>
    internal const string CurveOid = "1.2.840.10045.3.1.7";

    private const int MaxFileLength = 16 * 1024;
    private readonly ECDsa _key;

    private ServerIdentity(ECDsa key, string source, bool created = false, string? fileModeWarning = null)
    {
        _key = key;
        Source = source;
        Created = created;
        FileModeWarning = fileModeWarning;
        PublicKey = ServerPublicKey.FromSubjectPublicKeyInfo(key.ExportSubjectPublicKeyInfo());
    }

    /// <summary>Where the key came from: its file, or "generated for this run".</summary>
    public string Source { get; }

    /// <summary>True when <see cref="LoadOrCreate"/> made the file (say so once, with the fingerprint).</summary>
    public bool Created { get; }

    /// <summary>Set when the key file can be read by others than its owner (it should be mode 0600).</summary>
    public string? FileModeWarning { get; }

    public ServerPublicKey PublicKey { get; }

    /// <summary><c>sha256:…</c>: what clients pin with <c>deploy --server-key</c> or <c>blockswarm.server_key=</c>.</summary>
    public string Fingerprint => PublicKey.Fingerprint;

    /// <summary>A fresh key that lives as long as this object (tests, and a server that keeps no state).</summary>
    public static ServerIdentity Generate() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256), "generated for this run");

    /// <summary>A key from PKCS#8 PEM text (<c>-----BEGIN PRIVATE KEY-----</c>). Throws <see cref="SecretException"/> naming <paramref name="source"/>.</summary>
    public static ServerIdentity FromPem(string pem, string source) => FromPem(pem, source, false, null);

    private static ServerIdentity FromPem(string pem, string source, bool created, string? warning)
    {
        ArgumentNullException.ThrowIfNull(pem);
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            if (key.KeySize != 256 || key.ExportParameters(false).Curve.Oid.Value != CurveOid)
                throw new SecretException($"the signing key in {source} is not an ECDSA P-256 key ({key.KeySize} bits)");
            return new ServerIdentity(key, source, created, warning);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            key.Dispose();
            throw new SecretException($"{source} holds no ECDSA P-256 private key in PEM (PKCS#8, BEGIN PRIVATE KEY): {ex.Message}", ex);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads the key file, or, when there is none, writes a fresh key there (mode 0600; never over an existing file:
    /// a second server starting at the same moment loads the first one's). Throws <see cref="SecretException"/> naming the file.
    /// </summary>
    public static ServerIdentity LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            string pem = key.ExportPkcs8PrivateKeyPem() + "\n";
            if (PrivateFile.TryCreate(path, pem, "signing key"))
                return FromPem(pem, path, created: true, null);
        }
        string text = PrivateFile.Read(path, MaxFileLength, "signing key", out string? warning);
        return FromPem(text, path, created: false, warning);
    }

    /// <summary>
    /// Signs <paramref name="message"/> for <paramref name="purpose"/> (e.g. <c>job</c>): ECDSA P-256 with SHA-256 over
    /// <c>BlockSwarm PURPOSE v1\n</c> + message, 64 bytes r ‖ s. <see cref="ServerPublicKey.Verify"/> checks it.
    /// </summary>
    public byte[] Sign(string purpose, ReadOnlySpan<byte> message) =>
        _key.SignData(ServerPublicKey.SignedBytes(purpose, message), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

    /// <summary>
    /// A self-signed TLS server certificate on this key (valid from a day ago for ten years; the names are only for
    /// browsers: clients pin the key's fingerprint, not a name).
    /// </summary>
    public X509Certificate2 CreateTlsCertificate(IEnumerable<string> dnsNames, IEnumerable<IPAddress> addresses, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(dnsNames);
        ArgumentNullException.ThrowIfNull(addresses);
        var request = new CertificateRequest($"CN=BlockSwarm serve {Fingerprint}", _key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames.Distinct(StringComparer.OrdinalIgnoreCase)) san.AddDnsName(name);
        foreach (var address in addresses.Distinct()) san.AddIpAddress(address);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        return request.CreateSelfSigned(now.AddDays(-1), now.AddYears(10));
    }

    public void Dispose() => _key.Dispose();

    public override string ToString() => $"server key {Fingerprint} ({Source})";
}
