namespace BlockSwarm.Bencode;

/// <summary>
/// Strict bencode decoder. Rejects non-canonical input (unsorted or duplicate keys, leading
/// zeros, <c>-0</c>, trailing bytes), nesting past <see cref="BencodeOptions.MaxDepth"/> and
/// string lengths past the input or past <see cref="BencodeOptions.MaxStringLength"/>, with a
/// <see cref="BencodeException"/> naming the problem and its byte offset. Strings are slices
/// of the input (no per-string copy); every value records its <see cref="BValue.SourceRange"/>.
/// </summary>
public static class BencodeDecoder
{
    /// <summary>Decodes a copy of <paramref name="input"/>.</summary>
    public static BValue Decode(ReadOnlySpan<byte> input, BencodeOptions? options = null) =>
        Decode(new ReadOnlyMemory<byte>(input.ToArray()), options);

    /// <summary>Decodes <paramref name="input"/>; returned strings share its memory.</summary>
    public static BValue Decode(ReadOnlyMemory<byte> input, BencodeOptions? options = null)
    {
        var o = options ?? BencodeOptions.Strict;
        int pos = 0;
        var value = ReadValue(input, ref pos, 0, o);
        if (o.RejectTrailingBytes && pos != input.Length)
            throw new BencodeException($"{input.Length - pos} trailing bytes after the top-level value", pos);
        return value;
    }

    /// <summary>Decodes one value at the start of <paramref name="input"/> and returns how many bytes it used.</summary>
    public static BValue DecodePrefix(ReadOnlyMemory<byte> input, out int consumed, BencodeOptions? options = null)
    {
        var o = (options ?? BencodeOptions.Strict) with { RejectTrailingBytes = false };
        int pos = 0;
        var value = ReadValue(input, ref pos, 0, o);
        consumed = pos;
        return value;
    }

    /// <summary>Decodes and requires a dictionary at the top level.</summary>
    public static BDictionary DecodeDictionary(ReadOnlyMemory<byte> input, BencodeOptions? options = null) =>
        Decode(input, options) as BDictionary ?? throw new BencodeException("top-level value is not a dictionary", 0);

    private static BValue ReadValue(ReadOnlyMemory<byte> mem, ref int pos, int depth, BencodeOptions o)
    {
        var span = mem.Span;
        if (pos >= span.Length) throw new BencodeException("unexpected end of input, expected a value", pos);
        int start = pos;
        byte c = span[pos];
        BValue v;
        switch (c)
        {
            case (byte)'i':
                v = new BInteger(ReadInteger(span, ref pos));
                break;
            case (byte)'l':
                v = ReadList(mem, ref pos, depth, o);
                break;
            case (byte)'d':
                v = ReadDictionary(mem, ref pos, depth, o);
                break;
            case >= (byte)'0' and <= (byte)'9':
                v = ReadString(mem, ref pos, o);
                break;
            default:
                throw new BencodeException($"unexpected byte 0x{c:x2} ('{(c is >= 0x20 and < 0x7f ? (char)c : '?')}'), expected i, l, d or a digit", pos);
        }
        v.SourceRange = new Range(start, pos);
        return v;
    }

    private static long ReadInteger(ReadOnlySpan<byte> span, ref int pos)
    {
        int start = pos;
        pos++; // 'i'
        bool negative = false;
        if (pos < span.Length && span[pos] == (byte)'-')
        {
            negative = true;
            pos++;
        }
        int digitsStart = pos;
        ulong magnitude = 0;
        while (pos < span.Length && span[pos] is >= (byte)'0' and <= (byte)'9')
        {
            ulong d = (ulong)(span[pos] - '0');
            if (magnitude > (ulong.MaxValue - d) / 10)
                throw new BencodeException("integer overflows 64 bits", start);
            magnitude = magnitude * 10 + d;
            pos++;
        }
        int digits = pos - digitsStart;
        if (pos >= span.Length) throw new BencodeException("unterminated integer", start);
        if (span[pos] != (byte)'e') throw new BencodeException($"unexpected byte 0x{span[pos]:x2} in integer", pos);
        if (digits == 0) throw new BencodeException("integer has no digits", start);
        if (digits > 1 && span[digitsStart] == (byte)'0') throw new BencodeException("integer has a leading zero", start);
        if (negative && magnitude == 0) throw new BencodeException("negative zero is not canonical", start);
        pos++; // 'e'
        if (negative)
        {
            if (magnitude > (ulong)long.MaxValue + 1) throw new BencodeException("integer overflows 64 bits", start);
            return (long)(0 - magnitude);
        }
        if (magnitude > long.MaxValue) throw new BencodeException("integer overflows 64 bits", start);
        return (long)magnitude;
    }

    private static BString ReadString(ReadOnlyMemory<byte> mem, ref int pos, BencodeOptions o)
    {
        var span = mem.Span;
        int start = pos;
        long length = 0;
        while (pos < span.Length && span[pos] is >= (byte)'0' and <= (byte)'9')
        {
            length = length * 10 + (span[pos] - '0');
            if (length > o.MaxStringLength)
                throw new BencodeException($"string length exceeds the limit of {o.MaxStringLength} bytes", start);
            pos++;
        }
        if (pos >= span.Length) throw new BencodeException("unterminated string length", start);
        if (span[pos] != (byte)':') throw new BencodeException($"unexpected byte 0x{span[pos]:x2} in string length, expected ':'", pos);
        if (pos - start > 1 && span[start] == (byte)'0') throw new BencodeException("string length has a leading zero", start);
        pos++; // ':'
        if (length > span.Length - pos)
            throw new BencodeException($"string of {length} bytes runs past the end of the input ({span.Length - pos} bytes left)", start);
        var s = new BString(mem.Slice(pos, (int)length));
        pos += (int)length;
        return s;
    }

    private static BList ReadList(ReadOnlyMemory<byte> mem, ref int pos, int depth, BencodeOptions o)
    {
        int start = pos;
        if (depth + 1 > o.MaxDepth) throw new BencodeException($"nesting deeper than {o.MaxDepth}", start);
        pos++; // 'l'
        var list = new BList();
        while (true)
        {
            if (pos >= mem.Length) throw new BencodeException("unterminated list", start);
            if (mem.Span[pos] == (byte)'e')
            {
                pos++;
                return list;
            }
            list.Add(ReadValue(mem, ref pos, depth + 1, o));
        }
    }

    private static BDictionary ReadDictionary(ReadOnlyMemory<byte> mem, ref int pos, int depth, BencodeOptions o)
    {
        int start = pos;
        if (depth + 1 > o.MaxDepth) throw new BencodeException($"nesting deeper than {o.MaxDepth}", start);
        pos++; // 'd'
        var dict = new BDictionary();
        BString? previous = null;
        while (true)
        {
            if (pos >= mem.Length) throw new BencodeException("unterminated dictionary", start);
            byte c = mem.Span[pos];
            if (c == (byte)'e')
            {
                pos++;
                return dict;
            }
            if (c is < (byte)'0' or > (byte)'9')
                throw new BencodeException($"dictionary key must be a string, found byte 0x{c:x2}", pos);
            int keyPos = pos;
            var key = ReadString(mem, ref pos, o);
            key.SourceRange = new Range(keyPos, pos);
            if (previous is not null)
            {
                int cmp = key.CompareTo(previous);
                if (cmp == 0) throw new BencodeException($"duplicate dictionary key '{key.Text}'", keyPos);
                if (cmp < 0 && o.RequireSortedKeys)
                    throw new BencodeException($"dictionary key '{key.Text}' is out of order (after '{previous.Text}')", keyPos);
            }
            var value = ReadValue(mem, ref pos, depth + 1, o);
            if (!dict.TryAdd(key, value)) throw new BencodeException($"duplicate dictionary key '{key.Text}'", keyPos);
            previous = key;
        }
    }
}
