using System.Collections.Concurrent;
using BlockSwarm.Engine.Swarm;

namespace BlockSwarm.Engine.Session;

/// <summary>
/// One torrent's traffic totals and rates: payload and wire bytes both ways, bytes sent with sendfile, bans, and the
/// payload received from each remote address (origin vs peers). Updated lock-free from every peer's loops.
/// </summary>
internal sealed class TransferCounters(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, long> _downloadedFrom = new();
    private long _downloaded;
    private long _uploaded;
    private long _uploadedFromFile;
    private long _closedWireReceived;
    private long _closedWireSent;
    private int _banned;

    public RateMeter DownloadMeter { get; } = new(time);
    public RateMeter UploadMeter { get; } = new(time);

    public long Downloaded => Interlocked.Read(ref _downloaded);
    public long Uploaded => Interlocked.Read(ref _uploaded);
    public long UploadedFromFile => Interlocked.Read(ref _uploadedFromFile);
    public long ClosedWireReceived => Interlocked.Read(ref _closedWireReceived);
    public long ClosedWireSent => Interlocked.Read(ref _closedWireSent);
    public int Banned => Volatile.Read(ref _banned);
    public double DownloadRate => DownloadMeter.BytesPerSecond;
    public double UploadRate => UploadMeter.BytesPerSecond;

    public void OnDownloaded(int bytes)
    {
        Interlocked.Add(ref _downloaded, bytes);
        DownloadMeter.Add(bytes);
    }

    public void OnUploaded(int bytes, bool fromFile)
    {
        Interlocked.Add(ref _uploaded, bytes);
        if (fromFile) Interlocked.Add(ref _uploadedFromFile, bytes);
        UploadMeter.Add(bytes);
    }

    public void OnBanned() => Interlocked.Increment(ref _banned);

    /// <summary>A connection ended: its totals move from the live peer to the torrent's.</summary>
    public void OnPeerClosed(PeerSession peer)
    {
        _downloadedFrom.AddOrUpdate(peer.Remote.Address.ToString(), peer.PayloadFromPeer, (_, v) => v + peer.PayloadFromPeer);
        Interlocked.Add(ref _closedWireReceived, peer.Connection.WireBytesReceived);
        Interlocked.Add(ref _closedWireSent, peer.Connection.WireBytesSent);
    }

    /// <summary>Payload received per remote IP address: finished connections plus <paramref name="live"/> ones.</summary>
    public Dictionary<string, long> DownloadedByAddress(IEnumerable<PeerSession> live)
    {
        var result = new Dictionary<string, long>(_downloadedFrom.ToArray()); // ToArray: an atomic snapshot
        foreach (var p in live)
        {
            var key = p.Remote.Address.ToString();
            result[key] = result.GetValueOrDefault(key) + p.PayloadFromPeer;
        }
        return result;
    }
}
