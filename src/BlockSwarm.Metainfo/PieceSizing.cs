using BlockSwarm.Imaging;
using System.Numerics;
using BlockSwarm.Devices;

namespace BlockSwarm.Metainfo;

/// <summary>Chooses piece lengths: powers of two aiming at about 1000–2000 pieces.</summary>
public static class PieceSizing
{
    public const int ClonezillaPieceLength = 16 << 20;
    public const int MinAuto = 64 << 10;
    public const int MaxAuto = 16 << 20;

    /// <summary>
    /// The smallest power of two giving at most 2000 pieces, clamped to [64 KiB, 16 MiB]
    /// (very large images get more pieces rather than pieces too big to verify and cache well).
    /// </summary>
    public static int Auto(long usedBytes)
    {
        long target = Math.Max(1, (usedBytes + 1999) / 2000);
        long p = (long)BitOperations.RoundUpToPowerOf2((ulong)target);
        return (int)Math.Clamp(p, MinAuto, MaxAuto);
    }

    /// <summary>Parses "auto", "16MiB", "4M", "262144", "512k" ...; the result must be a power of two.</summary>
    public static int Parse(string text, long usedBytes)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Equals("auto", StringComparison.OrdinalIgnoreCase)) return Auto(usedBytes);
        long v = SizeParser.Parse(text);
        if (v < Torrent.MinPieceLength || v > Torrent.MaxPieceLength || !BitOperations.IsPow2(v))
            throw new FormatException($"piece size {text} must be a power of two between 16KiB and 256MiB");
        return (int)v;
    }
}
