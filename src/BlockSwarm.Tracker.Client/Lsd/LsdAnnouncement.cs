using System.Text;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Tracker.Client.Lsd;

/// <summary>One BEP 14 <c>BT-SEARCH</c> message: a listen port and the info-hashes it serves.</summary>
public sealed record LsdAnnouncement(int Port, IReadOnlyList<InfoHash> InfoHashes, string? Cookie)
{
    /// <summary>Datagrams larger than this are ignored (a message is a few hundred bytes).</summary>
    public const int MaxDatagramBytes = 1400;

    public byte[] Encode(string host)
    {
        var sb = new StringBuilder();
        sb.Append("BT-SEARCH * HTTP/1.1\r\n");
        sb.Append("Host: ").Append(host).Append("\r\n");
        sb.Append("Port: ").Append(Port.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append("\r\n");
        foreach (var h in InfoHashes) sb.Append("Infohash: ").Append(h.ToHex()).Append("\r\n");
        if (Cookie != null) sb.Append("cookie: ").Append(Cookie).Append("\r\n");
        sb.Append("\r\n\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    /// <summary>Parses a datagram; false for anything that is not a well-formed BT-SEARCH.</summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, out LsdAnnouncement? announcement)
    {
        announcement = null;
        if (datagram.Length > MaxDatagramBytes) return false;
        var text = Encoding.ASCII.GetString(datagram);
        var lines = text.Split("\r\n");
        if (lines.Length < 2 || lines[0] != "BT-SEARCH * HTTP/1.1") return false;
        int? port = null;
        string? cookie = null;
        var hashes = new List<InfoHash>();
        foreach (var line in lines.Skip(1))
        {
            if (line.Length == 0) break;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) return false;
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Port", StringComparison.OrdinalIgnoreCase))
            {
                if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535) return false;
                port = p;
            }
            else if (name.Equals("Infohash", StringComparison.OrdinalIgnoreCase))
            {
                if (value.Length != 40 || !value.All(char.IsAsciiHexDigit)) return false;
                if (hashes.Count < 16) hashes.Add(InfoHash.Parse(value));
            }
            else if (name.Equals("cookie", StringComparison.OrdinalIgnoreCase))
            {
                cookie = value;
            }
        }
        if (port is null || hashes.Count == 0) return false;
        announcement = new LsdAnnouncement(port.Value, hashes, cookie);
        return true;
    }
}
