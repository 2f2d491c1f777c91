using System.Numerics;

namespace BlockSwarm.Engine;

/// <summary>
/// One bit per piece, most significant bit of byte 0 = piece 0, as on the wire (BEP 3).
/// Not thread-safe; owners synchronise.
/// </summary>
public sealed class Bitfield
{
    private readonly ulong[] _words;

    public Bitfield(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        _words = new ulong[(length + 63) / 64];
    }

    /// <summary>Number of pieces.</summary>
    public int Length { get; }

    /// <summary>Number of set bits.</summary>
    public int Count { get; private set; }

    public bool IsComplete => Count == Length;
    public bool IsEmpty => Count == 0;

    /// <summary>Byte length of the wire form.</summary>
    public int ByteLength => (Length + 7) / 8;

    public bool this[int index]
    {
        get
        {
            CheckIndex(index);
            return (_words[index >> 6] & (1UL << (index & 63))) != 0;
        }
        set
        {
            CheckIndex(index);
            ref ulong w = ref _words[index >> 6];
            ulong mask = 1UL << (index & 63);
            bool was = (w & mask) != 0;
            if (value == was) return;
            if (value) { w |= mask; Count++; }
            else { w &= ~mask; Count--; }
        }
    }

    /// <summary>Sets a bit; returns true if it was not set before.</summary>
    public bool Set(int index)
    {
        if (this[index]) return false;
        this[index] = true;
        return true;
    }

    public void SetAll()
    {
        Array.Fill(_words, ulong.MaxValue);
        int tail = Length & 63;
        if (tail != 0 && _words.Length > 0) _words[^1] = (1UL << tail) - 1;
        Count = Length;
    }

    public void ClearAll()
    {
        Array.Clear(_words);
        Count = 0;
    }

    /// <summary>Index of the first set bit at or after <paramref name="start"/>, or -1.</summary>
    public int NextSet(int start)
    {
        if (start >= Length) return -1;
        int wi = start >> 6;
        ulong w = _words[wi] & (ulong.MaxValue << (start & 63));
        while (true)
        {
            if (w != 0)
            {
                int idx = (wi << 6) + BitOperations.TrailingZeroCount(w);
                return idx < Length ? idx : -1;
            }
            if (++wi >= _words.Length) return -1;
            w = _words[wi];
        }
    }

    /// <summary>
    /// Index of the first bit at or after <paramref name="start"/> that is set here and clear in both
    /// <paramref name="notIn"/> and <paramref name="norIn"/> (bitfields of the same length), or -1: a word at a time.
    /// </summary>
    public int NextSetExcept(Bitfield notIn, Bitfield norIn, int start)
    {
        ArgumentNullException.ThrowIfNull(notIn);
        ArgumentNullException.ThrowIfNull(norIn);
        if (notIn.Length != Length || norIn.Length != Length) throw new ArgumentException("bitfields of different lengths");
        if (start >= Length) return -1;
        int wi = start >> 6;
        ulong w = (_words[wi] & ~notIn._words[wi] & ~norIn._words[wi]) & (ulong.MaxValue << (start & 63));
        while (true)
        {
            if (w != 0)
            {
                int idx = (wi << 6) + BitOperations.TrailingZeroCount(w);
                return idx < Length ? idx : -1;
            }
            if (++wi >= _words.Length) return -1;
            w = _words[wi] & ~notIn._words[wi] & ~norIn._words[wi];
        }
    }

    /// <summary>Index of the first clear bit at or after <paramref name="start"/>, or -1.</summary>
    public int NextClear(int start)
    {
        if (start >= Length) return -1;
        int wi = start >> 6;
        ulong w = ~_words[wi] & (ulong.MaxValue << (start & 63));
        while (true)
        {
            if (w != 0)
            {
                int idx = (wi << 6) + BitOperations.TrailingZeroCount(w);
                return idx < Length ? idx : -1;
            }
            if (++wi >= _words.Length) return -1;
            w = ~_words[wi];
        }
    }

    /// <summary>Writes the wire form (BEP 3: piece 0 is the high bit of the first byte; spare bits zero).</summary>
    public void CopyTo(Span<byte> destination)
    {
        if (destination.Length < ByteLength) throw new ArgumentException("destination too short", nameof(destination));
        destination[..ByteLength].Clear();
        for (int i = NextSet(0); i >= 0; i = NextSet(i + 1))
            destination[i >> 3] |= (byte)(0x80 >> (i & 7));
    }

    public byte[] ToBytes()
    {
        var b = new byte[ByteLength];
        CopyTo(b);
        return b;
    }

    /// <summary>
    /// Parses the wire form. Throws <see cref="FormatException"/> when the length is wrong or
    /// a spare bit past <paramref name="length"/> is set (BEP 3: peers must drop such a connection).
    /// </summary>
    public static Bitfield FromBytes(ReadOnlySpan<byte> data, int length)
    {
        var bf = new Bitfield(length);
        if (data.Length != bf.ByteLength)
            throw new FormatException($"bitfield is {data.Length} bytes, expected {bf.ByteLength} for {length} pieces");
        for (int i = 0; i < data.Length; i++)
        {
            byte b = data[i];
            if (b == 0) continue;
            for (int bit = 0; bit < 8; bit++)
            {
                if ((b & (0x80 >> bit)) == 0) continue;
                int idx = (i << 3) + bit;
                if (idx >= length) throw new FormatException($"bitfield has spare bit {idx} set past the last piece {length - 1}");
                bf[idx] = true;
            }
        }
        return bf;
    }

    public Bitfield Clone()
    {
        var c = new Bitfield(Length);
        Array.Copy(_words, c._words, _words.Length);
        c.Count = Count;
        return c;
    }

    /// <summary>True if <paramref name="other"/> has any piece this bitfield lacks.</summary>
    public bool LacksAnyOf(Bitfield other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Length != Length) throw new ArgumentException("length mismatch", nameof(other));
        for (int i = 0; i < _words.Length; i++)
            if ((other._words[i] & ~_words[i]) != 0) return true;
        return false;
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Length) throw new ArgumentOutOfRangeException(nameof(index), index, $"piece index must be in [0, {Length})");
    }
}
