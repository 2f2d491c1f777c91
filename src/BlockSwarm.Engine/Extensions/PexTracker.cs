using System.Net;

namespace BlockSwarm.Engine.Extensions;

/// <summary>
/// Per-connection PEX state: diffs the engine's set of connected peers against what this
/// connection was last told, and builds at most one message a minute with at most 50 added
/// and 50 dropped entries. Peers that did not fit are carried to the next message, because
/// the "sent" set only records what was actually sent.
/// </summary>
public sealed class PexTracker(TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<IPEndPoint, PexFlags> _sent = [];
    private long? _lastSent;

    /// <summary>
    /// The message to send now, or null when the minute has not passed or nothing changed.
    /// <paramref name="connected"/> should exclude the remote peer itself.
    /// </summary>
    public PexMessage? TryBuild(IEnumerable<PexPeer> connected)
    {
        ArgumentNullException.ThrowIfNull(connected);
        if (_lastSent is { } last && _time.GetElapsedTime(last) < PexMessage.MinMessageInterval) return null;

        var current = new Dictionary<IPEndPoint, PexFlags>();
        foreach (var p in connected) current[p.EndPoint] = p.Flags;

        var message = new PexMessage();
        foreach (var (ep, flags) in current)
        {
            if (message.Added.Count >= PexMessage.MaxPeersPerList) break;
            if (!_sent.ContainsKey(ep)) message.Added.Add(new PexPeer(ep, flags));
        }
        foreach (var ep in _sent.Keys)
        {
            if (message.Dropped.Count >= PexMessage.MaxPeersPerList) break;
            if (!current.ContainsKey(ep)) message.Dropped.Add(ep);
        }
        if (message.IsEmpty) return null;

        foreach (var p in message.Added) _sent[p.EndPoint] = p.Flags;
        foreach (var ep in message.Dropped) _sent.Remove(ep);
        _lastSent = _time.GetTimestamp();
        return message;
    }
}
