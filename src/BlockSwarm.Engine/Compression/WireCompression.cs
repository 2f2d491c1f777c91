using System.Buffers;
using BlockSwarm.Engine.Swarm;

namespace BlockSwarm.Engine.Compression;

/// <summary>
/// One torrent's side of <c>bs_zstd</c>: what to send compressed, and the compressed runs to keep for forwarding.
/// </summary>
/// <remarks>
/// <para>Where the CPU goes. A run is compressed at most once per holder that has to produce it: the origin compresses
/// each run it sends and keeps the result (<see cref="CompressedBlockCache"/>); a peer that received a run compressed
/// keeps the received bytes, and once the piece verified forwards exactly those bytes: in a swarm each run is compressed
/// about once, by the origin, and decompressed once per receiver (zstd decodes several times faster than it encodes).
/// Only the bytes of runs whose every block was accepted into a piece that then verified are kept, so a forwarded frame
/// always decodes to verified data.</para>
/// <para>What it costs on data that does not compress (random, already compressed): before compressing a run the sender
/// tries its first 16 KiB at level 1; a sample that does not shrink by a sixteenth marks the run's unit incompressible
/// and it goes out as a plain PIECE (sendfile, cache lease, as without compression). Random data thus costs one 16 KiB
/// sample per 256 KiB unit at each holder that uploads it. (A run received raw says nothing: the sender may have sent
/// it raw only because its CPU, not the network, was the bottleneck at that moment.)</para>
/// </remarks>
internal sealed class WireCompression
{
    /// <summary>Runs shorter than this go out raw (the frame header and the receiver's call would eat the gain).</summary>
    public const int MinRunLength = 16 * 1024;

    /// <summary>Runs at least this long are sampled first, and marked incompressible when the sample does not shrink.</summary>
    public const int SampleLength = 16 * 1024;

    /// <summary>The smallest unit an incompressible mark covers; a piece has at most 64 units (one <c>ulong</c> of marks).</summary>
    private const int MinUnitLength = 256 * 1024;

    private readonly CompressedBlockCache? _cache;
    private readonly ulong[] _incompressible;
    private readonly int _unitShift;
    private long _compressedRuns;
    private long _forwarded;
    private long _sentRaw;
    private long _sentWire;
    private long _receivedRaw;
    private long _receivedWire;

    public WireCompression(int level, int pieceCount, int pieceLength, CompressedBlockCache? cache)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(level, 1);
        Level = level;
        _cache = cache;
        _incompressible = new ulong[pieceCount];
        int unit = MinUnitLength;
        while ((long)unit * 64 < pieceLength) unit <<= 1;
        _unitShift = System.Numerics.BitOperations.Log2((uint)unit);
    }

    /// <summary>
    /// Compress runs that are not cached only while the network is the bottleneck (<see cref="CompressionGate"/>,
    /// <see cref="Hosting.EngineOptions.AdaptiveCompression"/>); false: always.
    /// </summary>
    public bool Adaptive { get; init; }

    /// <summary>zstd level runs are compressed at (1–19; 3 is zstd's own default).</summary>
    public int Level { get; }

    /// <summary>Runs this side compressed itself (CPU spent).</summary>
    public long CompressedRuns => Interlocked.Read(ref _compressedRuns);

    /// <summary>Runs sent compressed from the cache (compressed earlier here, or received compressed and forwarded as is).</summary>
    public long ForwardedRuns => Interlocked.Read(ref _forwarded);

    /// <summary>Decoded bytes sent as <c>bs_zstd</c> messages, and their bytes on the wire.</summary>
    public long SentRawBytes => Interlocked.Read(ref _sentRaw);
    public long SentWireBytes => Interlocked.Read(ref _sentWire);

    /// <summary>Decoded bytes received as <c>bs_zstd</c> messages, and their bytes on the wire.</summary>
    public long ReceivedRawBytes => Interlocked.Read(ref _receivedRaw);
    public long ReceivedWireBytes => Interlocked.Read(ref _receivedWire);

    public bool IsIncompressible(int piece, int begin) => (Volatile.Read(ref _incompressible[piece]) & UnitBit(begin)) != 0;

    /// <summary>A run whose sample (or whole) did not shrink: its unit is not tried again here.</summary>
    private void MarkIncompressible(int piece, int begin, int length)
    {
        if (length >= SampleLength) Interlocked.Or(ref _incompressible[piece], UnitBit(begin));
    }

    private ulong UnitBit(int begin) => 1UL << ((begin >> _unitShift) & 63);

    /// <summary>The <c>bs_zstd</c> payload of a run compressed or received earlier, when it is still cached.</summary>
    public byte[]? TryGetCached(BlockRequest run)
    {
        var payload = _cache?.TryGet(this, run.Piece, run.Begin, run.Length);
        if (payload != null) Interlocked.Increment(ref _forwarded);
        return payload;
    }

    /// <summary>
    /// Compresses <paramref name="raw"/> (the bytes of <paramref name="run"/>) into a <c>bs_zstd</c> payload and caches it;
    /// null when it does not pay (the run is then sent raw, and a long one is marked incompressible).
    /// </summary>
    public byte[]? TryCompress(BlockRequest run, ReadOnlySpan<byte> raw)
    {
        if (raw.Length < MinRunLength || IsIncompressible(run.Piece, run.Begin)) return null;
        // Worth it only if it saves a sixteenth: below that the receiver's decoding costs more than the bytes saved.
        int room = raw.Length - raw.Length / 16 - ZstdBlock.HeaderLength;
        byte[] scratch = ArrayPool<byte>.Shared.Rent(Math.Max(room, SampleLength));
        try
        {
            if (raw.Length > SampleLength && Zstd.Compress(raw[..SampleLength], scratch.AsSpan(0, SampleLength - SampleLength / 16), 1) < 0)
            {
                MarkIncompressible(run.Piece, run.Begin, raw.Length);
                return null;
            }
            int n = Zstd.Compress(raw, scratch.AsSpan(0, room), Level);
            if (n < 0)
            {
                MarkIncompressible(run.Piece, run.Begin, raw.Length);
                return null;
            }
            var payload = GC.AllocateUninitializedArray<byte>(ZstdBlock.HeaderLength + n);
            ZstdBlock.WriteHeader(payload, run.Piece, run.Begin, run.Length);
            scratch.AsSpan(0, n).CopyTo(payload.AsSpan(ZstdBlock.HeaderLength));
            Interlocked.Increment(ref _compressedRuns);
            _cache?.Add(this, run.Piece, run.Begin, run.Length, payload);
            return payload;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    public void OnSent(int rawBytes, int wireBytes)
    {
        Interlocked.Add(ref _sentRaw, rawBytes);
        Interlocked.Add(ref _sentWire, wireBytes);
    }

    /// <summary>A run arrived compressed: <paramref name="rawBytes"/> decoded from <paramref name="wireBytes"/> on the wire.</summary>
    public void OnReceived(int rawBytes, int wireBytes)
    {
        Interlocked.Add(ref _receivedRaw, rawBytes);
        Interlocked.Add(ref _receivedWire, wireBytes);
    }

    /// <summary>Whether a received run's bytes are worth copying for forwarding (there is a cache to keep them in).</summary>
    public bool KeepsReceived => _cache is { Capacity: > 0 };

    /// <summary>The piece verified: the compressed runs received whole for it may now be forwarded as they are.</summary>
    public void Keep(int piece, List<Session.KeptRun> runs)
    {
        foreach (var run in runs) _cache?.Add(this, piece, run.Begin, run.Length, run.Payload);
    }

    /// <summary>The torrent stops: its cached runs give their room to the others.</summary>
    public void Release()
    {
        _cache?.RemoveOwner(this);
    }
}
