using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BlockSwarm.Clonezilla.Serving;

namespace BlockSwarm.Clonezilla.Restart;

/// <summary>
/// Inflates a gzip stream (one member or several, as pigz and cat make them) forward, through the system zlib. Opened
/// at the start it can record restart points as it goes (every <c>spacing</c> decoded bytes, at a deflate block
/// boundary: the compressed position, the bits of the byte before, the 32 KiB window); opened at a restart point it
/// inflates from there. Corrupt or truncated data is a <see cref="ClonezillaFormatException"/> naming the stream and the
/// compressed offset.
/// </summary>
public sealed unsafe class GzipReader : IForwardReader
{
    private const int InputBytes = 256 * 1024;

    private readonly Stream _input;
    private readonly string _name;
    private readonly byte[] _in = GC.AllocateUninitializedArray<byte>(InputBytes, pinned: true);
    private readonly Zlib.ZStream* _z;
    private readonly List<GzipRestartPoint>? _points;
    private readonly long _spacing;
    private long _inBase;
    private long _decoded;
    private long _lastPoint = long.MinValue;
    private bool _raw;
    private bool _streamEnded;
    private bool _disposed;

    private GzipReader(Stream input, string name, long startCompressed, long startDecoded, List<GzipRestartPoint>? points, long spacing)
    {
        _input = input;
        _name = name;
        _points = points;
        _spacing = spacing;
        _inBase = startCompressed;
        _decoded = startDecoded;
        _z = (Zlib.ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(Zlib.ZStream));
    }

    /// <summary>From the start of the gzip stream; with <paramref name="points"/> it records restart points every <paramref name="spacing"/> decoded bytes.</summary>
    public static GzipReader OpenAtStart(Stream compressed, string name, List<GzipRestartPoint>? points = null, long spacing = 8 << 20)
    {
        ArgumentNullException.ThrowIfNull(compressed);
        compressed.Position = 0;
        var r = new GzipReader(compressed, name, 0, 0, points, spacing);
        r.Init(Zlib.GzipWindowBits);
        return r;
    }

    /// <summary>From a restart point recorded by <see cref="OpenAtStart"/> over the same compressed bytes.</summary>
    public static GzipReader OpenAt(Stream compressed, string name, GzipRestartPoint point)
    {
        ArgumentNullException.ThrowIfNull(compressed);
        ArgumentNullException.ThrowIfNull(point);
        long start = point.Bits > 0 ? point.Compressed - 1 : point.Compressed;
        compressed.Position = start;
        var r = new GzipReader(compressed, name, start, point.Decoded, null, 0);
        r.Init(Zlib.RawWindowBits);
        r._raw = true;
        if (point.Bits > 0)
        {
            int b = compressed.ReadByte();
            if (b < 0) throw new ClonezillaFormatException($"{name}: the restart point at compressed byte {point.Compressed} is past the end");
            r._inBase = point.Compressed;
            r.Check(Zlib.InflatePrime(r._z, point.Bits, b >> (8 - point.Bits)), "inflatePrime");
        }
        fixed (byte* w = point.Window) r.Check(Zlib.InflateSetDictionary(r._z, w, (uint)point.Window.Length), "inflateSetDictionary");
        return r;
    }

    /// <summary>Decoded bytes delivered so far (from the stream's start, whatever point it was opened at).</summary>
    public long Decoded => _decoded;

    private void Init(int windowBits)
    {
        int rc = Zlib.InflateInit(_z, windowBits);
        if (rc != Zlib.Ok) throw new ClonezillaFormatException($"{_name}: zlib inflateInit failed ({rc})");
    }

    private void Check(int rc, string what)
    {
        if (rc != Zlib.Ok) throw new ClonezillaFormatException($"{_name}: zlib {what} failed: {Zlib.Message(_z, rc)}");
    }

    private long CompressedPosition => _inBase + (_z->NextIn == null ? 0 : _z->NextIn - PinnedIn);

    private byte* PinnedIn => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_in));

    public int Read(Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_streamEnded || destination.IsEmpty) return 0;
        fixed (byte* outp = destination)
        {
            _z->NextOut = outp;
            _z->AvailOut = (uint)destination.Length;
            while (_z->AvailOut > 0 && !_streamEnded)
            {
                if (_z->AvailIn == 0 && !Refill()) break;
                uint before = _z->AvailOut;
                int rc = Zlib.Inflate(_z, _points != null ? Zlib.Block : Zlib.NoFlush);
                _decoded += before - _z->AvailOut;
                if (rc == Zlib.StreamEnd)
                {
                    EndMember();
                    continue;
                }
                if (rc == Zlib.BufError && _z->AvailIn == 0) continue;
                if (rc != Zlib.Ok)
                    throw new ClonezillaFormatException($"{_name}: corrupt gzip data at compressed byte {CompressedPosition}: {Zlib.Message(_z, rc)}");
                if (_points != null) MaybeRecordPoint();
            }
            int produced = destination.Length - (int)_z->AvailOut;
            if (produced == 0 && !_streamEnded)
                throw new ClonezillaFormatException($"{_name}: the gzip stream is truncated at compressed byte {CompressedPosition} (decoded byte {_decoded})");
            return produced;
        }
    }

    /// <summary>Reads more compressed input; false at its end.</summary>
    private bool Refill()
    {
        _inBase = CompressedPosition;
        int n = _input.Read(_in, 0, _in.Length);
        if (n <= 0) return false;
        _z->NextIn = PinnedIn;
        _z->AvailIn = (uint)n;
        return true;
    }

    /// <summary>A member ended: another may follow (pigz, cat), each with its own gzip header.</summary>
    private void EndMember()
    {
        if (_raw)
        {
            // Restarted mid-member with raw inflate: the member's 8-byte trailer (CRC-32, size) is still in the input.
            SkipInput(8);
            _raw = false;
        }
        if (_z->AvailIn == 0 && !Refill())
        {
            _streamEnded = true;
            return;
        }
        Check(Zlib.InflateReset2(_z, Zlib.GzipWindowBits), "inflateReset2");
    }

    private void SkipInput(int count)
    {
        while (count > 0)
        {
            if (_z->AvailIn == 0 && !Refill())
                throw new ClonezillaFormatException($"{_name}: the gzip stream is truncated in a member trailer at compressed byte {CompressedPosition}");
            int n = (int)Math.Min(count, _z->AvailIn);
            _z->NextIn += n;
            _z->AvailIn -= (uint)n;
            count -= n;
        }
    }

    private void MaybeRecordPoint()
    {
        // At the end of a deflate block (bit 7), not after the member's last block (bit 6): every byte before is
        // delivered and at most 7 bits of the next block's input consumed (zlib's zran technique).
        int type = _z->DataType;
        if ((type & 128) == 0 || (type & 64) != 0) return;
        if (_lastPoint != long.MinValue && _decoded - _lastPoint < _spacing) return;
        var window = new byte[Zlib.WindowSize];
        uint length = (uint)window.Length;
        fixed (byte* w = window) Check(Zlib.InflateGetDictionary(_z, w, &length), "inflateGetDictionary");
        if (length < window.Length) Array.Resize(ref window, (int)length);
        _points!.Add(new GzipRestartPoint(_decoded, CompressedPosition, type & 7, window));
        _lastPoint = _decoded;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // Only fails for a stream zlib never initialised; nothing to report while disposing.
        _ = Zlib.InflateEnd(_z);
        NativeMemory.Free(_z);
        _input.Dispose();
    }
}
