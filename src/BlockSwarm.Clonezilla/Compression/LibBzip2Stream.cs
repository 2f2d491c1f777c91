using System.Runtime.InteropServices;

namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// bzip2 through Debian's libbz2 (libbz2-1.0, which bzip2 itself and dpkg depend on): SharpCompress's managed
/// decoder ran at 0.52× of <c>bzip2 -d</c> on a partclone image (bench/README.md). pbzip2 and lbzip2 write one
/// bzip2 stream per chunk, one after another; a stream end followed by more input starts the next stream. The
/// <c>bz_stream</c> and the input buffer live in native memory because libbz2 keeps pointers into both between calls.
/// </summary>
internal sealed unsafe partial class LibBzip2Stream : Stream
{
    private const string Library = "libbz2.so.1.0";
    private const int InputBytes = 1 << 20;
    private const int Ok = 0, StreamEnd = 4;

    private readonly Stream _source;
    private BzStream* _state;
    private byte* _input;
    private bool _inStream;
    private bool _finished;

    public LibBzip2Stream(Stream source)
    {
        _source = source;
        _state = (BzStream*)NativeMemory.AllocZeroed((nuint)sizeof(BzStream));
        _input = (byte*)NativeMemory.Alloc(InputBytes);
    }

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_state is null, this);
        if (_finished || buffer.IsEmpty) return 0;
        fixed (byte* output = buffer)
        {
            _state->NextOut = output;
            _state->AvailOut = (uint)buffer.Length;
            while (_state->AvailOut > 0)
            {
                if (_state->AvailIn == 0 && !Refill())
                {
                    // The input ended: cleanly between streams, or inside one.
                    if (_inStream) throw new InvalidDataException("bzip2 data truncated (the input ends inside a stream)");
                    _finished = true;
                    break;
                }
                if (!_inStream)
                {
                    int init = BZ2_bzDecompressInit(_state, 0, 0);
                    if (init != Ok) throw new InvalidOperationException($"libbz2 could not start a decoder (error {init})");
                    _inStream = true;
                }
                int ret = BZ2_bzDecompress(_state);
                if (ret == StreamEnd)
                {
                    _ = BZ2_bzDecompressEnd(_state); // frees the stream; it fails only for a handle it never made
                    _inStream = false;
                }
                else if (ret != Ok)
                {
                    throw new InvalidDataException(ret switch
                    {
                        -4 => "corrupt bzip2 data (BZ_DATA_ERROR)",
                        -5 => "not bzip2 data (BZ_DATA_ERROR_MAGIC)",
                        -3 => "libbz2: out of memory",
                        _ => $"libbz2 error {ret}",
                    });
                }
            }
            int produced = buffer.Length - (int)_state->AvailOut;
            _state->NextOut = null;
            _state->AvailOut = 0;
            return produced;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    private bool Refill()
    {
        int n = _source.Read(new Span<byte>(_input, InputBytes));
        _state->NextIn = _input;
        _state->AvailIn = (uint)n;
        return n > 0;
    }

    protected override void Dispose(bool disposing)
    {
        if (_state is not null)
        {
            if (_inStream) _ = BZ2_bzDecompressEnd(_state);
            NativeMemory.Free(_state);
            _state = null;
        }
        if (_input is not null)
        {
            NativeMemory.Free(_input);
            _input = null;
        }
        if (disposing) _source.Dispose();
        base.Dispose(disposing);
    }

    ~LibBzip2Stream() => Dispose(false);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>libbz2's <c>bz_stream</c> (bzlib.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct BzStream
    {
        public byte* NextIn;
        public uint AvailIn, TotalInLo32, TotalInHi32;
        public byte* NextOut;
        public uint AvailOut, TotalOutLo32, TotalOutHi32;
        public nint State, Alloc, Free, Opaque;
    }

    [LibraryImport(Library)]
    private static partial int BZ2_bzDecompressInit(BzStream* strm, int verbosity, int small);

    [LibraryImport(Library)]
    private static partial int BZ2_bzDecompress(BzStream* strm);

    [LibraryImport(Library)]
    private static partial int BZ2_bzDecompressEnd(BzStream* strm);
}
