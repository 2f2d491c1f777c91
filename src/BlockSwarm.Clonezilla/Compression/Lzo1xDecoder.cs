namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// LZO1X decompression of one block into a buffer of known size (lzop stores each block's sizes), written from the
/// published description of the byte stream ("LZO stream format as understood by Linux's LZO decompressor"). Every
/// length and distance is bounds-checked against the input and the output: a corrupt block is an
/// <see cref="InvalidDataException"/>, never a read or write out of range.
/// </summary>
internal static class Lzo1xDecoder
{
    /// <summary>Decodes <paramref name="input"/> into exactly <paramref name="output"/> (its length is the block's uncompressed size).</summary>
    public static void Decode(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int ip = 0, op = 0;
        // Literals copied by the previous instruction: 0, 1-3, or 4 for "four or more" (it changes what 0000xxxx means).
        int state = 0;
        if (input.Length == 0) throw Corrupt("empty block");
        int first = input[0];
        if (first > 17)
        {
            ip = 1;
            int literals = first - 17;
            CopyLiterals(input, ref ip, output, ref op, literals);
            state = literals < 4 ? literals : 4;
        }
        while (true)
        {
            int inst = Byte(input, ref ip);
            int length, distance, trailing;
            if (inst >= 64)
            {
                // 01LDDDSS (3-4 bytes) or 1LLDDDSS (5-8 bytes), within 2 KiB: one more distance byte.
                length = inst >= 128 ? 5 + ((inst >> 5) & 3) : 3 + ((inst >> 5) & 1);
                distance = (Byte(input, ref ip) << 3) + ((inst >> 2) & 7) + 1;
                trailing = inst & 3;
            }
            else if (inst >= 32)
            {
                // 001LLLLL + LE16: within 16 KiB.
                length = 2 + Length(input, ref ip, inst & 31, 31);
                int d = Le16(input, ref ip);
                distance = (d >> 2) + 1;
                trailing = d & 3;
            }
            else if (inst >= 16)
            {
                // 0001HLLL + LE16: 16-48 KiB; distance 16384 exactly ends the stream.
                length = 2 + Length(input, ref ip, inst & 7, 7);
                int d = Le16(input, ref ip);
                distance = 16384 + ((inst & 8) << 11) + (d >> 2);
                trailing = d & 3;
                if (distance == 16384)
                {
                    if (op != output.Length) throw Corrupt($"stream ends after {op} of {output.Length} bytes");
                    if (ip != input.Length) throw Corrupt($"{input.Length - ip} bytes follow the end of the stream");
                    return;
                }
            }
            else if (state == 0)
            {
                // 0000LLLL after no literals: a run of 4 or more literals.
                int literals = 3 + Length(input, ref ip, inst, 15);
                CopyLiterals(input, ref ip, output, ref op, literals);
                state = 4;
                continue;
            }
            else
            {
                // 0000DDSS + one byte: 2 bytes within 1 KiB after 1-3 literals, 3 bytes from 2-3 KiB after 4 or more.
                int h = Byte(input, ref ip);
                length = state == 4 ? 3 : 2;
                distance = (h << 2) + ((inst >> 2) & 3) + (state == 4 ? 2049 : 1);
                trailing = inst & 3;
            }
            CopyMatch(output, ref op, distance, length);
            CopyLiterals(input, ref ip, output, ref op, trailing);
            state = trailing;
        }
    }

    private static int Byte(ReadOnlySpan<byte> input, ref int ip)
    {
        if (ip >= input.Length) throw Corrupt("input ends inside an instruction");
        return input[ip++];
    }

    private static int Le16(ReadOnlySpan<byte> input, ref int ip) => Byte(input, ref ip) | (Byte(input, ref ip) << 8);

    /// <summary>A length in <paramref name="bits"/>' worth (<paramref name="mask"/>); 0 means mask + 255 per zero byte + the next non-zero byte.</summary>
    private static int Length(ReadOnlySpan<byte> input, ref int ip, int value, int mask)
    {
        if (value != 0) return value;
        int length = mask;
        int b;
        while ((b = Byte(input, ref ip)) == 0)
        {
            length += 255;
            if (length > 1 << 28) throw Corrupt("run length out of range");
        }
        return length + b;
    }

    private static void CopyLiterals(ReadOnlySpan<byte> input, ref int ip, Span<byte> output, ref int op, int count)
    {
        if (count == 0) return;
        if (count > input.Length - ip) throw Corrupt("input ends inside a literal run");
        if (count > output.Length - op) throw Corrupt("literals overrun the block's size");
        input.Slice(ip, count).CopyTo(output[op..]);
        ip += count;
        op += count;
    }

    private static void CopyMatch(Span<byte> output, ref int op, int distance, int length)
    {
        if (distance > op) throw Corrupt($"match distance {distance} reaches before the block's start (at {op})");
        if (length > output.Length - op) throw Corrupt("a match overruns the block's size");
        int from = op - distance;
        if (distance >= length)
        {
            output.Slice(from, length).CopyTo(output[op..]);
        }
        else if (distance >= 8)
        {
            // Overlapping: the match repeats bytes it is writing; each distance-sized piece only reads written bytes.
            for (int done = 0; done < length; done += distance)
                output.Slice(from + done, Math.Min(distance, length - done)).CopyTo(output[(op + done)..]);
        }
        else
        {
            for (int i = 0; i < length; i++) output[op + i] = output[from + i];
        }
        op += length;
    }

    private static InvalidDataException Corrupt(string what) => new($"corrupt LZO1X block: {what}");
}
