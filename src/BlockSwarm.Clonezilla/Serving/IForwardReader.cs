namespace BlockSwarm.Clonezilla.Serving;

/// <summary>Decoded bytes that can only be read forward (a decompressor, a partclone block stream).</summary>
public interface IForwardReader : IDisposable
{
    /// <summary>Reads up to <c>destination.Length</c> decoded bytes; 0 only at the end of the stream.</summary>
    int Read(Span<byte> destination);
}
