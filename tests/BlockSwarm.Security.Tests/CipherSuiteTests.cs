using System.Net.Sockets;
using System.Security.Cryptography;

namespace BlockSwarm.Security.Tests;

/// <summary>The record ciphers (AES-128-OCB through libcrypto, AES-256-GCM) and how the handshake picks one.</summary>
public sealed class CipherSuiteTests
{
    private static readonly SwarmSecret Secret = SwarmSecret.FromText("the room 101 swarm secret", "test");
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void This_machine_runs_OCB_through_libcrypto()
    {
        // Debian 12's libssl3 has it; a libcrypto without it would leave AES-256-GCM alone (the handshake still works).
        Assert.True(OcbRecordCipher.IsSupported);
        Assert.Equal([CipherSuite.Aes128Ocb, CipherSuite.Aes256Gcm], RecordCipher.Supported);
    }

    /// <summary>RFC 7253 appendix A, AES-128 with a 128-bit tag: the first five vectors (ciphertext ‖ tag).</summary>
    [Theory]
    [InlineData("BBAA99887766554433221100", "", "", "785407BFFFC8AD9EDCC5520AC9111EE6")]
    [InlineData("BBAA99887766554433221101", "0001020304050607", "0001020304050607", "6820B3657B6F615A5725BDA0D3B4EB3A257C9AF1F8F03009")]
    [InlineData("BBAA99887766554433221102", "0001020304050607", "", "81017F8203F081277152FADE694A0A00")]
    [InlineData("BBAA99887766554433221103", "", "0001020304050607", "45DD69F8F5AAE72414054CD1F35D82760B2CD00D2F99BFA9")]
    [InlineData("BBAA99887766554433221104", "000102030405060708090A0B0C0D0E0F", "000102030405060708090A0B0C0D0E0F",
        "571D535B60B277188BE5147170A9A22C3AD7A4FF3835B8C5701C1CCEC8FC3358")]
    public void OCB_gives_the_RFC_7253_answers(string nonce, string associated, string plain, string expected)
    {
        byte[] key = Convert.FromHexString("000102030405060708090A0B0C0D0E0F");
        using var ocb = new OcbRecordCipher(key, sealing: true);
        using var opener = new OcbRecordCipher(key, sealing: false);
        byte[] p = Convert.FromHexString(plain), a = Convert.FromHexString(associated), n = Convert.FromHexString(nonce);
        byte[] c = new byte[p.Length], tag = new byte[16];
        ocb.Encrypt(n, p, c, tag, a);
        Assert.Equal(expected, Convert.ToHexString([.. c, .. tag]));
        byte[] back = new byte[p.Length];
        opener.Decrypt(n, c, tag, back, a);
        // A sealing cipher does not open, nor an opening one seal: each side of a channel has one of each.
        Assert.Throws<InvalidOperationException>(() => ocb.Decrypt(n, c, tag, back, a));
        Assert.Throws<InvalidOperationException>(() => opener.Encrypt(n, p, c, tag, a));
        Assert.Equal(p, back);
    }

    /// <summary>
    /// One context per direction reused for every record, in place as the channel seals: each record opens with a fresh
    /// context too (the nonce, not leftover state, decides), and a flipped bit anywhere is refused with nothing returned.
    /// </summary>
    [Theory]
    [InlineData(CipherSuite.Aes128Ocb)]
    [InlineData(CipherSuite.Aes256Gcm)]
    public void Records_in_place_round_trip_and_any_change_is_refused(CipherSuite suite)
    {
        byte[] key = RandomNumberGenerator.GetBytes(RecordCipher.KeyLength(suite));
        using var seal = RecordCipher.Create(suite, key, sealing: true);
        using var open = RecordCipher.Create(suite, key, sealing: false);
        var random = new Random(7);
        foreach (int length in new[] { 0, 1, 15, 16, 17, 4096, 65536, 12345 })
        {
            byte[] nonce = new byte[12];
            random.NextBytes(nonce);
            byte[] header = BitConverter.GetBytes(length);
            byte[] plain = new byte[length];
            random.NextBytes(plain);
            byte[] record = (byte[])plain.Clone();
            byte[] tag = new byte[16];
            seal.Encrypt(nonce, record, record, tag, header);
            if (length > 16) Assert.NotEqual(plain, record);

            using (var fresh = RecordCipher.Create(suite, key, sealing: false))
            {
                byte[] out1 = new byte[length];
                fresh.Decrypt(nonce, record, tag, out1, header);
                Assert.Equal(plain, out1);
            }
            byte[] out2 = new byte[length];
            open.Decrypt(nonce, record, tag, out2, header);
            Assert.Equal(plain, out2);

            if (length > 0)
            {
                record[random.Next(length)] ^= 0x20;
                byte[] out3 = new byte[length];
                Assert.Throws<AuthenticationTagMismatchException>(() => open.Decrypt(nonce, record, tag, out3, header));
                Assert.All(out3, b => Assert.Equal(0, b));
            }
            tag[3] ^= 1;
            Assert.Throws<AuthenticationTagMismatchException>(() => open.Decrypt(nonce, record, tag, new byte[length], header));
            header[0] ^= 1;
            tag[3] ^= 1;
            Assert.Throws<AuthenticationTagMismatchException>(() => open.Decrypt(nonce, record, tag, new byte[length], header));
            // The context is still good after refusals.
            header[0] ^= 1;
            if (length > 0) continue;
            open.Decrypt(nonce, record, tag, new byte[length], header);
        }
    }

    private static Task<(NetworkStream Dialer, NetworkStream Acceptor)> TcpPairAsync() => LoopbackTcp.PairAsync(Ct);

    [Theory]
    [InlineData(new[] { CipherSuite.Aes128Ocb, CipherSuite.Aes256Gcm }, new[] { CipherSuite.Aes128Ocb, CipherSuite.Aes256Gcm }, CipherSuite.Aes128Ocb)]
    [InlineData(new[] { CipherSuite.Aes256Gcm }, new[] { CipherSuite.Aes128Ocb, CipherSuite.Aes256Gcm }, CipherSuite.Aes256Gcm)]
    [InlineData(new[] { CipherSuite.Aes128Ocb, CipherSuite.Aes256Gcm }, new[] { CipherSuite.Aes256Gcm }, CipherSuite.Aes256Gcm)]
    [InlineData(new[] { CipherSuite.Aes128Ocb }, new[] { CipherSuite.Aes256Gcm, CipherSuite.Aes128Ocb }, CipherSuite.Aes128Ocb)]
    public async Task The_responder_picks_its_best_suite_of_the_offer_and_bytes_flow_both_ways(CipherSuite[] offer, CipherSuite[] responderRuns, CipherSuite expected)
    {
        var (a, b) = await TcpPairAsync();
        var accept = SecureChannel.AcceptAsync(b, Secret, RandomNumberGenerator.GetBytes(32), responderRuns, Ct);
        await using var initiator = await SecureChannel.ConnectAsync(a, Secret, RandomNumberGenerator.GetBytes(32), offer, Ct);
        await using var responder = await accept;
        Assert.Equal(expected, initiator.Suite);
        Assert.Equal(expected, responder.Suite);
        byte[] data = RandomNumberGenerator.GetBytes(300_000);
        await initiator.WriteAsync(data, Ct);
        await initiator.FlushAsync(Ct);
        byte[] got = new byte[data.Length];
        await responder.ReadExactlyAsync(got, Ct);
        Assert.Equal(data, got);
        await responder.WriteAsync(data.AsMemory(0, 1000), Ct);
        await responder.FlushAsync(Ct);
        await initiator.ReadExactlyAsync(got.AsMemory(0, 1000), Ct);
        Assert.Equal(data.AsSpan(0, 1000).ToArray(), got.AsSpan(0, 1000).ToArray());
    }

    [Fact]
    public async Task An_offer_with_no_suite_in_common_is_refused_by_the_responder()
    {
        var (a, b) = await TcpPairAsync();
        var accept = SecureChannel.AcceptAsync(b, Secret, RandomNumberGenerator.GetBytes(32), [CipherSuite.Aes256Gcm], Ct);
        var connect = SecureChannel.ConnectAsync(a, Secret, RandomNumberGenerator.GetBytes(32), [CipherSuite.Aes128Ocb], Ct);
        var refused = await Assert.ThrowsAsync<SecureChannelException>(() => accept);
        Assert.Equal(SecureChannelFailure.NoCommonCipher, refused.Failure);
        Assert.Contains("no cipher suite we run", refused.Message);
        await b.DisposeAsync();
        var dialer = await Assert.ThrowsAsync<SecureChannelException>(() => connect);
        Assert.Equal(SecureChannelFailure.Closed, dialer.Failure);
    }

    /// <summary>
    /// A man in the middle without the secret who rewrites the offer to GCM only (a downgrade) breaks the responder's
    /// proof, which covers the offer as the initiator sent it: the initiator refuses before sending a byte more.
    /// </summary>
    [Fact]
    public async Task A_downgraded_offer_breaks_the_proof()
    {
        var (a, b) = await TcpPairAsync();
        var middle = new RewritingStream(b, offset: 8 + 32, value: SecureChannel.MaskOf([CipherSuite.Aes256Gcm]));
        var accept = SecureChannel.AcceptAsync(middle, Secret, RandomNumberGenerator.GetBytes(32), [CipherSuite.Aes128Ocb, CipherSuite.Aes256Gcm], Ct);
        var refused = await Assert.ThrowsAsync<SecureChannelException>(() =>
            SecureChannel.ConnectAsync(a, Secret, RandomNumberGenerator.GetBytes(32), [CipherSuite.Aes128Ocb, CipherSuite.Aes256Gcm], Ct));
        Assert.Equal(SecureChannelFailure.WrongSecret, refused.Failure);
        await a.DisposeAsync();
        await Assert.ThrowsAsync<SecureChannelException>(() => accept);
    }

    [Fact]
    public async Task An_older_BlockSwarm_is_named_in_the_refusal()
    {
        var (a, b) = await TcpPairAsync();
        var accept = SecureChannel.AcceptAsync(b, Secret, Ct);
        await a.WriteAsync("BS-SECv1"u8.ToArray().Concat(new byte[32]).ToArray(), Ct);
        var refused = await Assert.ThrowsAsync<SecureChannelException>(() => accept);
        Assert.Equal(SecureChannelFailure.NotSecretPeer, refused.Failure);
        Assert.Contains("older BlockSwarm", refused.Message);
    }

    /// <summary>Reads through to the inner stream, replacing the byte at one offset of what is read.</summary>
    private sealed class RewritingStream(Stream inner, int offset, byte value) : Stream
    {
        private long _position;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken);
            if (offset >= _position && offset < _position + n) buffer.Span[(int)(offset - _position)] = value;
            _position += n;
            return n;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Flush() => inner.Flush();
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}

public sealed class CipherSuiteSettingTests
{
    [Theory]
    [InlineData(null, new[] { CipherSuite.Aes128Ocb, CipherSuite.Aes256Gcm })]
    [InlineData("", new[] { CipherSuite.Aes128Ocb, CipherSuite.Aes256Gcm })]
    [InlineData("aes256gcm", new[] { CipherSuite.Aes256Gcm })]
    [InlineData("AES-256-GCM, aes128ocb", new[] { CipherSuite.Aes256Gcm, CipherSuite.Aes128Ocb })]
    [InlineData("aes128ocb,aes128ocb", new[] { CipherSuite.Aes128Ocb })]
    public void BLOCKSWARM_SECRET_CIPHERS_restricts_and_orders_the_suites(string? setting, CipherSuite[] expected) =>
        Assert.Equal(expected, RecordCipher.Choose(setting));

    [Theory]
    [InlineData("chacha20", "'chacha20' is not a cipher suite")]
    [InlineData(",", "names no cipher suite")]
    public void A_setting_naming_nothing_it_runs_is_an_error_naming_the_variable(string setting, string message)
    {
        var ex = Assert.Throws<SecretException>(() => RecordCipher.Choose(setting));
        Assert.Contains("BLOCKSWARM_SECRET_CIPHERS", ex.Message);
        Assert.Contains(message, ex.Message);
    }
}
