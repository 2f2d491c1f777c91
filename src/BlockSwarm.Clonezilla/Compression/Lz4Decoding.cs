using K4os.Compression.LZ4.Streams;

namespace BlockSwarm.Clonezilla.Compression;

/// <summary>The LZ4 frame format the <c>lz4</c> command writes (K4os.Compression.LZ4.Streams).</summary>
internal static class Lz4Decoding
{
    public static Stream Open(Stream source) =>
        LZ4Stream.Decode(new BufferedStream(source, ClonezillaImageStream.FileBufferBytes), new LZ4DecoderSettings(), leaveOpen: false, interactive: false);
}
