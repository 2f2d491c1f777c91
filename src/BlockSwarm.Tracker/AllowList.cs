using System.Collections.Concurrent;
using BlockSwarm.Metainfo;

namespace BlockSwarm.Tracker;

/// <summary>
/// Info-hashes the tracker serves. Mutable at run time because the deployment server adds a
/// torrent when it creates a job; thread-safe.
/// </summary>
public sealed class AllowList
{
    private readonly ConcurrentDictionary<InfoHash, byte> _hashes = new();

    public AllowList(IEnumerable<InfoHash>? hashes = null)
    {
        foreach (var h in hashes ?? []) Add(h);
    }

    public int Count => _hashes.Count;

    public void Add(InfoHash hash) => _hashes.TryAdd(hash, 0);

    public bool Remove(InfoHash hash) => _hashes.TryRemove(hash, out _);

    public bool Contains(InfoHash hash) => _hashes.ContainsKey(hash);

    /// <summary>
    /// Parses the CLI's <c>--allow INFOHASH|FILE</c>: 40 hex digits, or a file with one hex
    /// info-hash per line (opentracker's whitelist format; blank lines and '#' comments skipped).
    /// </summary>
    public static AllowList Parse(IEnumerable<string> specs)
    {
        var list = new AllowList();
        foreach (var spec in specs)
        {
            if (spec.Length == 2 * InfoHash.Size && spec.All(char.IsAsciiHexDigit))
            {
                list.Add(InfoHash.Parse(spec));
                continue;
            }
            if (!File.Exists(spec))
                throw new FormatException($"--allow '{spec}' is neither a 40-digit info-hash nor an existing file");
            var lineNo = 0;
            foreach (var raw in File.ReadLines(spec))
            {
                lineNo++;
                var line = raw.Trim();
                if (line.Length == 0 || line[0] == '#') continue;
                if (line.Length != 2 * InfoHash.Size || !line.All(char.IsAsciiHexDigit))
                    throw new FormatException($"{spec}:{lineNo}: expected a 40-digit hex info-hash");
                list.Add(InfoHash.Parse(line));
            }
        }
        return list;
    }
}
