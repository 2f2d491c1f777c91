using System.Text;

namespace BlockSwarm.Bencode;

/// <summary>A byte string. Bencode strings are bytes; <see cref="Text"/> decodes them as UTF-8 for display and keys.</summary>
public sealed class BString : BValue, IEquatable<BString>, IComparable<BString>
{
    public BString(ReadOnlyMemory<byte> bytes) => Bytes = bytes;

    public BString(string text) => Bytes = Encoding.UTF8.GetBytes(text);

    public ReadOnlyMemory<byte> Bytes { get; }

    public ReadOnlySpan<byte> Span => Bytes.Span;

    public int Length => Bytes.Length;

    /// <summary>The bytes as UTF-8 text (invalid sequences become U+FFFD).</summary>
    public string Text => Encoding.UTF8.GetString(Bytes.Span);

    public bool Equals(BString? other) => other is not null && Span.SequenceEqual(other.Span);

    public override bool Equals(object? obj) => obj is BString s && Equals(s);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.AddBytes(Span);
        return h.ToHashCode();
    }

    /// <summary>Raw byte order, as BEP 3 sorts dictionary keys.</summary>
    public int CompareTo(BString? other) => other is null ? 1 : Span.SequenceCompareTo(other.Span);

    public override string ToString() => Text;

    public static implicit operator BString(string text) => new(text);

    public static bool operator ==(BString? left, BString? right) => left is null ? right is null : left.Equals(right);
    public static bool operator !=(BString? left, BString? right) => !(left == right);
    public static bool operator <(BString? left, BString? right) => left is null ? right is not null : left.CompareTo(right) < 0;
    public static bool operator <=(BString? left, BString? right) => left is null || left.CompareTo(right) <= 0;
    public static bool operator >(BString? left, BString? right) => left is not null && left.CompareTo(right) > 0;
    public static bool operator >=(BString? left, BString? right) => left is null ? right is null : left.CompareTo(right) >= 0;
}
