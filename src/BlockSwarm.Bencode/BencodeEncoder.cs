using System.Buffers;
using System.Buffers.Text;

namespace BlockSwarm.Bencode;

/// <summary>Canonical bencode encoder: dictionary keys in raw-byte order, minimal integers.</summary>
public static class BencodeEncoder
{
    public static void Encode(BValue value, IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(writer);
        switch (value)
        {
            case BString s:
                WriteString(s.Span, writer);
                break;
            case BInteger i:
                WriteInteger(i.Value, writer);
                break;
            case BList l:
                WriteByte((byte)'l', writer);
                foreach (var item in l) Encode(item, writer);
                WriteByte((byte)'e', writer);
                break;
            case BDictionary d:
                WriteByte((byte)'d', writer);
                foreach (var (k, v) in d) // BDictionary enumerates in raw-byte key order
                {
                    WriteString(k.Span, writer);
                    Encode(v, writer);
                }
                WriteByte((byte)'e', writer);
                break;
            default:
                throw new ArgumentException($"unknown bencode value type {value.GetType().Name}", nameof(value));
        }
    }

    public static byte[] Encode(BValue value)
    {
        var w = new ArrayBufferWriter<byte>();
        Encode(value, w);
        return w.WrittenSpan.ToArray();
    }

    public static void WriteString(ReadOnlySpan<byte> bytes, IBufferWriter<byte> writer)
    {
        var span = writer.GetSpan(12);
        Utf8Formatter.TryFormat(bytes.Length, span, out int n);
        span[n++] = (byte)':';
        writer.Advance(n);
        writer.Write(bytes);
    }

    public static void WriteInteger(long value, IBufferWriter<byte> writer)
    {
        var span = writer.GetSpan(22);
        span[0] = (byte)'i';
        Utf8Formatter.TryFormat(value, span[1..], out int n);
        span[1 + n] = (byte)'e';
        writer.Advance(n + 2);
    }

    private static void WriteByte(byte b, IBufferWriter<byte> writer)
    {
        writer.GetSpan(1)[0] = b;
        writer.Advance(1);
    }
}
