using System.Net;
using System.Net.Security;

namespace BlockSwarm.Security.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ServerTrustTests
{
    [Fact]
    public void A_pinned_key_accepts_that_key_only()
    {
        using var good = ServerIdentity.Generate();
        using var rogue = ServerIdentity.Generate();
        var trust = ServerTrust.Parse(good.Fingerprint);
        Assert.Equal(ServerTrustMode.Pinned, trust.Mode);
        Assert.True(trust.Check(good.Fingerprint).Accepted);
        var refused = trust.Check(rogue.Fingerprint);
        Assert.False(refused.Accepted);
        Assert.Equal(good.Fingerprint, refused.Expected);
        Assert.Throws<SecretException>(() => ServerTrust.Parse("sha256:tooshort"));
        Assert.Same(ServerTrust.None, ServerTrust.Parse(""));
        Assert.True(ServerTrust.None.Check(rogue.Fingerprint).Accepted);
    }

    [Fact]
    public void Trust_on_first_use_records_the_first_key_then_refuses_a_changed_one()
    {
        string dir = Directory.CreateTempSubdirectory("bs-tofu-").FullName;
        try
        {
            using var first = ServerIdentity.Generate();
            using var changed = ServerIdentity.Generate();
            string file = Path.Combine(dir, "server-key");
            var trust = ServerTrust.Parse("tofu:" + file);
            Assert.Null(trust.Expected);
            var recorded = trust.Check(first.Fingerprint);
            Assert.True(recorded.Accepted);
            Assert.True(recorded.Recorded);
            Assert.Equal(first.Fingerprint + "\n", File.ReadAllText(file));
            Assert.True(trust.Check(first.Fingerprint).Accepted);
            Assert.False(trust.Check(first.Fingerprint).Recorded);

            // A later deploy reads the record: the same key passes, another is refused and the record stays.
            var later = ServerTrust.Parse("tofu:" + file);
            Assert.Equal(first.Fingerprint, later.Expected);
            Assert.True(later.Check(first.Fingerprint).Accepted);
            var refused = later.Check(changed.Fingerprint);
            Assert.False(refused.Accepted);
            Assert.Contains(file, refused.Reason, StringComparison.Ordinal);
            Assert.Equal(first.Fingerprint + "\n", File.ReadAllText(file));

            File.WriteAllText(file, "garbage\n");
            Assert.Throws<SecretException>(() => ServerTrust.Parse("tofu:" + file));
            Assert.Throws<SecretException>(() => ServerTrust.Parse("tofu:"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Tls_certificates_are_accepted_by_pin_or_by_the_system_never_self_signed_without_a_pin()
    {
        using var good = ServerIdentity.Generate();
        using var rogue = ServerIdentity.Generate();
        using var goodCert = good.CreateTlsCertificate([], [IPAddress.Loopback], DateTimeOffset.UtcNow);
        using var rogueCert = rogue.CreateTlsCertificate([], [IPAddress.Loopback], DateTimeOffset.UtcNow);
        const SslPolicyErrors selfSigned = SslPolicyErrors.RemoteCertificateChainErrors;
        var pinned = ServerTrust.Pinned(good.Fingerprint);
        Assert.True(pinned.AcceptsCertificate(goodCert, selfSigned, out var offered, out _));
        Assert.Equal(good.Fingerprint, offered);
        Assert.False(pinned.AcceptsCertificate(rogueCert, selfSigned, out offered, out var reason));
        Assert.Equal(rogue.Fingerprint, offered);
        Assert.Contains("not the pinned one", reason, StringComparison.Ordinal);
        // A certificate the system's CAs vouch for passes (the job's signature still has to match the pin).
        Assert.True(pinned.AcceptsCertificate(rogueCert, SslPolicyErrors.None, out _, out _));
        Assert.False(ServerTrust.None.AcceptsCertificate(goodCert, selfSigned, out _, out reason));
        Assert.Contains("no --server-key", reason, StringComparison.Ordinal);

        string dir = Directory.CreateTempSubdirectory("bs-tofu-tls-").FullName;
        try
        {
            var tofu = ServerTrust.TrustOnFirstUse(Path.Combine(dir, "k"));
            Assert.True(tofu.AcceptsCertificate(goodCert, selfSigned, out _, out _)); // first use
            Assert.True(tofu.Check(good.Fingerprint).Recorded);
            Assert.True(tofu.AcceptsCertificate(goodCert, selfSigned, out _, out _));
            Assert.False(tofu.AcceptsCertificate(rogueCert, selfSigned, out _, out _));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Operator_tokens_are_made_private_load_back_and_compare_exactly()
    {
        string dir = Directory.CreateTempSubdirectory("bs-optoken-").FullName;
        try
        {
            string path = Path.Combine(dir, "operator-token");
            var made = OperatorToken.LoadOrCreate(path);
            Assert.True(made.Created);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            string text = File.ReadAllText(path).Trim();
            var loaded = OperatorToken.LoadOrCreate(path);
            Assert.False(loaded.Created);
            Assert.True(loaded.Matches(text));
            Assert.True(made.Matches(text + "\n"));
            Assert.False(loaded.Matches(text.AsSpan(0, text.Length - 1)));
            Assert.False(loaded.Matches(""));
            Assert.False(OperatorToken.Random().Matches(text));
            File.WriteAllText(path, "short\n");
            Assert.Throws<SecretException>(() => OperatorToken.LoadOrCreate(path));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
