using System.Globalization;
using System.Text;

namespace BlockSwarm.Fuzz;

/// <summary>
/// Deterministic structure-aware byte mutations for the smoke fuzzer: bit flips, interesting
/// bytes, byte insert/delete, chunk duplication, splicing with another input, interesting
/// integers written over decimal numbers (bencode integers and lengths are ASCII decimal),
/// tweaks of <c>N:</c> string-length prefixes and of hex digit runs (partclone offsets).
/// The same seed always gives the same sequence of inputs.
/// </summary>
public sealed class Mutator
{
    private static readonly string[] InterestingNumbers =
    [
        "0", "1", "-1", "00", "-0", "01", "", "-", "19", "20", "21", "40",
        "4095", "4096", "16383", "16384", "16385", "32768", "65535", "65536",
        "16777216", "268435456", "268435457", "2147483647", "2147483648", "-2147483648", "4294967295", "4294967296",
        "67108864", "67108865", "9007199254740993",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "18446744073709551615", "18446744073709551616", "99999999999999999999999",
    ];

    private static readonly byte[] InterestingBytes = [.. "ield:e0-9\n\r \t"u8, 0x00, 0x7f, 0x80, 0xc3, 0xff];

    private static readonly string[] InterestingHex =
    [
        "0", "00000000000000000000000000000000", "7fffffffffffffff", "8000000000000000", "ffffffffffffffff",
        "0000000000000000ffffffffffffffff", "00000000000000010000000000000000", "fffffffffffffffffffffffffffffffff",
    ];

    private readonly Random _random;

    public Mutator(int seed) => _random = new Random(seed);

    /// <summary>Longest input produced; longer results are cut.</summary>
    public int MaxLength { get; init; } = 64 * 1024;

    public byte[] Mutate(byte[] input, IReadOnlyList<byte[]> pool)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(pool);
        var data = new List<byte>(input);
        int count = 1 << _random.Next(3); // 1, 2 or 4 stacked mutations
        for (int i = 0; i < count; i++) MutateOnce(data, pool);
        if (data.Count > MaxLength) data.RemoveRange(MaxLength, data.Count - MaxLength);
        return [.. data];
    }

    private void MutateOnce(List<byte> data, IReadOnlyList<byte[]> pool)
    {
        switch (_random.Next(12))
        {
            case 0 when data.Count > 0:
                data[_random.Next(data.Count)] ^= (byte)(1 << _random.Next(8));
                break;
            case 1 when data.Count > 0:
                data[_random.Next(data.Count)] = Pick(InterestingBytes);
                break;
            case 2:
                {
                    int n = 1 + _random.Next(4);
                    var bytes = new byte[n];
                    for (int i = 0; i < n; i++) bytes[i] = _random.Next(2) == 0 ? Pick(InterestingBytes) : (byte)_random.Next(256);
                    data.InsertRange(_random.Next(data.Count + 1), bytes);
                    break;
                }
            case 3 when data.Count > 0:
                {
                    int at = _random.Next(data.Count);
                    data.RemoveRange(at, 1 + _random.Next(Math.Min(16, data.Count - at)));
                    break;
                }
            case 4 when data.Count > 0:
                {
                    int at = _random.Next(data.Count);
                    int n = 1 + _random.Next(Math.Min(64, data.Count - at));
                    var chunk = data.GetRange(at, n);
                    data.InsertRange(_random.Next(data.Count + 1), chunk);
                    break;
                }
            case 5 when pool.Count > 0:
                Splice(data, pool[_random.Next(pool.Count)]);
                break;
            case 6 or 7:
                ReplaceNumber(data);
                break;
            case 8 or 9:
                TweakLengthPrefix(data);
                break;
            case 10:
                TweakHex(data);
                break;
            case 11 when data.Count > 0:
                {
                    int cut = _random.Next(data.Count);
                    data.RemoveRange(cut, data.Count - cut);
                    break;
                }
            default:
                if (data.Count > 0) data[_random.Next(data.Count)] = (byte)_random.Next(256);
                break;
        }
    }

    private void Splice(List<byte> data, byte[] other)
    {
        if (other.Length == 0) return;
        int from = _random.Next(other.Length);
        int n = 1 + _random.Next(other.Length - from);
        if (_random.Next(2) == 0)
        {
            // Keep our head, take their tail.
            int cut = _random.Next(data.Count + 1);
            data.RemoveRange(cut, data.Count - cut);
            data.AddRange(other.AsSpan(from, n).ToArray());
        }
        else
        {
            data.InsertRange(_random.Next(data.Count + 1), other.AsSpan(from, n).ToArray());
        }
    }

    /// <summary>Overwrites one run of ASCII digits (with its sign) with an interesting or nearby number.</summary>
    private void ReplaceNumber(List<byte> data)
    {
        var runs = FindRuns(data, b => b is >= (byte)'0' and <= (byte)'9');
        if (runs.Count == 0) return;
        var (start, length) = runs[_random.Next(runs.Count)];
        if (start > 0 && data[start - 1] == (byte)'-') { start--; length++; }
        string text;
        if (_random.Next(3) == 0 && long.TryParse(Encoding.ASCII.GetString([.. data.GetRange(start, length)]), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
        {
            long delta = _random.Next(5) switch { 0 => 1, 1 => -1, 2 => v, 3 => -v, _ => _random.Next(-64, 65) };
            text = unchecked(v + delta).ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            text = Pick(InterestingNumbers);
        }
        data.RemoveRange(start, length);
        data.InsertRange(start, Encoding.ASCII.GetBytes(text));
    }

    /// <summary>Changes an <c>N:</c> string-length prefix so the string runs short, long, or past the end.</summary>
    private void TweakLengthPrefix(List<byte> data)
    {
        var prefixes = FindRuns(data, b => b is >= (byte)'0' and <= (byte)'9')
            .Where(r => r.Start + r.Length < data.Count && data[r.Start + r.Length] == (byte)':').ToList();
        if (prefixes.Count == 0)
        {
            ReplaceNumber(data);
            return;
        }
        var (start, length) = prefixes[_random.Next(prefixes.Count)];
        long.TryParse(Encoding.ASCII.GetString([.. data.GetRange(start, length)]), NumberStyles.None, CultureInfo.InvariantCulture, out long v);
        long remaining = data.Count - (start + length + 1);
        long nv = _random.Next(7) switch
        {
            0 => v + 1,
            1 => Math.Max(0, v - 1),
            2 => remaining,
            3 => remaining + 1,
            4 => 0,
            5 => v + _random.Next(1, 32),
            _ => long.Parse(Pick(InterestingNumbers) is { Length: > 0 } s && s[0] != '-' && s.Length < 19 ? s : "1", CultureInfo.InvariantCulture),
        };
        data.RemoveRange(start, length);
        data.InsertRange(start, Encoding.ASCII.GetBytes(nv.ToString(CultureInfo.InvariantCulture)));
    }

    /// <summary>Rewrites a run of hex digits (partclone offsets, lengths, sha1 lines).</summary>
    private void TweakHex(List<byte> data)
    {
        var runs = FindRuns(data, b => char.IsAsciiHexDigit((char)b)).Where(r => r.Length >= 4).ToList();
        if (runs.Count == 0)
        {
            ReplaceNumber(data);
            return;
        }
        var (start, length) = runs[_random.Next(runs.Count)];
        if (_random.Next(2) == 0)
        {
            data[start + _random.Next(length)] = (byte)"0123456789abcdefABCDEF"[_random.Next(22)];
        }
        else
        {
            data.RemoveRange(start, length);
            data.InsertRange(start, Encoding.ASCII.GetBytes(Pick(InterestingHex)));
        }
    }

    private static List<(int Start, int Length)> FindRuns(List<byte> data, Func<byte, bool> member)
    {
        var runs = new List<(int, int)>();
        for (int i = 0; i < data.Count;)
        {
            if (!member(data[i])) { i++; continue; }
            int s = i;
            while (i < data.Count && member(data[i])) i++;
            runs.Add((s, i - s));
        }
        return runs;
    }

    private T Pick<T>(T[] items) => items[_random.Next(items.Length)];
}
