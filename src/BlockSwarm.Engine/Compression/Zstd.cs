using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace BlockSwarm.Engine.Compression;

/// <summary>
/// One-shot zstd compression and bounded decompression of a block run, over Debian's libzstd (<c>libzstd.so.1</c>, in
/// every Debian system that has <c>zstd</c>, <c>apt</c> or <c>systemd</c>). Native rather than a managed port: the
/// swarm's receivers decompress everything they download and the origin compresses everything it sends, so this is
/// on the transfer's critical path. Contexts are pooled (a compression context at level 3 for a 256 KiB input is about
/// 1 MiB of native memory; creating one per block would cost more than compressing it).
/// </summary>
internal static partial class Zstd
{
    private const string Library = "libzstd.so.1";

    private static readonly Lazy<string?> s_unavailable = new(Probe);
    private static readonly ConcurrentBag<nint> s_compressors = [];
    private static readonly ConcurrentBag<nint> s_decompressors = [];
    private static readonly int s_maxPooled = Math.Max(4, 2 * Environment.ProcessorCount);

    /// <summary>Null when libzstd can be used; else why not (logged once by whoever turns compression off).</summary>
    public static string? Unavailable => s_unavailable.Value;

    public static bool IsAvailable => Unavailable is null;

    /// <summary>Largest compressed size of <paramref name="length"/> bytes (ZSTD_COMPRESSBOUND).</summary>
    public static int CompressBound(int length) => checked(length + (length >> 8) + (length < 128 << 10 ? ((128 << 10) - length) >> 11 : 0));

    /// <summary>Compresses <paramref name="source"/> into <paramref name="destination"/>; returns the bytes written, or -1 when it does not fit.</summary>
    public static unsafe int Compress(ReadOnlySpan<byte> source, Span<byte> destination, int level)
    {
        nint cctx = Rent(s_compressors, compress: true);
        try
        {
            nuint n;
            fixed (byte* s = source)
            fixed (byte* d = destination)
                n = ZSTD_compressCCtx(cctx, d, (nuint)destination.Length, s, (nuint)source.Length, level);
            if (ZSTD_isError(n) != 0)
            {
                // "Destination buffer is too small" is the one expected error: the block does not compress into the room given.
                return -1;
            }
            return (int)n;
        }
        finally
        {
            Return(s_compressors, cctx, compress: true);
        }
    }

    /// <summary>
    /// Decompresses <paramref name="source"/> into exactly <paramref name="destination"/>: never writes past it (a frame that
    /// claims more is an error, not an allocation), and fails unless it fills it exactly.
    /// </summary>
    /// <exception cref="InvalidDataException">The frame is corrupt, or decodes to another length.</exception>
    public static unsafe void DecompressExactly(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        nint dctx = Rent(s_decompressors, compress: false);
        nuint n;
        try
        {
            fixed (byte* s = source)
            fixed (byte* d = destination)
                n = ZSTD_decompressDCtx(dctx, d, (nuint)destination.Length, s, (nuint)source.Length);
        }
        finally
        {
            Return(s_decompressors, dctx, compress: false);
        }
        if (ZSTD_isError(n) != 0) throw new InvalidDataException($"zstd: {ErrorName(n)}");
        if (n != (nuint)destination.Length) throw new InvalidDataException($"zstd: decodes to {n} bytes, {destination.Length} expected");
    }

    private static string ErrorName(nuint code) => Marshal.PtrToStringUTF8(ZSTD_getErrorName(code)) ?? "unknown error";

    private static nint Rent(ConcurrentBag<nint> pool, bool compress)
    {
        if (pool.TryTake(out var ctx)) return ctx;
        if (Unavailable is { } why) throw new InvalidOperationException(why);
        ctx = compress ? ZSTD_createCCtx() : ZSTD_createDCtx();
        if (ctx == 0) throw new InvalidOperationException("zstd: cannot create a context (out of memory)");
        return ctx;
    }

    private static void Return(ConcurrentBag<nint> pool, nint ctx, bool compress)
    {
        if (pool.Count < s_maxPooled)
        {
            pool.Add(ctx);
            return;
        }
        if (compress) ZSTD_freeCCtx(ctx);
        else ZSTD_freeDCtx(ctx);
    }

    private static string? Probe()
    {
        if (!NativeLibrary.TryLoad(Library, typeof(Zstd).Assembly, null, out var handle))
            return $"{Library} cannot be loaded (install Debian's libzstd1)";
        NativeLibrary.Free(handle);
        try
        {
            return ZSTD_versionNumber() >= 10400 ? null : $"{Library} is version {ZSTD_versionNumber()}, 1.4.0 or later is needed";
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return $"{Library}: {ex.Message}";
        }
    }

    [LibraryImport(Library)]
    private static partial uint ZSTD_versionNumber();

    [LibraryImport(Library)]
    private static partial nint ZSTD_createCCtx();

    [LibraryImport(Library)]
    private static partial nuint ZSTD_freeCCtx(nint cctx);

    [LibraryImport(Library)]
    private static unsafe partial nuint ZSTD_compressCCtx(nint cctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize, int compressionLevel);

    [LibraryImport(Library)]
    private static partial nint ZSTD_createDCtx();

    [LibraryImport(Library)]
    private static partial nuint ZSTD_freeDCtx(nint dctx);

    [LibraryImport(Library)]
    private static unsafe partial nuint ZSTD_decompressDCtx(nint dctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize);

    [LibraryImport(Library)]
    private static partial uint ZSTD_isError(nuint code);

    [LibraryImport(Library)]
    private static partial nint ZSTD_getErrorName(nuint code);
}
