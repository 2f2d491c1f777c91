using System.Runtime.InteropServices;

namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// What the native decoders (<see cref="LibBzip2Stream"/>, <see cref="LibLzmaStream"/>) share: the compressed source
/// they own, and an input buffer in native memory, since the C libraries keep pointers into it between calls. A
/// subclass frees its own decoder state in <see cref="FreeDecoder"/>, which disposing or finalizing calls once.
/// </summary>
internal abstract unsafe class NativeDecoderStream : ForwardReadStream
{
    private const int InputBytes = 1 << 20;

    private readonly Stream _source;
    private byte* _input;

    protected NativeDecoderStream(Stream source)
    {
        _source = source;
        _input = (byte*)NativeMemory.Alloc(InputBytes);
    }

    /// <summary>The input buffer: <see cref="ReadInput"/> fills it from its start.</summary>
    protected byte* Input => _input;

    /// <summary>Reads the next compressed bytes into <see cref="Input"/>: how many (0 at the end of the source).</summary>
    protected int ReadInput() => _source.Read(new Span<byte>(_input, InputBytes));

    /// <summary>Ends and frees the library's decoder state, if any is left.</summary>
    protected abstract void FreeDecoder();

    protected sealed override void Dispose(bool disposing)
    {
        FreeDecoder();
        if (_input is not null)
        {
            NativeMemory.Free(_input);
            _input = null;
        }
        if (disposing) _source.Dispose();
        base.Dispose(disposing);
    }

    ~NativeDecoderStream() => Dispose(false);
}
