using BlockSwarm.Clonezilla.Serving;
using BlockSwarm.Devices;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSwarm.Clonezilla.Tests.Serving;

public sealed class VirtualDiskTests
{
    /// <summary>
    /// A 16 MiB "disk": an MBR, a partition whose used extents are decoded from a stream holding only their bytes,
    /// and a backup area at the end; everything else unwritten.
    /// </summary>
    internal static (VirtualDisk Disk, byte[] Source, Extent[] Written, DecodedStream Partition) Make(int window = 1 << 20)
    {
        var source = new byte[16 << 20];
        new Random(5).NextBytes(source);
        long partStart = 1 << 20;
        Extent[] used = [new(0, 64 << 10), new(200 << 10, 3 << 20), new((5 << 20) + 4096, 12288), new(8 << 20, (2 << 20) + 512)];
        var stream = used.SelectMany(e => source.Skip((int)(partStart + e.Offset)).Take((int)e.Length)).ToArray();
        var decoded = new DecodedStream("sda1", stream.Length, new MemoryRestartPoints(stream, []), window, NullLogger.Instance);
        byte[] mbr = source[..512], backup = source[^(16 << 10)..];
        var disk = new VirtualDisk("sda", source.Length,
        [
            new DiskRegion(0, 512, new BytesRegion(mbr)),
            new DiskRegion(partStart, 14 << 20, new UsedBlocksRegion(used, decoded)),
            new DiskRegion(source.Length - backup.Length, backup.Length, new BytesRegion(backup)),
        ], window, [decoded]);
        Extent[] written = [new(0, 512), .. used.Select(e => new Extent(partStart + e.Offset, e.Length)), new(source.Length - backup.Length, backup.Length)];
        return (disk, source, written, decoded);
    }

    [Fact]
    public void Reads_anywhere_inside_the_written_extents_return_the_source_bytes()
    {
        var (disk, source, written, _) = Make();
        using (disk)
        {
            var rnd = new Random(3);
            foreach (var e in written.Concat(written))
            {
                long at = e.Offset + rnd.NextInt64(e.Length);
                int len = (int)Math.Min(e.End - at, rnd.Next(1, 200_000));
                var a = new byte[len / 2];
                var b = new byte[len - len / 2];
                disk.Read(at, [a, b]);
                Assert.True(a.Concat(b).SequenceEqual(source.Skip((int)at).Take(len)), $"at {at}");
            }
        }
    }

    [Fact]
    public void Reading_outside_every_region_or_between_used_extents_is_an_error_and_writing_is_refused()
    {
        var (disk, _, _, _) = Make();
        using (disk)
        {
            Assert.Throws<IOException>(() => disk.Read(600, [new byte[10]]));
            Assert.Throws<ArgumentOutOfRangeException>(() => disk.Read((1 << 20) + (100 << 10), [new byte[10]]));
            Assert.Throws<NotSupportedException>(() => disk.Write(0, [new byte[1]]));
            Assert.False(disk.CanWrite);
        }
    }
}
