namespace BlockSwarm.Clonezilla.Compression;

/// <summary>
/// A read-only stream that only goes forward (a decoder, or a pass-through in front of one): a subclass writes
/// <see cref="Read(Span{byte})"/> and <see cref="Stream.Dispose(bool)"/>; everything it cannot do is refused here once.
/// </summary>
internal abstract class ForwardReadStream : Stream
{
    public abstract override int Read(Span<byte> buffer);

    public sealed override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public sealed override bool CanRead => true;
    public sealed override bool CanSeek => false;
    public sealed override bool CanWrite => false;
    public sealed override long Length => throw new NotSupportedException();

    /// <summary>Not settable; a subclass that counts what it hands out may say how far it is.</summary>
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public sealed override void Flush() { }
    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public sealed override void SetLength(long value) => throw new NotSupportedException();
    public sealed override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
