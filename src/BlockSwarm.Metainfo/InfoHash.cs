using System.Security.Cryptography;

namespace BlockSwarm.Metainfo;

/// <summary>The 20-byte SHA-1 of a torrent's raw <c>info</c> dictionary.</summary>
public readonly struct InfoHash : IEquatable<InfoHash>
{
    public const int Size = 20;
    private readonly byte[]? _bytes;

    public InfoHash(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size) throw new ArgumentException($"an info-hash is {Size} bytes, got {bytes.Length}", nameof(bytes));
        _bytes = bytes.ToArray();
    }

    public ReadOnlySpan<byte> Span => _bytes ?? new byte[Size];

    public static InfoHash Compute(ReadOnlySpan<byte> rawInfo) => new(SHA1.HashData(rawInfo));

    /// <summary>Parses 40 hex digits.</summary>
    public static InfoHash Parse(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        if (hex.Length != 2 * Size) throw new FormatException($"an info-hash is 40 hex digits, got {hex.Length} characters");
        return new InfoHash(Convert.FromHexString(hex));
    }

    public string ToHex() => Convert.ToHexStringLower(Span);

    /// <summary>Percent-encodes every byte, as trackers expect in <c>info_hash=</c>.</summary>
    public string ToUrlEncoded() => string.Concat(Span.ToArray().Select(b => $"%{b:X2}"));

    public bool Equals(InfoHash other) => Span.SequenceEqual(other.Span);

    public override bool Equals(object? obj) => obj is InfoHash h && Equals(h);

    public override int GetHashCode()
    {
        var s = Span;
        return BitConverter.ToInt32(s[..4]);
    }

    public override string ToString() => ToHex();

    public static bool operator ==(InfoHash left, InfoHash right) => left.Equals(right);
    public static bool operator !=(InfoHash left, InfoHash right) => !left.Equals(right);
}
