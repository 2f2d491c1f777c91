using SharpCompress.Compressors;
using SharpCompress.Compressors.BZip2;

namespace BlockSwarm.Clonezilla.Compression;

/// <summary>bzip2, pbzip2 and lbzip2 output (concatenated bzip2 streams) through SharpCompress.</summary>
internal static class Bzip2Decoding
{
    public static Stream Open(Stream source) =>
        BZip2Stream.Create(new BufferedStream(source, ClonezillaImageStream.FileBufferBytes), CompressionMode.Decompress,
            decompressConcatenated: true, leaveOpen: false, tolerateTruncatedStream: false);
}
