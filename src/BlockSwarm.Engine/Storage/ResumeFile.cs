using System.Buffers.Binary;
using BlockSwarm.Metainfo;
using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// Which pieces of a torrent are on stable storage, saved beside the target so an
/// interrupted deployment resumes without re-downloading. Layout (little endian):
/// magic "BSRESUME", u32 version, 20-byte info-hash, u32 piece count, u32 piece length,
/// i64 total length, u32 bitfield byte count, bitfield (BEP 3 bit order), u32 CRC-32 of
/// everything before it. Written atomically (temporary file, fsync, rename, fsync of the
/// directory); callers save only pieces already fsynced (<see cref="CheckpointAsync"/>).
/// </summary>
public static class ResumeFile
{
    public const string Extension = ".blockswarm-resume";
    public const int Version = 1;
    private static ReadOnlySpan<byte> Magic => "BSRESUME"u8;
    private const int HeaderSize = 8 + 4 + 20 + 4 + 4 + 8 + 4;

    /// <summary>The default resume path for a target image file. For a block device pass a path on a persistent filesystem instead (/dev is a tmpfs).</summary>
    public static string DefaultPathFor(string target) => target + Extension;

    public static byte[] Serialize(Torrent torrent, Bitfield pieces)
    {
        ArgumentNullException.ThrowIfNull(torrent);
        ArgumentNullException.ThrowIfNull(pieces);
        if (pieces.Length != torrent.PieceCount)
            throw new ArgumentException($"bitfield has {pieces.Length} pieces, the torrent {torrent.PieceCount}", nameof(pieces));
        var buf = new byte[HeaderSize + pieces.ByteLength + 4];
        var s = buf.AsSpan();
        Magic.CopyTo(s);
        BinaryPrimitives.WriteInt32LittleEndian(s[8..], Version);
        torrent.InfoHash.Span.CopyTo(s[12..]);
        BinaryPrimitives.WriteInt32LittleEndian(s[32..], torrent.PieceCount);
        BinaryPrimitives.WriteInt32LittleEndian(s[36..], torrent.PieceLength);
        BinaryPrimitives.WriteInt64LittleEndian(s[40..], torrent.TotalLength);
        BinaryPrimitives.WriteInt32LittleEndian(s[48..], pieces.ByteLength);
        pieces.CopyTo(s[HeaderSize..]);
        BinaryPrimitives.WriteUInt32LittleEndian(s[^4..], System.IO.Hashing.Crc32.HashToUInt32(s[..^4]));
        return buf;
    }

    /// <summary>Parses resume bytes for <paramref name="torrent"/>; null with a reason when they are corrupt or belong to another torrent.</summary>
    public static Bitfield? TryParse(ReadOnlySpan<byte> data, Torrent torrent, out string reason)
    {
        ArgumentNullException.ThrowIfNull(torrent);
        if (data.Length < HeaderSize + 4 || !data.StartsWith(Magic))
        {
            reason = "not a BlockSwarm resume file";
            return null;
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(data[^4..]) != System.IO.Hashing.Crc32.HashToUInt32(data[..^4]))
        {
            reason = "checksum mismatch (torn or corrupted)";
            return null;
        }
        int version = BinaryPrimitives.ReadInt32LittleEndian(data[8..]);
        if (version != Version)
        {
            reason = $"version {version} is not supported (expected {Version})";
            return null;
        }
        if (!data.Slice(12, 20).SequenceEqual(torrent.InfoHash.Span))
        {
            reason = $"it belongs to another torrent (info-hash {Convert.ToHexStringLower(data.Slice(12, 20))}, expected {torrent.InfoHash.ToHex()})";
            return null;
        }
        int count = BinaryPrimitives.ReadInt32LittleEndian(data[32..]);
        int pieceLength = BinaryPrimitives.ReadInt32LittleEndian(data[36..]);
        long total = BinaryPrimitives.ReadInt64LittleEndian(data[40..]);
        int bytes = BinaryPrimitives.ReadInt32LittleEndian(data[48..]);
        if (count != torrent.PieceCount || pieceLength != torrent.PieceLength || total != torrent.TotalLength
            || bytes != (count + 7) / 8 || data.Length != HeaderSize + bytes + 4)
        {
            reason = "its geometry does not match the torrent";
            return null;
        }
        try
        {
            reason = "";
            return Bitfield.FromBytes(data.Slice(HeaderSize, bytes), count);
        }
        catch (FormatException ex)
        {
            reason = ex.Message;
            return null;
        }
    }

    /// <summary>Loads a resume file; null with a reason when it is missing, unreadable, corrupt or for another torrent.</summary>
    public static Bitfield? TryLoad(string path, Torrent torrent, out string reason)
    {
        byte[] data;
        try
        {
            data = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            reason = "no resume file";
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = $"cannot read it: {ex.Message}";
            return null;
        }
        return TryParse(data, torrent, out reason);
    }

    /// <summary>Writes the file atomically and durably: a crash leaves the old or the new file, never a torn one.</summary>
    public static void Save(string path, Torrent torrent, Bitfield pieces)
    {
        var bytes = Serialize(torrent, pieces);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
            NativeMethods.FsyncDirectory(dir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw new StorageException($"{full}: cannot save resume data: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// A checkpoint: flush the storage (writes drained, fsync), then save exactly the pieces
    /// that are durable. Returns them. Never claims a piece whose data is not yet fsynced.
    /// </summary>
    public static async ValueTask<Bitfield> CheckpointAsync(IPieceStorage storage, string path, Torrent torrent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(storage);
        await storage.FlushAsync(cancellationToken).ConfigureAwait(false);
        var durable = storage.GetDurablePieces();
        Save(path, torrent, durable);
        return durable;
    }
}
