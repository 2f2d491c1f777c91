using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using BlockSwarm.Metainfo;
using Microsoft.Extensions.Logging;

namespace BlockSwarm.Tracker.Client.Lsd;

/// <summary>
/// BEP 14 Local Service Discovery: multicasts <c>BT-SEARCH</c> for registered torrents and
/// reports peers that announce the same torrents. The socket is created in <see cref="Start"/>,
/// synchronously, so a caller (or a test) decides which network namespace it lives in.
/// </summary>
public sealed class LsdService : IAsyncDisposable
{
    private readonly LsdOptions _options;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<InfoHash, Registration> _torrents = new();
    private readonly Channel<LsdPeer> _peers = Channel.CreateBounded<LsdPeer>(
        new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly CancellationTokenSource _cts = new();
    private Socket? _socket;
    private Task? _receiveLoop;
    private Task? _announceLoop;

    private sealed class Registration(int port)
    {
        public int Port = port;
        public long? LastSent;
    }

    public LsdService(LsdOptions? options = null)
    {
        _options = options ?? new LsdOptions();
        _log = _options.LoggerFactory.CreateLogger<LsdService>();
    }

    public ChannelReader<LsdPeer> Peers => _peers.Reader;

    public event EventHandler<LsdPeer>? PeerDiscovered;

    public string Cookie => _options.Cookie;

    public void Start()
    {
        if (_socket != null) throw new InvalidOperationException("already started");
        var group = _options.Group;
        var socket = new Socket(group.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // Several BitTorrent clients on one host all listen on 6771.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (group.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.Bind(new IPEndPoint(IPAddress.IPv6Any, group.Port));
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.AddMembership, new IPv6MulticastOption(group.Address));
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastLoopback, true);
            }
            else
            {
                socket.Bind(new IPEndPoint(IPAddress.Any, group.Port));
                var iface = _options.LocalInterface ?? IPAddress.Any;
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(group.Address, iface));
                if (_options.LocalInterface != null)
                    socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, _options.LocalInterface.GetAddressBytes());
                // Other clients on this very host must hear us; our own echo is dropped by cookie.
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 1);
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _socket = socket;
        TrackerClientLog.LsdStarted(_log, group, _options.Cookie);
        _receiveLoop = ReceiveLoopAsync(_cts.Token);
        _announceLoop = AnnounceLoopAsync(_cts.Token);
    }

    /// <summary>Announces <paramref name="infoHash"/> on the LAN (now, then every interval) and reports its peers.</summary>
    public void Register(InfoHash infoHash, int listenPort)
    {
        _torrents.AddOrUpdate(infoHash, _ => new Registration(listenPort), (_, r) => { r.Port = listenPort; return r; });
        _ = TryAnnounceAsync(infoHash, _cts.Token);
    }

    public void Unregister(InfoHash infoHash) => _torrents.TryRemove(infoHash, out _);

    /// <summary>Sends an announce unless this torrent was announced less than the minimum interval ago.</summary>
    public async Task<bool> TryAnnounceAsync(InfoHash infoHash, CancellationToken cancellationToken)
    {
        var socket = _socket ?? throw new InvalidOperationException("not started");
        if (!_torrents.TryGetValue(infoHash, out var reg)) return false;
        lock (reg)
        {
            var now = _options.TimeProvider.GetTimestamp();
            if (reg.LastSent is { } last && _options.TimeProvider.GetElapsedTime(last, now) < _options.MinAnnounceInterval) return false;
            reg.LastSent = now;
        }
        var message = new LsdAnnouncement(reg.Port, [infoHash], _options.Cookie).Encode(FormatHost(_options.Group));
        try
        {
            await socket.SendToAsync(message, SocketFlags.None, _options.Group, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (SocketException ex)
        {
            TrackerClientLog.LsdSendFailed(_log, infoHash, _options.Group, ex.Message);
            return false; // no multicast route (e.g. no network yet): LSD is best effort
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    private async Task AnnounceLoopAsync(CancellationToken ct)
    {
        try
        {
            using var timer = new PeriodicTimer(_options.AnnounceInterval, _options.TimeProvider);
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
                foreach (var h in _torrents.Keys) await TryAnnounceAsync(h, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken ct)
    {
        var buffer = new byte[LsdAnnouncement.MaxDatagramBytes + 1];
        EndPoint any = _options.Group.AddressFamily == AddressFamily.InterNetworkV6
            ? new IPEndPoint(IPAddress.IPv6Any, 0)
            : new IPEndPoint(IPAddress.Any, 0);
        while (!ct.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await _socket!.ReceiveFromAsync(buffer, SocketFlags.None, any, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException ex)
            {
                TrackerClientLog.LsdReceiveFailed(_log, ex.Message);
                continue; // e.g. ICMP errors surfaced on UDP; keep listening
            }

            if (!LsdAnnouncement.TryParse(buffer.AsSpan(0, r.ReceivedBytes), out var a))
            {
                TrackerClientLog.LsdMalformed(_log, r.ReceivedBytes, r.RemoteEndPoint);
                continue;
            }
            if (a!.Cookie == _options.Cookie) continue; // our own announce, looped back
            var source = (IPEndPoint)r.RemoteEndPoint;
            var address = source.Address.IsIPv4MappedToIPv6 ? source.Address.MapToIPv4() : source.Address;
            if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)) continue; // no usable source to dial
            foreach (var h in a.InfoHashes)
            {
                if (!_torrents.ContainsKey(h)) continue;
                var peer = new LsdPeer(h, new IPEndPoint(address, a.Port));
                TrackerClientLog.LsdPeer(_log, peer.EndPoint, h);
                _peers.Writer.TryWrite(peer);
                PeerDiscovered?.Invoke(this, peer);
            }
        }
    }

    private static string FormatHost(IPEndPoint ep) =>
        ep.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ep.Address}]:{ep.Port}" : $"{ep.Address}:{ep.Port}";

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync().ConfigureAwait(false);
        _socket?.Dispose();
        if (_receiveLoop != null) await _receiveLoop.ConfigureAwait(false);
        if (_announceLoop != null) await _announceLoop.ConfigureAwait(false);
        _peers.Writer.TryComplete();
        _cts.Dispose();
    }
}
