using System.Security.Cryptography;
using System.Text;
using BlockSwarm.Bencode;
using BlockSwarm.Imaging;
using BlockSwarm.Metainfo;
using static BlockSwarm.Fuzz.FuzzInvariantException;
using BlockSwarm.Devices;

namespace BlockSwarm.Fuzz;

/// <summary>
/// The fuzzing targets. Each lets through only the exception type its parser documents;
/// accepted inputs are also checked against properties the parser promises (a strict decode
/// re-encodes to the same bytes, the info-hash is the SHA-1 of the raw info bytes, extents lie
/// inside the device), so wrong answers are crashes too, not only unexpected exceptions.
/// </summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("bencode", "BencodeDecoder.Decode (strict and lenient); BencodeException only", Bencode),
        new("torrent", "Torrent.Parse + BlockImageLayout.Create; TorrentException only", Torrent),
        new("partclone", "PartcloneTorrentInfo.Parse on UTF-8 text; BlockMapException only", Partclone),
        new("zstd-run", "a bs_zstd message as a receiver takes it: ZstdBlock.ReadHeader + Zstd.DecompressExactly; PeerProtocolException and InvalidDataException only", ZstdRun),
        new("signed-job", "a signed /api/job answer as deploy takes it (key header, signature header, body): SignedMessage.Verify; SecretException only", SignedJob),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    public static bool Bencode(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        try
        {
            var lenient = BencodeDecoder.Decode(data.AsMemory(), BencodeOptions.Lenient);
            Check(lenient.SourceRange.Start.Value == 0 && lenient.SourceRange.End.Value == data.Length, "lenient root range is not the whole input");
        }
        catch (BencodeException)
        {
        }
        try
        {
            _ = BencodeDecoder.DecodePrefix(data.AsMemory(), out int consumed);
            Check(consumed > 0 && consumed <= data.Length, $"DecodePrefix consumed {consumed} of {data.Length} bytes");
        }
        catch (BencodeException)
        {
        }
        BValue value;
        try
        {
            value = BencodeDecoder.Decode(data.AsMemory());
        }
        catch (BencodeException)
        {
            return false;
        }
        // The strict decoder accepts only canonical bencode, so encoding must give back the input.
        Check(BencodeEncoder.Encode(value).AsSpan().SequenceEqual(data), "strictly decoded value does not re-encode to the same bytes");
        return true;
    }

    public static bool Torrent(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        Metainfo.Torrent torrent;
        try
        {
            torrent = Metainfo.Torrent.Parse(data);
        }
        catch (TorrentException)
        {
            return false;
        }
        // Everything a caller may read from a parsed torrent must be safe to read.
        _ = torrent.Comment;
        _ = torrent.CreatedBy;
        _ = torrent.CreationDate;
        _ = torrent.IsPrivate;
        _ = torrent.Name;
        _ = torrent.TrackerTiers;
        Check(torrent.InfoHash.Span.SequenceEqual(SHA1.HashData(torrent.RawInfo.Span)), "info-hash is not the SHA-1 of the raw info bytes");
        Check(torrent.PieceCount > 0 && torrent.TotalLength > 0, "a parsed torrent has no pieces");
        int last = torrent.PieceCount - 1;
        int lastLength = torrent.GetPieceLength(last);
        Check(lastLength > 0 && lastLength <= torrent.PieceLength, $"last piece length {lastLength} outside (0, {torrent.PieceLength}]");
        Check(torrent.GetPieceHash(last).Length == 20, "piece hash is not 20 bytes");

        BlockImageLayout layout;
        try
        {
            layout = BlockImageLayout.Create(torrent);
        }
        catch (TorrentException)
        {
            return true; // a valid torrent, just not a block image
        }
        Check(layout.Stream.Length == torrent.TotalLength, "layout stream length differs from the torrent's total length");
        var slices = new List<DeviceSlice>();
        layout.MapPiece(last, 0, lastLength, slices);
        long mapped = 0;
        foreach (var s in slices)
        {
            Check(s.DeviceOffset >= 0 && s.Length > 0 && s.DeviceOffset + s.Length <= layout.RequiredDeviceSize, $"slice {s} outside the device");
            mapped += s.Length;
        }
        Check(mapped == lastLength, $"last piece maps to {mapped} bytes, expected {lastLength}");
        try
        {
            BlockImageLayout.Create(torrent, layout.RequiredDeviceSize - 1);
            throw new FuzzInvariantException("a layout fits a device one byte smaller than it requires");
        }
        catch (TorrentException)
        {
        }
        return true;
    }

    public static bool Partclone(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        PartcloneTorrentInfo info;
        try
        {
            info = PartcloneTorrentInfo.Parse(Encoding.UTF8.GetString(data));
        }
        catch (BlockMapException)
        {
            return false;
        }
        Check(info.Map.DeviceSize == (long)info.BlockSize * info.BlocksTotal, "device size is not block_size × blocks_total");
        long used = 0;
        foreach (var e in info.Map.Extents)
        {
            Check(e.Offset >= 0 && e.Length > 0 && e.End <= info.Map.DeviceSize, $"extent {e} outside the device");
            Check(BlockImageLayout.TryParseHexOffset(BlockImageLayout.FormatHexOffset(e.Offset), out long back) && back == e.Offset,
                $"offset {e.Offset} does not survive a block-image file name");
            used += e.Length;
        }
        Check(used == info.Map.UsedBytes, "used bytes differ from the sum of extents");
        long pieces = (used + PartcloneTorrentInfo.PartclonePieceLength - 1) / PartcloneTorrentInfo.PartclonePieceLength;
        Check(info.PieceHashes.Count == 0 || info.PieceHashes.Count == pieces, "sha1 count does not match the used bytes");
        if (used > 0)
        {
            var stream = new ExtentStream(info.Map.Extents);
            var slices = new List<DeviceSlice>();
            int n = (int)Math.Min(used, 1 << 20);
            stream.MapRange(used - n, n, slices);
            Check(slices.Sum(s => (long)s.Length) == n, "stream tail does not map to its length");
        }
        return true;
    }

    /// <summary>
    /// A <c>bs_zstd</c> payload as a receiver of a torrent of 8 pieces of 256 KiB that announced 256 KiB requests takes
    /// it: the header checked, the frame decoded into exactly the announced length (never more: the buffer is that long).
    /// </summary>
    public static bool ZstdRun(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        const int PieceLength = 256 << 10;
        int piece, begin, length;
        try
        {
            (piece, begin, length) = Engine.Compression.ZstdBlock.ReadHeader(new System.Buffers.ReadOnlySequence<byte>(data), 8, _ => PieceLength, PieceLength);
        }
        catch (Engine.Wire.PeerProtocolException)
        {
            return false;
        }
        Check(piece is >= 0 and < 8 && begin >= 0 && length > 0 && begin + length <= PieceLength, $"accepted run {piece} [{begin}, +{length}) is outside the torrent");
        var decoded = new byte[length];
        try
        {
            Engine.Compression.Zstd.DecompressExactly(data.AsSpan(Engine.Compression.ZstdBlock.HeaderLength), decoded);
        }
        catch (InvalidDataException)
        {
            return false;
        }
        return true;
    }

    /// <summary>
    /// A signed <c>/api/job</c> answer as <c>deploy</c> checks it, before it parses the body: the input is the
    /// <c>BlockSwarm-Key</c> header's value, a line feed, the <c>BlockSwarm-Signature</c> header's value, a line feed,
    /// then the body (fewer lines: the headers are missing). Accepted means the signature verified.
    /// </summary>
    public static bool SignedJob(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var span = data.AsSpan();
        string? key = null, signature = null;
        int first = span.IndexOf((byte)'\n');
        if (first >= 0)
        {
            key = Encoding.Latin1.GetString(span[..first]);
            span = span[(first + 1)..];
            int second = span.IndexOf((byte)'\n');
            if (second >= 0)
            {
                signature = Encoding.Latin1.GetString(span[..second]);
                span = span[(second + 1)..];
            }
        }
        Security.ServerPublicKey verified;
        try
        {
            verified = Security.SignedMessage.Verify("job", span, key, signature);
        }
        catch (Security.SecretException)
        {
            return false;
        }
        Check(verified.Fingerprint == Security.KeyFingerprint.Of(verified.SubjectPublicKeyInfo), "the fingerprint is not the hash of the key's canonical bytes");
        Check(Security.KeyFingerprint.TryParse(verified.Fingerprint, out var again) && again == verified.Fingerprint, "a fingerprint does not parse back to itself");
        Check(Security.ServerPublicKey.FromHeader(verified.ToHeader()).Fingerprint == verified.Fingerprint, "a key does not survive its own header");
        return true;
    }
}
