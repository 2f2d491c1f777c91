namespace BlockSwarm.Clonezilla.Serving;

/// <summary>Adapters from the decoders to <see cref="IForwardReader"/> and restart points that only know the start.</summary>
public static class ForwardReaders
{
    /// <summary>A stream read forward.</summary>
    public static IForwardReader Of(Stream stream) => new StreamReader(stream);

    /// <summary>Restart points with only the start of the stream: every restart decodes from byte 0.</summary>
    public static IRestartPoints StartOnly(Func<IForwardReader> open) => new StartOnlyPoints(open);

    private sealed class StreamReader(Stream stream) : IForwardReader
    {
        public int Read(Span<byte> destination) => stream.Read(destination);

        public void Dispose() => stream.Dispose();
    }

    private sealed class StartOnlyPoints(Func<IForwardReader> open) : IRestartPoints
    {
        public long BestAtOrBefore(long offset) => 0;

        public IForwardReader OpenAt(long restartOffset) =>
            restartOffset == 0 ? open() : throw new ArgumentOutOfRangeException(nameof(restartOffset), "this stream restarts only at its start");
    }
}
