using Microsoft.Win32.SafeHandles;

namespace BlockSwarm.Devices;

/// <summary>Scatter/gather positional I/O on one handle with every byte count checked.</summary>
public static class PositionalIO
{
    /// <summary>Linux rejects more than IOV_MAX (1024) iovecs per preadv/pwritev with EINVAL.</summary>
    public const int MaxSegments = 1024;

    public static void ReadExactly(SafeFileHandle handle, string name, long offset, IReadOnlyList<Memory<byte>> buffers)
    {
        long total = TotalLength(buffers);
        long done = 0;
        IReadOnlyList<Memory<byte>> rest = buffers;
        while (done < total)
        {
            long n = rest.Count == 1
                ? RandomAccess.Read(handle, rest[0].Span, offset + done)
                : RandomAccess.Read(handle, rest, offset + done);
            if (n <= 0)
                throw new EndOfStreamException($"{name}: short read at byte {offset + done}: wanted {total - done} more bytes");
            done += n;
            // A partial scatter read: continue with the part not yet filled.
            if (done < total) rest = Skip(buffers, done);
        }
    }

    public static void WriteAll(SafeFileHandle handle, long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers)
    {
        // RandomAccess.Write loops over partial writes itself and throws IOException on
        // errors (ENOSPC after a short count, EIO): nothing returns short silently.
        if (buffers.Count == 1) RandomAccess.Write(handle, buffers[0].Span, offset);
        else RandomAccess.Write(handle, buffers, offset);
    }

    public static long TotalLength<T>(IReadOnlyList<T> buffers) where T : struct
    {
        long t = 0;
        for (int i = 0; i < buffers.Count; i++)
            t += buffers[i] switch
            {
                Memory<byte> m => m.Length,
                ReadOnlyMemory<byte> r => r.Length,
                _ => throw new ArgumentException("unsupported buffer type", nameof(buffers)),
            };
        return t;
    }

    /// <summary>The buffers after the first <paramref name="skip"/> bytes.</summary>
    public static List<Memory<byte>> Skip(IReadOnlyList<Memory<byte>> buffers, long skip) => Range(buffers, skip, TotalLength(buffers) - skip);

    /// <summary>Bytes [<paramref name="start"/>, +<paramref name="length"/>) of the concatenated buffers, as slices.</summary>
    public static List<Memory<byte>> Range(IReadOnlyList<Memory<byte>> buffers, long start, long length) =>
        Range(buffers, start, length, static b => b.Length, static (b, from, n) => b.Slice(from, n));

    public static List<ReadOnlyMemory<byte>> Range(IReadOnlyList<ReadOnlyMemory<byte>> buffers, long start, long length) =>
        Range(buffers, start, length, static b => b.Length, static (b, from, n) => b.Slice(from, n));

    private static List<T> Range<T>(IReadOnlyList<T> buffers, long start, long length, Func<T, int> lengthOf, Func<T, int, int, T> slice)
    {
        var list = new List<T>();
        long pos = 0;
        for (int i = 0; i < buffers.Count && length > 0; i++)
        {
            var b = buffers[i];
            long end = pos + lengthOf(b);
            if (end > start)
            {
                int from = (int)Math.Max(0, start - pos);
                int n = (int)Math.Min(lengthOf(b) - from, length);
                list.Add(slice(b, from, n));
                length -= n;
                start += n;
            }
            pos = end;
        }
        return list;
    }
}
