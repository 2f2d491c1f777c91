using System.Runtime.InteropServices;

namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// zstd through ZstdNet over Debian's libzstd (libzstd1, present wherever zstd is): measured 1.2-1.5× the managed
/// ZstdSharp port on a partclone image and level with <c>zstd -d</c> itself (bench/README.md). ZstdNet asks for
/// "libzstd", which Debian only ships as libzstd.so.1 (the unversioned name comes with -dev), so the resolver below
/// maps it; the package's own copies are not deployed (ExcludeAssets="native").
/// </summary>
internal static class ZstdDecoding
{
    private const string DebianLibrary = "libzstd.so.1";

    static ZstdDecoding()
    {
        NativeLibrary.SetDllImportResolver(typeof(ZstdNet.DecompressionStream).Assembly, (name, assembly, path) =>
            name.Contains("zstd", StringComparison.Ordinal) && NativeLibrary.TryLoad(DebianLibrary, out var handle) ? handle : IntPtr.Zero);
    }

    /// <summary>Decodes one or more zstd frames (zstd, zstdmt and pzstd output alike) from <paramref name="source"/>.</summary>
    public static Stream Open(Stream source) => new ZstdNet.DecompressionStream(source, ClonezillaImageStream.FileBufferBytes);
}
