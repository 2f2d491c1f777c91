namespace BlockSwarm.Clonezilla.Serving;

/// <summary>
/// Where a decoded stream can be (re)opened: its start, and whatever restart points the one decoding pass recorded
/// (gzip window snapshots, zstd frame boundaries). Without any, every restart is from the start.
/// </summary>
public interface IRestartPoints
{
    /// <summary>The decoded offset of the last restart point at or before <paramref name="offset"/> (0 at least).</summary>
    long BestAtOrBefore(long offset);

    /// <summary>A reader positioned at <paramref name="restartOffset"/>, one of the offsets <see cref="BestAtOrBefore"/> returns.</summary>
    IForwardReader OpenAt(long restartOffset);
}
