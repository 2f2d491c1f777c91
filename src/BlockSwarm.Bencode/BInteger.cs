namespace BlockSwarm.Bencode;

/// <summary>A signed 64-bit integer (the range every BitTorrent field needs).</summary>
public sealed class BInteger(long value) : BValue
{
    public long Value { get; } = value;

    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static implicit operator BInteger(long value) => new(value);
}
