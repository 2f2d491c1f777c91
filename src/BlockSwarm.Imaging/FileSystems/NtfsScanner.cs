using System.Buffers.Binary;
using BlockSwarm.Devices;

namespace BlockSwarm.Imaging.FileSystems;

/// <summary>
/// NTFS: the used set is every cluster set in $Bitmap (MFT record 6), plus the boot sector,
/// the backup boot sector (last sector of the volume, outside the cluster range because the
/// boot sector's total-sectors field leaves it out; partclone misses it and <c>ntfsfix</c>
/// then rejects the copy), and $MFT/$MFTMirr from their own run lists as a safety net.
/// </summary>
public sealed class NtfsScanner : IFileSystemScanner
{
    private const int MftRecordBitmap = 6;

    public string Name => "ntfs";

    public bool Probe(ReadOnlySpan<byte> head) => NtfsGeometry.TryParse(head, out _, out _);

    public BlockMap Scan(DeviceFile device, long volumeOffset, long volumeLength)
    {
        ArgumentNullException.ThrowIfNull(device);
        FatScanner.CheckVolume(device, volumeOffset, volumeLength);
        Span<byte> boot = stackalloc byte[512];
        device.ReadExactly(volumeOffset, boot);
        if (!NtfsGeometry.TryParse(boot, out var g, out string? why))
            throw new BlockMapException($"{device.Path} @ {volumeOffset}: not a valid NTFS boot sector: {why}; try --map nonzero");
        if (g.VolumeBytes > volumeLength)
            throw new BlockMapException(
                $"{device.Path} @ {volumeOffset}: NTFS volume claims {g.VolumeBytes} bytes but only {volumeLength} are there (truncated image?); try --map nonzero");

        var reader = new Reader(device, volumeOffset, g);
        // $MFT's own run list says where record 6 lives; the MFT may be fragmented.
        var mftRuns = reader.ReadDataRuns(reader.ReadRecordAt(g.MftLcn * g.ClusterBytes, 0), 0);
        var bitmapRecord = reader.ReadRecord(mftRuns, MftRecordBitmap);
        var bitmapRuns = reader.ReadDataRuns(bitmapRecord, MftRecordBitmap);
        long bitmapBytes = (g.ClusterCount + 7) / 8;
        if (bitmapRuns.DataSize < bitmapBytes)
            throw new BlockMapException(
                $"{device.Path} @ {volumeOffset}: $Bitmap holds {bitmapRuns.DataSize} bytes, {bitmapBytes} are needed for {g.ClusterCount} clusters; try --map nonzero");

        var builder = new BlockMapBuilder(volumeLength, g.BytesPerSector);
        builder.AddBytes(0, g.BytesPerSector);
        long vcnBase = 0;
        var chunk = new byte[Math.Min(1L << 20, Math.Max(g.ClusterBytes, 4096))];
        foreach (var run in bitmapRuns.Runs)
        {
            // Walk the bitmap run by run, one bounded chunk at a time; a sparse run reads as zeros.
            long runBytes = run.Clusters * g.ClusterBytes;
            for (long done = 0; done < runBytes && vcnBase * g.ClusterBytes + done < bitmapBytes;)
            {
                long streamPos = vcnBase * g.ClusterBytes + done;
                int n = (int)Math.Min(chunk.Length, Math.Min(runBytes - done, bitmapBytes - streamPos));
                if (run.Lcn >= 0)
                {
                    device.ReadExactly(volumeOffset + run.Lcn * g.ClusterBytes + done, chunk.AsSpan(0, n));
                    AddSetBits(builder, chunk.AsSpan(0, n), streamPos * 8, g);
                }
                done += n;
            }
            vcnBase += run.Clusters;
        }

        foreach (var run in mftRuns.Runs.Concat(reader.ReadDataRuns(reader.ReadRecord(mftRuns, 1), 1).Runs))
            if (run.Lcn >= 0) builder.AddBytes(run.Lcn * g.ClusterBytes, run.Clusters * g.ClusterBytes);

        // Backup boot sector: right after the counted sectors, normally the volume's last sector.
        if (g.VolumeBytes + g.BytesPerSector <= volumeLength)
            builder.AddBytes(g.VolumeBytes, g.BytesPerSector);
        builder.AddBytes(volumeLength - g.BytesPerSector, g.BytesPerSector);
        return builder.Build();
    }

    private static void AddSetBits(BlockMapBuilder builder, ReadOnlySpan<byte> bits, long firstCluster, NtfsGeometry g)
    {
        int i = 0;
        while (i < bits.Length)
        {
            // Free space is mostly long zero stretches and data long 0xFF ones: take whole bytes there.
            int skip = bits[i..].IndexOfAnyExcept((byte)0);
            if (skip < 0) return;
            i += skip;
            long cluster = firstCluster + i * 8L;
            if (cluster >= g.ClusterCount) return;
            if (bits[i] == 0xFF)
            {
                int full = bits[i..].IndexOfAnyExcept((byte)0xFF);
                int n = full < 0 ? bits.Length - i : full;
                long count = Math.Min(n * 8L, g.ClusterCount - cluster);
                builder.AddBytes(cluster * g.ClusterBytes, count * g.ClusterBytes);
                i += n;
                continue;
            }
            for (int bit = 0; bit < 8; bit++)
            {
                // LSB first; padding bits past the last cluster are set by mkntfs and mean nothing.
                if ((bits[i] & (1 << bit)) != 0 && cluster + bit < g.ClusterCount)
                    builder.AddBytes((cluster + bit) * g.ClusterBytes, g.ClusterBytes);
            }
            i++;
        }
    }

    /// <summary>One run of a non-resident attribute: <c>Lcn</c> is -1 for a sparse run.</summary>
    internal readonly record struct DataRun(long Lcn, long Clusters);

    internal sealed record RunList(IReadOnlyList<DataRun> Runs, long DataSize);

    private sealed class Reader(DeviceFile device, long volumeOffset, NtfsGeometry g)
    {
        public byte[] ReadRecordAt(long volumeByte, int recordNumber)
        {
            if (volumeByte < 0 || volumeByte + g.MftRecordBytes > g.VolumeBytes)
                throw Bad($"MFT record {recordNumber} at byte {volumeByte} lies outside the volume");
            var rec = new byte[g.MftRecordBytes];
            device.ReadExactly(volumeOffset + volumeByte, rec);
            ApplyFixups(rec, recordNumber);
            return rec;
        }

        /// <summary>Finds record <paramref name="number"/> through $MFT's run list (records may straddle runs only if clusters are smaller than records).</summary>
        public byte[] ReadRecord(RunList mft, int number)
        {
            long streamByte = (long)number * g.MftRecordBytes;
            long vcn = 0;
            foreach (var run in mft.Runs)
            {
                long runBytes = run.Clusters * g.ClusterBytes;
                long runStart = vcn * g.ClusterBytes;
                if (streamByte >= runStart && streamByte + g.MftRecordBytes <= runStart + runBytes)
                {
                    if (run.Lcn < 0) throw Bad($"MFT record {number} lies in a sparse run");
                    return ReadRecordAt(run.Lcn * g.ClusterBytes + (streamByte - runStart), number);
                }
                vcn += run.Clusters;
            }
            throw Bad($"MFT record {number} is not inside one run of $MFT");
        }

        private void ApplyFixups(byte[] rec, int number)
        {
            if (rec[0] != (byte)'F' || rec[1] != (byte)'I' || rec[2] != (byte)'L' || rec[3] != (byte)'E')
                throw Bad($"MFT record {number} has no FILE signature");
            int usaOffset = BinaryPrimitives.ReadUInt16LittleEndian(rec.AsSpan(4));
            int usaCount = BinaryPrimitives.ReadUInt16LittleEndian(rec.AsSpan(6));
            // The update sequence array covers every 512-byte stride (NTFS_BLOCK_SIZE, whatever the sector size).
            if (usaCount != rec.Length / 512 + 1 || usaOffset + usaCount * 2 > rec.Length || (usaOffset & 1) != 0)
                throw Bad($"MFT record {number} has a bad update sequence array ({usaCount} at {usaOffset})");
            ushort usn = BinaryPrimitives.ReadUInt16LittleEndian(rec.AsSpan(usaOffset));
            for (int i = 1; i < usaCount; i++)
            {
                int at = i * 512 - 2;
                if (BinaryPrimitives.ReadUInt16LittleEndian(rec.AsSpan(at)) != usn)
                    throw Bad($"MFT record {number} is torn: sector {i - 1} fails its update sequence check");
                rec[at] = rec[usaOffset + i * 2];
                rec[at + 1] = rec[usaOffset + i * 2 + 1];
            }
        }

        /// <summary>The unnamed $DATA attribute's run list, bounds-checked against the volume.</summary>
        public RunList ReadDataRuns(byte[] rec, int number)
        {
            int pos = BinaryPrimitives.ReadUInt16LittleEndian(rec.AsSpan(0x14));
            int used = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(rec.AsSpan(0x18)), (uint)rec.Length);
            while (pos + 16 <= used)
            {
                uint type = BinaryPrimitives.ReadUInt32LittleEndian(rec.AsSpan(pos));
                if (type == 0xFFFF_FFFF) break;
                int len = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(rec.AsSpan(pos + 4)), int.MaxValue);
                if (len < 16 || pos + len > used) throw Bad($"MFT record {number}: attribute 0x{type:x} at {pos} has length {len}");
                if (type == 0x20)
                    throw Bad($"MFT record {number} has an attribute list (a heavily fragmented system file); not supported");
                bool nonResident = rec[pos + 8] != 0;
                int nameLength = rec[pos + 9];
                if (type == 0x80 && nameLength == 0)
                {
                    if (!nonResident || len < 0x40) throw Bad($"MFT record {number}: $DATA is resident");
                    var a = rec.AsSpan(pos, len);
                    long startVcn = BinaryPrimitives.ReadInt64LittleEndian(a[0x10..]);
                    if (startVcn != 0) throw Bad($"MFT record {number}: $DATA starts at VCN {startVcn}, an extension record");
                    int runsAt = BinaryPrimitives.ReadUInt16LittleEndian(a[0x20..]);
                    long dataSize = BinaryPrimitives.ReadInt64LittleEndian(a[0x30..]);
                    if (runsAt >= len) throw Bad($"MFT record {number}: run list offset {runsAt} outside the attribute");
                    return new RunList(DecodeRuns(a[runsAt..], number), dataSize);
                }
                pos += len;
            }
            throw Bad($"MFT record {number} has no unnamed $DATA attribute");
        }

        private List<DataRun> DecodeRuns(ReadOnlySpan<byte> r, int number)
        {
            var runs = new List<DataRun>();
            long lcn = 0;
            int i = 0;
            while (i < r.Length && r[i] != 0)
            {
                int lenSize = r[i] & 0x0F;
                int offSize = r[i] >> 4;
                if (lenSize is 0 or > 8 || offSize > 8 || i + 1 + lenSize + offSize > r.Length)
                    throw Bad($"MFT record {number}: malformed run list header 0x{r[i]:x2}");
                long length = (long)ReadLittle(r.Slice(i + 1, lenSize), signed: false);
                if (length <= 0) throw Bad($"MFT record {number}: run of {length} clusters");
                if (offSize == 0)
                {
                    runs.Add(new DataRun(-1, length));
                }
                else
                {
                    // Each run's LCN is a signed delta from the previous run's LCN.
                    lcn += ReadLittle(r.Slice(i + 1 + lenSize, offSize), signed: true);
                    if (lcn < 0 || length > g.ClusterCount || lcn > g.ClusterCount - length)
                        throw Bad($"MFT record {number}: run at cluster {lcn} (+{length}) lies outside the volume's {g.ClusterCount} clusters");
                    runs.Add(new DataRun(lcn, length));
                }
                i += 1 + lenSize + offSize;
            }
            return runs;
        }

        private static long ReadLittle(ReadOnlySpan<byte> bytes, bool signed)
        {
            long v = 0;
            for (int k = bytes.Length - 1; k >= 0; k--) v = (v << 8) | bytes[k];
            if (signed && bytes.Length < 8 && (bytes[^1] & 0x80) != 0) v -= 1L << (8 * bytes.Length);
            return v;
        }

        private BlockMapException Bad(string what) =>
            new($"{device.Path} @ {volumeOffset}: NTFS {what}; try --map nonzero");
    }
}

/// <summary>Parsed and validated NTFS boot sector.</summary>
internal sealed record NtfsGeometry(int BytesPerSector, long ClusterBytes, long TotalSectors, long MftLcn, long MftMirrLcn, int MftRecordBytes)
{
    public long VolumeBytes => TotalSectors * BytesPerSector;
    public long ClusterCount => VolumeBytes / ClusterBytes;

    public static bool TryParse(ReadOnlySpan<byte> b, out NtfsGeometry geometry, out string? why)
    {
        geometry = null!;
        why = null;
        if (b.Length < 512) { why = "fewer than 512 bytes"; return false; }
        if (!b.Slice(3, 8).SequenceEqual("NTFS    "u8)) { why = "no \"NTFS    \" OEM id"; return false; }
        if (b[510] != 0x55 || b[511] != 0xAA) { why = "no 0x55AA signature"; return false; }
        int bps = BinaryPrimitives.ReadUInt16LittleEndian(b[0x0B..]);
        if (bps is not (256 or 512 or 1024 or 2048 or 4096)) { why = $"bytes/sector {bps}"; return false; }
        int spcRaw = b[0x0D];
        // Values above 0x80 encode 2^(256 - value) sectors per cluster (clusters of 128 KiB+ on Windows 10+).
        long spc = spcRaw <= 0x80 ? spcRaw : spcRaw >= 0xE0 ? 1L << (256 - spcRaw) : 0;
        if (spc == 0 || (spc & (spc - 1)) != 0) { why = $"sectors/cluster byte 0x{spcRaw:x2}"; return false; }
        long clusterBytes = spc * bps;
        if (clusterBytes > 2L << 20) { why = $"cluster size {clusterBytes}"; return false; }
        long total = BinaryPrimitives.ReadInt64LittleEndian(b[0x28..]);
        long mft = BinaryPrimitives.ReadInt64LittleEndian(b[0x30..]);
        long mirr = BinaryPrimitives.ReadInt64LittleEndian(b[0x38..]);
        sbyte cpr = (sbyte)b[0x40];
        // Positive: clusters per record; negative: 2^-n bytes (the usual 0xF6 = 1 KiB).
        long recordBytes = cpr > 0 ? cpr * clusterBytes : cpr < 0 && cpr >= -31 ? 1L << -cpr : 0;
        if (recordBytes < 512 || recordBytes > 65536 || (recordBytes & (recordBytes - 1)) != 0) { why = $"MFT record size byte 0x{b[0x40]:x2}"; return false; }
        if (total <= 0 || total > long.MaxValue / bps) { why = $"total sectors {total}"; return false; }
        long clusters = total * bps / clusterBytes;
        if (mft <= 0 || mft >= clusters || mirr <= 0 || mirr >= clusters) { why = $"$MFT at {mft}, $MFTMirr at {mirr}, volume of {clusters} clusters"; return false; }
        geometry = new NtfsGeometry(bps, clusterBytes, total, mft, mirr, (int)recordBytes);
        return true;
    }
}
