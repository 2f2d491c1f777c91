using System.Runtime.InteropServices;

namespace BlockSwarm.Clonezilla.Restart;

/// <summary>
/// The system zlib (Debian's zlib1g, libz.so.1), for what .NET's DeflateStream cannot do: stop at deflate block
/// boundaries (<c>Z_BLOCK</c>), read the 32 KiB window there (<c>inflateGetDictionary</c>) and start inflating mid-stream
/// from a bit offset (<c>inflatePrime</c> + <c>inflateSetDictionary</c>) — zlib's own zran technique.
/// </summary>
internal static unsafe partial class Zlib
{
    private const string Library = "libz.so.1";

    public const int Ok = 0, StreamEnd = 1, NeedDict = 2, BufError = -5, DataError = -3;
    public const int NoFlush = 0, Block = 5;

    /// <summary>Raw deflate (no header), gzip only, and gzip-or-zlib auto-detection.</summary>
    public const int RawWindowBits = -15, GzipWindowBits = 31, AutoWindowBits = 47;

    public const int WindowSize = 32768;

    /// <summary>zlib's z_stream on LP64 (pointers and uLong 8 bytes, uInt 4).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ZStream
    {
        public byte* NextIn;
        public uint AvailIn;
        public nuint TotalIn;
        public byte* NextOut;
        public uint AvailOut;
        public nuint TotalOut;
        public sbyte* Msg;
        public nint State;
        public nint ZAlloc;
        public nint ZFree;
        public nint Opaque;
        public int DataType;
        public nuint Adler;
        public nuint Reserved;
    }

    [LibraryImport(Library, EntryPoint = "inflateInit2_")]
    private static partial int InflateInit2(ZStream* strm, int windowBits, byte* version, int streamSize);

    [LibraryImport(Library, EntryPoint = "inflate")]
    public static partial int Inflate(ZStream* strm, int flush);

    [LibraryImport(Library, EntryPoint = "inflateEnd")]
    public static partial int InflateEnd(ZStream* strm);

    [LibraryImport(Library, EntryPoint = "inflateReset2")]
    public static partial int InflateReset2(ZStream* strm, int windowBits);

    [LibraryImport(Library, EntryPoint = "inflatePrime")]
    public static partial int InflatePrime(ZStream* strm, int bits, int value);

    [LibraryImport(Library, EntryPoint = "inflateSetDictionary")]
    public static partial int InflateSetDictionary(ZStream* strm, byte* dictionary, uint length);

    [LibraryImport(Library, EntryPoint = "inflateGetDictionary")]
    public static partial int InflateGetDictionary(ZStream* strm, byte* dictionary, uint* length);

    [LibraryImport(Library, EntryPoint = "zlibVersion")]
    private static partial byte* ZlibVersion();

    public static int InflateInit(ZStream* strm, int windowBits) => InflateInit2(strm, windowBits, ZlibVersion(), sizeof(ZStream));

    public static string Message(ZStream* strm, int code) =>
        strm->Msg != null ? new string(strm->Msg) : $"zlib error {code}";
}
