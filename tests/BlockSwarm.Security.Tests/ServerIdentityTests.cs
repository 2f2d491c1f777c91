using System.Net;
using System.Security.Cryptography;

namespace BlockSwarm.Security.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ServerIdentityTests
{
    [Fact]
    public void A_created_key_file_is_private_pkcs8_pem_loads_back_and_is_never_overwritten()
    {
        string dir = Directory.CreateTempSubdirectory("bs-key-").FullName;
        try
        {
            // The directory does not exist yet: it is made (0700) with the key.
            string path = Path.Combine(dir, "state", "serve-signing-key.pem");
            using var created = ServerIdentity.LoadOrCreate(path);
            Assert.True(created.Created);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
            string pem = File.ReadAllText(path);
            Assert.StartsWith("-----BEGIN PRIVATE KEY-----", pem, StringComparison.Ordinal);

            using var loaded = ServerIdentity.LoadOrCreate(path);
            Assert.False(loaded.Created);
            Assert.Null(loaded.FileModeWarning);
            Assert.Equal(created.Fingerprint, loaded.Fingerprint);
            Assert.Equal(pem, File.ReadAllText(path));
            // openssl's view of the same key gives the same fingerprint: SHA-256 of the SubjectPublicKeyInfo DER.
            using var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            Assert.Equal("sha256:" + Convert.ToBase64String(SHA256.HashData(ec.ExportSubjectPublicKeyInfo())).TrimEnd('=').Replace('+', '-').Replace('/', '_'), loaded.Fingerprint);

            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            using (var shared = ServerIdentity.LoadOrCreate(path)) Assert.Contains("chmod 600", shared.FileModeWarning);

            string garbled = Path.Combine(dir, "garbled.pem");
            File.WriteAllText(garbled, "not a key\n");
            var ex = Assert.Throws<SecretException>(() => ServerIdentity.LoadOrCreate(garbled));
            Assert.Contains(garbled, ex.Message);
            Assert.Equal("not a key\n", File.ReadAllText(garbled));

            // An RSA key is not a server key.
            string rsa = Path.Combine(dir, "rsa.pem");
            using (var r = RSA.Create(2048)) File.WriteAllText(rsa, r.ExportPkcs8PrivateKeyPem());
            Assert.Contains("P-256", Assert.Throws<SecretException>(() => ServerIdentity.LoadOrCreate(rsa)).Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Signatures_verify_only_for_their_purpose_message_and_key()
    {
        using var a = ServerIdentity.Generate();
        using var b = ServerIdentity.Generate();
        byte[] sig = a.Sign("job", "{\"jobId\":\"1\"}"u8);
        Assert.Equal(ServerPublicKey.SignatureLength, sig.Length);
        var pub = ServerPublicKey.FromHeader(a.PublicKey.ToHeader());
        Assert.Equal(a.Fingerprint, pub.Fingerprint);
        Assert.True(pub.Verify("job", "{\"jobId\":\"1\"}"u8, sig));
        Assert.False(pub.Verify("job", "{\"jobId\":\"2\"}"u8, sig));
        Assert.False(pub.Verify("torrent", "{\"jobId\":\"1\"}"u8, sig));
        Assert.False(b.PublicKey.Verify("job", "{\"jobId\":\"1\"}"u8, sig));
        Assert.False(pub.Verify("job", "{\"jobId\":\"1\"}"u8, sig.AsSpan(0, 63)));
        Assert.NotEqual(a.Fingerprint, b.Fingerprint);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("AAAA")]
    [InlineData("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")] // a truncated P-256 SubjectPublicKeyInfo
    public void Malformed_key_headers_are_refused_with_a_secret_exception(string header)
    {
        Assert.Throws<SecretException>(() => ServerPublicKey.FromHeader(header));
    }

    [Fact]
    public void Fingerprints_parse_in_base64url_or_hex_and_nothing_else()
    {
        using var id = ServerIdentity.Generate();
        Assert.StartsWith("sha256:", id.Fingerprint, StringComparison.Ordinal);
        Assert.Equal(7 + 43, id.Fingerprint.Length);
        Assert.True(KeyFingerprint.TryParse(id.Fingerprint, out var same));
        Assert.Equal(id.Fingerprint, same);
        string hex = "SHA256:" + Convert.ToHexStringLower(SHA256.HashData(id.PublicKey.SubjectPublicKeyInfo));
        Assert.True(KeyFingerprint.TryParse(hex, out var fromHex));
        Assert.Equal(id.Fingerprint, fromHex);
        foreach (var bad in new[] { "", "sha256:", "sha1:" + id.Fingerprint[7..], id.Fingerprint[7..], id.Fingerprint + "A", hex[..^1] + "g" })
            Assert.False(KeyFingerprint.TryParse(bad, out _), bad);
    }

    [Fact]
    public void The_tls_certificate_is_made_from_the_signing_key_so_one_fingerprint_pins_both()
    {
        using var id = ServerIdentity.Generate();
        using var cert = id.CreateTlsCertificate(["server.lan"], [IPAddress.Parse("10.0.0.1")], DateTimeOffset.UtcNow);
        Assert.True(cert.HasPrivateKey);
        Assert.Equal(id.Fingerprint, ServerTrust.CertificateFingerprint(cert));
        Assert.Contains(id.Fingerprint, cert.Subject, StringComparison.Ordinal);
    }
}
