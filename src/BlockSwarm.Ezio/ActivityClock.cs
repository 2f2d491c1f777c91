namespace BlockSwarm.Ezio;

/// <summary>
/// Adds up the time something runs, across pauses (libtorrent's active, finished and seeding durations). Not
/// thread-safe: its owner's lock guards it.
/// </summary>
internal sealed class ActivityClock(TimeProvider time)
{
    private long _accumulated;
    private long _since = -1;

    public bool IsRunning => _since >= 0;

    public void Start()
    {
        if (_since < 0) _since = time.GetTimestamp();
    }

    public void Stop()
    {
        if (_since < 0) return;
        _accumulated += time.GetTimestamp() - _since;
        _since = -1;
    }

    /// <summary>Whole seconds run so far (the API reports whole seconds).</summary>
    public long Seconds
    {
        get
        {
            long ticks = _accumulated + (_since >= 0 ? time.GetTimestamp() - _since : 0);
            return ticks / time.TimestampFrequency;
        }
    }
}
