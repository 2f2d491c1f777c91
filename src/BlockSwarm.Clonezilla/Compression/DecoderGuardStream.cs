using System.Globalization;

namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// The decompressed stream as the partclone reader sees it: counts decompressed bytes, and turns whatever a decoder
/// library throws for bad input (InvalidDataException, its own exception types) into a
/// <see cref="ClonezillaFormatException"/> naming the file, the compressed offset (the part of a split set) and the
/// decompressed offset. I/O errors of the files themselves pass through as they are.
/// </summary>
internal sealed class DecoderGuardStream(Stream decoder, CountingStream source, CompressionKind kind, string name) : Stream
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
        catch (Exception ex) when (IsDecoderError(ex))
        {
            throw Wrap(ex);
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    private static bool IsDecoderError(Exception ex) =>
        ex is not (ClonezillaFormatException or OperationCanceledException or ObjectDisposedException or OutOfMemoryException)
        // A FileStream's own failure (EIO, a vanished file) is an IOException of the file system, not bad data.
        && (ex is not IOException || ex.GetType().FullName!.StartsWith("SharpCompress", StringComparison.Ordinal));

    private ClonezillaFormatException Wrap(Exception ex)
    {
        long at = source.Consumed;
        string where = source.Inner is SplitFileStream split ? $" ({split.Describe(at)})" : "";
        return new ClonezillaFormatException(string.Create(CultureInfo.InvariantCulture,
            $"{name}: corrupt {kind} data: the decoder failed having read {at} compressed bytes{where} and produced {Produced}: {ex.Message}"), ex);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => Produced; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

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
