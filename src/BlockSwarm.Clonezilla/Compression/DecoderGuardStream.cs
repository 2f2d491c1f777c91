using System.Runtime.ExceptionServices;
using System.Globalization;

namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// The decompressed stream as the partclone reader sees it: counts decompressed bytes, and turns whatever a decoder
/// library throws for bad input (InvalidDataException, its own exception types) into a
/// <see cref="ClonezillaFormatException"/> naming the file, the compressed offset (the part of a split set) and the
/// decompressed offset. What the files themselves threw (an I/O error, a split part that shrank) passes through as it
/// is, however the decoder wrapped it.
/// </summary>
internal sealed class DecoderGuardStream(Stream decoder, CountingStream source, ClonezillaCompression compression, string name) : ForwardReadStream
{
    /// <summary>Decompressed bytes handed out so far.</summary>
    public long Produced { get; private set; }

    public override int Read(Span<byte> buffer)
    {
        try
        {
            int n = decoder.Read(buffer);
            Produced += n;
            return n;
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or OutOfMemoryException))
        {
            if (FromSource(ex) is { } sourceError) ExceptionDispatchInfo.Throw(sourceError);
            throw Wrap(ex);
        }
    }

    private Exception? FromSource(Exception ex)
    {
        if (source.SourceError is not { } error) return null;
        for (Exception? e = ex; e is not null; e = e.InnerException)
            if (ReferenceEquals(e, error)) return error;
        return null;
    }

    private ClonezillaFormatException Wrap(Exception ex)
    {
        long at = source.Consumed;
        string where = source.Inner is SplitFileStream split ? $" ({split.Describe(at)})" : "";
        return new ClonezillaFormatException(string.Create(CultureInfo.InvariantCulture,
            $"{name}: corrupt {CompressionSuffix.Of(compression)} data: the decoder failed before byte offset {at} of the compressed stream{where}, at byte offset {Produced} of the partclone stream: {ex.Message}"), ex);
    }

    public override long Position { get => Produced; set => throw new NotSupportedException(); }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            decoder.Dispose();
            source.Dispose();
        }
        base.Dispose(disposing);
    }
}
