namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// A read-only pass-through that counts the bytes a decoder has taken, so an error can say how far into the
/// compressed file it was (and, over a split set, which part).
/// </summary>
internal sealed class CountingStream(Stream inner) : ForwardReadStream
{
    public Stream Inner => inner;

    /// <summary>Compressed bytes read so far.</summary>
    public long Consumed { get; private set; }

    /// <summary>The last exception the file side threw: the decoder's guard passes it on as it is, not as bad data.</summary>
    public Exception? SourceError { get; private set; }

    public override int Read(Span<byte> buffer)
    {
        try
        {
            int n = inner.Read(buffer);
            Consumed += n;
            return n;
        }
        catch (Exception ex)
        {
            SourceError = ex;
            throw;
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            Consumed += n;
            return n;
        }
        catch (Exception ex)
        {
            SourceError = ex;
            throw;
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Position { get => Consumed; set => throw new NotSupportedException(); }

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
