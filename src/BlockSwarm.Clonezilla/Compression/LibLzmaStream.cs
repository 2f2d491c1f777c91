using System.Runtime.InteropServices;

namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// xz and .lzma through Debian's liblzma (liblzma5, on every Debian system: xz-utils, systemd and apt depend on it).
/// The managed decoder in SharpCompress ran at about half of <c>xz -d</c> on a partclone image (bench/README.md);
/// this one is xz's own code. The <c>lzma_stream</c> and the input buffer live in native memory because liblzma keeps
/// pointers into both between calls.
/// </summary>
internal sealed unsafe partial class LibLzmaStream : NativeDecoderStream
{
    private const string Library = "liblzma.so.5";
    private const uint Concatenated = 0x08;      // LZMA_CONCATENATED: .xz files one after another decode as one
    private const int ActionRun = 0, ActionFinish = 3;
    private const int Ok = 0, StreamEnd = 1;

    private LzmaStreamState* _state;
    private bool _inputEnded;
    private bool _finished;

    private LibLzmaStream(Stream source, bool xz) : base(source)
    {
        _state = (LzmaStreamState*)NativeMemory.AllocZeroed((nuint)sizeof(LzmaStreamState));
        int ret = xz ? lzma_stream_decoder(_state, ulong.MaxValue, Concatenated) : lzma_alone_decoder(_state, ulong.MaxValue);
        if (ret != Ok)
        {
            Dispose(false);
            GC.SuppressFinalize(this);
            throw new InvalidOperationException($"liblzma could not start a decoder (error {ret})");
        }
    }

    /// <summary>One or more .xz streams (xz, pxz, xz -T0 output).</summary>
    public static Stream OpenXz(Stream source) => new LibLzmaStream(source, xz: true);

    /// <summary>The legacy .lzma format (<c>lzma -c</c>), with or without its size in the header.</summary>
    public static Stream OpenLzma(Stream source) => new LibLzmaStream(source, xz: false);

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_state is null, this);
        if (_finished || buffer.IsEmpty) return 0;
        fixed (byte* output = buffer)
        {
            _state->NextOut = output;
            _state->AvailOut = (nuint)buffer.Length;
            while (_state->AvailOut > 0)
            {
                if (_state->AvailIn == 0 && !_inputEnded)
                {
                    int n = ReadInput();
                    if (n == 0) _inputEnded = true;
                    _state->NextIn = Input;
                    _state->AvailIn = (nuint)n;
                }
                int ret = lzma_code(_state, _inputEnded ? ActionFinish : ActionRun);
                if (ret == StreamEnd)
                {
                    _finished = true;
                    break;
                }
                if (ret != Ok) throw new InvalidDataException(Describe(ret));
            }
            int produced = buffer.Length - (int)_state->AvailOut;
            _state->NextOut = null;
            _state->AvailOut = 0;
            return produced;
        }
    }

    private static string Describe(int ret) => ret switch
    {
        5 => "liblzma: out of memory",
        6 => "liblzma: memory limit reached",
        7 => "not xz/lzma data (LZMA_FORMAT_ERROR)",
        8 => "unsupported xz/lzma options (LZMA_OPTIONS_ERROR)",
        9 => "corrupt xz/lzma data (LZMA_DATA_ERROR)",
        10 => "xz/lzma data truncated (LZMA_BUF_ERROR)",
        3 => "the xz integrity check type is unsupported",
        _ => $"liblzma error {ret}",
    };

    protected override void FreeDecoder()
    {
        if (_state is null) return;
        lzma_end(_state);
        NativeMemory.Free(_state);
        _state = null;
    }

    /// <summary>liblzma's <c>lzma_stream</c> (lzma/base.h, 5.x): pointers and sizes, then reserved fields it requires zeroed.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct LzmaStreamState
    {
        public byte* NextIn;
        public nuint AvailIn;
        public ulong TotalIn;
        public byte* NextOut;
        public nuint AvailOut;
        public ulong TotalOut;
        public nint Allocator;
        public nint Internal;
        public nint ReservedPtr1, ReservedPtr2, ReservedPtr3, ReservedPtr4;
        public ulong SeekPos, ReservedInt2;
        public nuint ReservedInt3, ReservedInt4;
        public int ReservedEnum1, ReservedEnum2;
    }

    [LibraryImport(Library)]
    private static partial int lzma_stream_decoder(LzmaStreamState* strm, ulong memlimit, uint flags);

    [LibraryImport(Library)]
    private static partial int lzma_alone_decoder(LzmaStreamState* strm, ulong memlimit);

    [LibraryImport(Library)]
    private static partial int lzma_code(LzmaStreamState* strm, int action);

    [LibraryImport(Library)]
    private static partial void lzma_end(LzmaStreamState* strm);
}
