namespace BlockSwarm.Clonezilla.Compression;

/// <summary>bzip2, pbzip2 and lbzip2 output (one or more bzip2 streams): native libbz2 (<see cref="LibBzip2Stream"/>).</summary>
internal static class Bzip2Decoding
{
    public static Stream Open(Stream source) => new LibBzip2Stream(source);
}
