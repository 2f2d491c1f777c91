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
        new("secure-channel", "what a secret-swarm listener reads from a dialer: SecureChannel.AcceptAsync, then every record; SecureChannelException only", SecureChannelAccept),
        new("tracker-announce", "an announce query to a tracker with a swarm secret: Tracker.HandleAnnounce (parse, proof, announce, answer); no exception", TrackerAnnounce),
        new("import-message", "a bs_import message as a peer of a 1000-piece torrent takes it: ImportMessage.Decode; PeerProtocolException only", ImportMessage),
        new("signed-job", "a signed /api/job answer as deploy takes it (key header, signature header, body): SignedMessage.Verify; SecretException only", SignedJob),
    ];

    /// <summary>Targets whose seeds are made by code, not by generate.sh: the name and a maker of (file name, bytes) pairs.</summary>
    public static IReadOnlyDictionary<string, Func<IEnumerable<(string Name, byte[] Data)>>> SeedMakers { get; } =
        new Dictionary<string, Func<IEnumerable<(string, byte[])>>> { ["secure-channel"] = SecureChannelSeeds };

    /// <summary>The secret and the clock the <c>tracker-announce</c> seeds were made for (fuzz/corpus/generate.sh).</summary>
    private static readonly Security.SwarmSecret FuzzSecret = Security.SwarmSecret.FromText("fuzzing swarm secret, not for use", "fuzz");

    private static readonly TimeProvider FuzzClock = new FixedClock(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));

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
    public static bool ImportMessage(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        const int Pieces = 1000;
        int[] pieces;
        try
        {
            pieces = Engine.Extensions.ImportMessage.Decode(new System.Buffers.ReadOnlySequence<byte>(data), Pieces);
        }
        catch (Engine.Wire.PeerProtocolException)
        {
            return false;
        }
        Check(pieces.Length > 0 && pieces.Length <= Engine.Extensions.ImportMessage.MaxPieces, $"accepted {pieces.Length} pieces");
        Check(pieces.All(p => p is >= 0 and < Pieces), "accepted a piece outside the torrent");
        Check(Engine.Extensions.ImportMessage.Encode(pieces).AsSpan().SequenceEqual(data), "re-encoding differs from the input");
        return true;
    }

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

    private static readonly Security.SwarmSecret ChannelSecret = Security.SwarmSecret.FromText("the fuzzing swarm's secret", "fuzz");
    private static readonly byte[] ListenerNonce = [.. Enumerable.Range(1, Security.SecureChannel.NonceLength).Select(i => (byte)i)];

    /// <summary>
    /// A secret-swarm listener (fixed nonce, so a recorded dialer transcript stays valid) fed <paramref name="data"/> as
    /// everything the dialer sends: the handshake, then records read to the end through buffers smaller and larger than
    /// a record. Accepted: the handshake held and every record authenticated; then the plaintext can be no longer than
    /// what was sent minus the handshake and one record's overhead per record.
    /// </summary>
    /// <summary>
    /// The fuzzed listener runs AES-256-GCM only, whatever this machine's libcrypto has, so a seed's records decrypt the
    /// same everywhere (the record framing the fuzzer works on is the same for every suite).
    /// </summary>
    private static readonly Security.CipherSuite[] ListenerSuites = [Security.CipherSuite.Aes256Gcm];

    public static bool SecureChannelAccept(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var inner = new ScriptedStream(data);
        try
        {
            using var channel = Security.SecureChannel.AcceptAsync(inner, ChannelSecret, ListenerNonce, ListenerSuites, CancellationToken.None).GetAwaiter().GetResult();
            Check(inner.Written == 73, $"the listener sent {inner.Written} bytes in its handshake, not 73");
            var buffer = new byte[data.Length % 2 == 0 ? 100 : 70_000];
            long plain = 0;
            int n;
            while ((n = channel.ReadAsync(buffer).AsTask().GetAwaiter().GetResult()) > 0) plain += n;
            long records = (long)channel.RecordsReceived;
            Check(plain <= data.Length - 73 - records * Security.SecureChannelStream.RecordOverhead, $"{plain} plaintext bytes out of {data.Length} input bytes in {records} records");
            return true;
        }
        catch (Security.SecureChannelException)
        {
            Check(inner.Written is 0 or 73, $"a refused dialer got {inner.Written} bytes");
            return false;
        }
    }

    /// <summary>Dialer transcripts the listener of <see cref="SecureChannelAccept"/> accepts: the handshake and records of several sizes.</summary>
    public static IEnumerable<(string Name, byte[] Data)> SecureChannelSeeds()
    {
        foreach (var (name, sizes) in new (string, int[])[] { ("handshake-only", []), ("one-record", [68]), ("records", [68, 5, 16_397, 70_000]) })
        {
            // The dialer's half of a real handshake against the listener, over in-memory pipes.
            // Unbounded: nobody reads the records, so a writer that waited for room would wait forever.
            var toListener = new System.IO.Pipelines.Pipe(new System.IO.Pipelines.PipeOptions(pauseWriterThreshold: 0));
            var toDialer = new System.IO.Pipelines.Pipe();
            var dialerSide = new PipeStream(toDialer.Reader, toListener.Writer);
            var listenerSide = new PipeStream(toListener.Reader, toDialer.Writer);
            var accept = Security.SecureChannel.AcceptAsync(listenerSide, ChannelSecret, ListenerNonce, ListenerSuites, CancellationToken.None);
            using var dialer = Security.SecureChannel.ConnectAsync(dialerSide, ChannelSecret, new byte[Security.SecureChannel.NonceLength], [Security.CipherSuite.Aes128Ocb, Security.CipherSuite.Aes256Gcm], CancellationToken.None).GetAwaiter().GetResult();
            using var listener = accept.GetAwaiter().GetResult();
            var random = new Random(sizes.Length);
            foreach (int size in sizes)
            {
                var bytes = new byte[size];
                random.NextBytes(bytes);
                dialer.Write(bytes);
            }
            dialer.Flush();
            yield return (name, dialerSide.Written);
        }
    }

    /// <summary>A peer's stream for a fuzz input: reads come from the input, writes are counted and dropped.</summary>
    private sealed class ScriptedStream(byte[] input) : Stream
    {
        private int _at;
        public long Written { get; private set; }
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            // Uneven chunks, so records straddle reads.
            int n = Math.Min(count, Math.Min(input.Length - _at, 1 + (_at * 7919 % 40_000)));
            input.AsSpan(_at, n).CopyTo(buffer.AsSpan(offset));
            _at += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Written += count;
    }

    /// <summary>One direction read from a pipe, the other written to one (and recorded): an in-memory socket end.</summary>
    private sealed class PipeStream(System.IO.Pipelines.PipeReader reader, System.IO.Pipelines.PipeWriter writer) : Stream
    {
        private readonly Stream _in = reader.AsStream();
        private readonly Stream _out = writer.AsStream();
        private readonly MemoryStream _written = new();
        public byte[] Written => _written.ToArray();
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => _out.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => _out.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => _in.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _in.ReadAsync(buffer, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count)
        {
            _written.Write(buffer, offset, count);
            _out.Write(buffer, offset, count);
        }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _written.Write(buffer.Span);
            return _out.WriteAsync(buffer, cancellationToken);
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }


    /// <summary>
    /// An announce query (bytes as Latin-1 characters, as a URL's may be) to a fresh tracker that needs the swarm secret.
    /// The tracker never throws: its answer must be a bencoded dictionary, never an "internal error" (that is a caught
    /// bug), and either a failure reason with no peers or counts, or an answer, after which the very same query is a
    /// replay. Accepted means answered.
    /// </summary>
    public static bool TrackerAnnounce(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var tracker = new Tracker.Tracker(new Tracker.TrackerOptions { SwarmSecret = FuzzSecret, AnnouncesPerSecondPerIp = 0 }, null, FuzzClock, new Random(1));
        var source = System.Net.IPAddress.Parse("10.0.0.1");
        string query = Encoding.Latin1.GetString(data);
        var first = Answer(tracker, query, source);
        if (first.Get<BString>("failure reason") is { } refused)
        {
            Check(!refused.Text.StartsWith("internal error", StringComparison.Ordinal), "the tracker failed inside: " + refused.Text);
            Check(first.Get<BValue>("peers") is null && first.Get<BValue>("complete") is null, "a refusal lists peers or counts");
            return false;
        }
        Check(first.Get<BValue>("peers") is not null, "an answer without peers");
        var again = Answer(tracker, query, source).Get<BString>("failure reason")?.Text;
        Check(again is not null && again.Contains("replayed proof", StringComparison.Ordinal), $"the same announce answered twice ({again})");
        return true;
    }

    private static BDictionary Answer(Tracker.Tracker tracker, string query, System.Net.IPAddress source)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        tracker.HandleAnnounce(query, source, output);
        try
        {
            return BencodeDecoder.DecodeDictionary(output.WrittenMemory);
        }
        catch (BencodeException ex)
        {
            throw new FuzzInvariantException("the tracker's answer is not bencode: " + ex.Message);
        }
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
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
