using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace BlockSwarm.Security;

/// <summary>
/// AES-128-OCB (RFC 7253; 12-byte nonces, 16-byte tags) through the system's libcrypto (OpenSSL 3's EVP interface),
/// which .NET does not offer. A cipher seals or opens (a channel has one of each per connection): its one EVP context
/// keeps the key schedule, and each record only sets its nonce.
/// </summary>
internal sealed unsafe partial class OcbRecordCipher : RecordCipher
{
    private const string Library = "libcrypto.so.3";
    private const int CtrlAeadSetIvLength = 0x9, CtrlAeadGetTag = 0x10, CtrlAeadSetTag = 0x11;

    private static readonly Lazy<bool> Probe = new(ProbeLibrary);

    /// <summary>Whether libcrypto 3 with AES-128-OCB can be loaded here (and gets RFC 7253's answer right).</summary>
    public static bool IsSupported => Probe.Value;

    private readonly bool _sealing;
    private nint _ctx;

    /// <param name="sealing">True for a cipher that encrypts (the sending side), false for one that decrypts.</param>
    public OcbRecordCipher(ReadOnlySpan<byte> key, bool sealing)
    {
        if (key.Length != 16) throw new ArgumentException("AES-128-OCB takes a 16-byte key", nameof(key));
        _sealing = sealing;
        _ctx = NewContext(key, sealing);
    }

    private static nint NewContext(ReadOnlySpan<byte> key, bool encrypt)
    {
        nint ctx = EVP_CIPHER_CTX_new();
        if (ctx == 0) throw new CryptographicException("libcrypto: EVP_CIPHER_CTX_new failed");
        try
        {
            int enc = encrypt ? 1 : 0;
            Check(EVP_CipherInit_ex(ctx, EVP_aes_128_ocb(), 0, null, null, enc), "EVP_CipherInit_ex (AES-128-OCB)");
            Check(EVP_CIPHER_CTX_ctrl(ctx, CtrlAeadSetIvLength, NonceLength, null), "set the nonce length");
            Check(EVP_CIPHER_CTX_ctrl(ctx, CtrlAeadSetTag, TagLength, null), "set the tag length");
            fixed (byte* k = key) Check(EVP_CipherInit_ex(ctx, 0, 0, k, null, enc), "set the key");
            return ctx;
        }
        catch
        {
            EVP_CIPHER_CTX_free(ctx);
            throw;
        }
    }

    public override void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(nonce.Length, NonceLength);
        ArgumentOutOfRangeException.ThrowIfNotEqual(tag.Length, TagLength);
        ArgumentOutOfRangeException.ThrowIfLessThan(ciphertext.Length, plaintext.Length);
        ObjectDisposedException.ThrowIf(_ctx == 0, this);
        if (!_sealing) throw new InvalidOperationException("this AES-128-OCB cipher opens records; it was not made to seal them");
        fixed (byte* n = nonce, p = plaintext, c = ciphertext, t = tag, a = associatedData)
        {
            int written = Begin(_ctx, n, a, associatedData.Length, p, c, plaintext.Length, encrypt: true);
            int outLength;
            Check(EVP_CipherFinal_ex(_ctx, c + written, &outLength), "finish encrypting");
            if (written + outLength != plaintext.Length) throw new CryptographicException($"libcrypto: AES-128-OCB wrote {written + outLength} of {plaintext.Length} bytes");
            Check(EVP_CIPHER_CTX_ctrl(_ctx, CtrlAeadGetTag, TagLength, t), "read the tag");
        }
    }

    public override void Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(nonce.Length, NonceLength);
        ArgumentOutOfRangeException.ThrowIfNotEqual(tag.Length, TagLength);
        ArgumentOutOfRangeException.ThrowIfLessThan(plaintext.Length, ciphertext.Length);
        ObjectDisposedException.ThrowIf(_ctx == 0, this);
        if (_sealing) throw new InvalidOperationException("this AES-128-OCB cipher seals records; it was not made to open them");
        bool ok;
        fixed (byte* n = nonce, c = ciphertext, p = plaintext, t = tag, a = associatedData)
        {
            int written = Begin(_ctx, n, a, associatedData.Length, c, p, ciphertext.Length, encrypt: false);
            Check(EVP_CIPHER_CTX_ctrl(_ctx, CtrlAeadSetTag, TagLength, t), "set the expected tag"); // checked at Final
            int outLength;
            ok = EVP_CipherFinal_ex(_ctx, p + written, &outLength) == 1 && written + outLength == ciphertext.Length;
        }
        if (!ok)
        {
            plaintext[..ciphertext.Length].Clear();
            ERR_clear_error();
            throw new AuthenticationTagMismatchException();
        }
    }

    /// <summary>Sets the record's nonce, feeds the associated data and the input; returns the bytes written so far (the rest comes at Final).</summary>
    private static int Begin(nint ctx, byte* nonce, byte* associated, int associatedLength, byte* input, byte* output, int length, bool encrypt)
    {
        Check(EVP_CipherInit_ex(ctx, 0, 0, null, nonce, encrypt ? 1 : 0), "set the nonce");
        int outLength;
        if (associatedLength > 0) Check(EVP_CipherUpdate(ctx, null, &outLength, associated, associatedLength), "authenticate the header");
        if (length == 0) return 0;
        Check(EVP_CipherUpdate(ctx, output, &outLength, input, length), encrypt ? "encrypt" : "decrypt");
        return outLength;
    }

    public override void Dispose()
    {
        if (_ctx != 0) EVP_CIPHER_CTX_free(_ctx);
        _ctx = 0;
    }

    private static void Check(int result, string what)
    {
        if (result == 1) return;
        ulong code = ERR_get_error();
        ERR_clear_error();
        throw new CryptographicException($"libcrypto: AES-128-OCB: {what} failed (error 0x{code:x})");
    }

    /// <summary>Loads libcrypto and checks RFC 7253's first AES-128 test vector with a 12-byte nonce (empty input).</summary>
    private static bool ProbeLibrary()
    {
        if (!NativeLibrary.TryLoad(Library, typeof(OcbRecordCipher).Assembly, null, out var handle)) return false;
        NativeLibrary.Free(handle);
        try
        {
            using var cipher = new OcbRecordCipher(Convert.FromHexString("000102030405060708090A0B0C0D0E0F"), sealing: true);
            Span<byte> tag = stackalloc byte[TagLength];
            cipher.Encrypt(Convert.FromHexString("BBAA99887766554433221100"), [], [], tag, []);
            return tag.SequenceEqual(Convert.FromHexString("785407BFFFC8AD9EDCC5520AC9111EE6"));
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or CryptographicException)
        {
            return false;
        }
    }

    [LibraryImport(Library)]
    private static partial nint EVP_CIPHER_CTX_new();

    [LibraryImport(Library)]
    private static partial void EVP_CIPHER_CTX_free(nint ctx);

    [LibraryImport(Library)]
    private static partial nint EVP_aes_128_ocb();

    [LibraryImport(Library)]
    private static partial int EVP_CipherInit_ex(nint ctx, nint cipher, nint engine, byte* key, byte* iv, int enc);

    [LibraryImport(Library)]
    private static partial int EVP_CIPHER_CTX_ctrl(nint ctx, int type, int arg, void* ptr);

    [LibraryImport(Library)]
    private static partial int EVP_CipherUpdate(nint ctx, byte* output, int* outputLength, byte* input, int inputLength);

    [LibraryImport(Library)]
    private static partial int EVP_CipherFinal_ex(nint ctx, byte* output, int* outputLength);

    [LibraryImport(Library)]
    private static partial ulong ERR_get_error();

    [LibraryImport(Library)]
    private static partial void ERR_clear_error();
}
