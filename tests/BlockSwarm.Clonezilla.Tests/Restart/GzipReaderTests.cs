using System.Text;
using BlockSwarm.Clonezilla.Restart;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Restart;

/// <summary>
/// Restart points in gzip streams made by the real tools (gzip, pigz as Clonezilla runs it, and members concatenated):
/// the indexing pass decodes the whole stream exactly; from any restart point the rest decodes exactly too.
/// </summary>
public sealed class GzipReaderTests
{
    /// <summary>About as compressible as filesystem data: words, numbers, some random runs.</summary>
    private static byte[] Data(int length, int seed)
    {
        var rnd = new Random(seed);
        var sb = new StringBuilder(length);
        string[] words = ["block", "swarm", "partition", "ext4", "inode", "superblock", "journal", "extent", "piece", "clonezilla"];
        while (sb.Length < length)
        {
            sb.Append(words[rnd.Next(words.Length)]).Append(' ').Append(rnd.Next(100_000)).Append(rnd.Next(20) == 0 ? '\n' : ' ');
            if (rnd.Next(200) == 0) sb.Append(Convert.ToBase64String(Enumerable.Range(0, 300).Select(_ => (byte)rnd.Next(256)).ToArray()));
        }
        return Encoding.ASCII.GetBytes(sb.ToString(0, length));
    }

    public static TheoryData<string> Tools => ["gzip", "pigz", "concatenated"];

    [Theory]
    [MemberData(nameof(Tools))]
    public void Every_restart_point_decodes_the_rest_of_the_stream_exactly(string tool)
    {
        Requires.Tools(tool == "pigz" ? "pigz" : "gzip");
        using var dir = new TempDirectory("gzip-restart");
        var data = Data(24 << 20, 1);
        var plain = dir.File("data");
        File.WriteAllBytes(plain, data);
        var gz = dir.File("data.gz");
        if (tool == "concatenated")
        {
            File.WriteAllBytes(dir.File("a"), data[..(10 << 20)]);
            File.WriteAllBytes(dir.File("b"), data[(10 << 20)..]);
            Tool.Sh($"gzip -c {dir.File("a")} > {gz} && gzip -c {dir.File("b")} >> {gz}");
        }
        else
        {
            Tool.Sh($"{tool} -c {plain} > {gz}");
        }

        var points = new List<GzipRestartPoint>();
        using (var indexer = GzipReader.OpenAtStart(File.OpenRead(gz), "data.gz", points, spacing: 2 << 20))
            Assert.Equal(data, ReadAll(indexer, data.Length));
        Assert.True(points.Count >= 6, $"{points.Count} restart points in {data.Length} bytes");
        Assert.All(points, p => Assert.InRange(p.Window.Length, p.Decoded == 0 ? 0 : 1, 32768));

        var rnd = new Random(2);
        foreach (var p in points.OrderBy(_ => rnd.Next()).Take(6))
        {
            using var reader = GzipReader.OpenAt(File.OpenRead(gz), "data.gz", p);
            var rest = ReadAll(reader, data.Length - (int)p.Decoded);
            Assert.True(rest.AsSpan().SequenceEqual(data.AsSpan((int)p.Decoded)), $"from the point at decoded byte {p.Decoded}");
            Assert.Equal(0, reader.Read(new byte[10]));
        }
    }

    [Fact]
    public void Corrupt_or_truncated_gzip_data_is_a_format_error_naming_the_stream()
    {
        Requires.Tools("gzip");
        using var dir = new TempDirectory("gzip-bad");
        var data = Data(4 << 20, 3);
        File.WriteAllBytes(dir.File("data"), data);
        Tool.Sh($"gzip -c {dir.File("data")} > {dir.File("data.gz")}");
        var gz = File.ReadAllBytes(dir.File("data.gz"));
        var flipped = (byte[])gz.Clone();
        flipped[gz.Length / 2] ^= 0x55;
        // Flipped data decodes to garbage or fails at once; either way the member's CRC-32 catches it by the end.
        var e1 = Assert.Throws<ClonezillaFormatException>(() => ReadToEnd(GzipReader.OpenAtStart(new MemoryStream(flipped), "bad.gz")));
        Assert.Contains("bad.gz", e1.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<ClonezillaFormatException>(() => ReadAll(GzipReader.OpenAtStart(new MemoryStream(gz[..(gz.Length / 3)]), "short.gz"), data.Length));
        Assert.Contains("short.gz: the gzip stream is truncated at compressed byte", e2.Message, StringComparison.Ordinal);
    }

    private static long ReadToEnd(GzipReader reader)
    {
        var buffer = new byte[1 << 20];
        long total = 0;
        for (int n; (n = reader.Read(buffer)) > 0;) total += n;
        return total;
    }

    private static byte[] ReadAll(GzipReader reader, int expected)
    {
        var result = new byte[expected];
        int done = 0;
        while (done < expected)
        {
            int n = reader.Read(result.AsSpan(done, Math.Min(1 << 20, expected - done)));
            if (n == 0) break;
            done += n;
        }
        Assert.Equal(expected, done);
        return result;
    }
}
