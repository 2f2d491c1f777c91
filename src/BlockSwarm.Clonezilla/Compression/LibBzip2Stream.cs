using System.Runtime.InteropServices;

namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// bzip2 through Debian's libbz2 (libbz2-1.0, which bzip2 itself and dpkg depend on): SharpCompress's managed
/// decoder ran at 0.52× of <c>bzip2 -d</c> on a partclone image (bench/README.md). pbzip2 and lbzip2 write one
/// bzip2 stream per chunk, one after another; a stream end followed by more input starts the next stream. The
/// <c>bz_stream</c> and the input buffer live in native memory because libbz2 keeps pointers into both between calls.
/// </summary>
internal sealed unsafe partial class LibBzip2Stream : NativeDecoderStream
{
    private const string Library = "libbz2.so.1.0";
    private const int Ok = 0, StreamEnd = 4;

    private BzStream* _state;
    private bool _inStream;
    private bool _finished;

    public LibBzip2Stream(Stream source) : base(source) => _state = (BzStream*)NativeMemory.AllocZeroed((nuint)sizeof(BzStream));

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

    private bool Refill()
    {
        int n = ReadInput();
        _state->NextIn = Input;
        _state->AvailIn = (uint)n;
        return n > 0;
    }

    protected override void FreeDecoder()
    {
        if (_state is null) return;
        if (_inStream) _ = BZ2_bzDecompressEnd(_state);
        NativeMemory.Free(_state);
        _state = null;
    }

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
