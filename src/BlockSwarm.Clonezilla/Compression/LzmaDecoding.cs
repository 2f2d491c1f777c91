namespace BlockSwarm.Clonezilla.Compression;

/// <summary>xz and the legacy .lzma format: native liblzma (<see cref="LibLzmaStream"/>).</summary>
internal static class LzmaDecoding
{
    public static Stream OpenXz(Stream source) => LibLzmaStream.OpenXz(source);

    public static Stream OpenLzma(Stream source) => LibLzmaStream.OpenLzma(source);
}
