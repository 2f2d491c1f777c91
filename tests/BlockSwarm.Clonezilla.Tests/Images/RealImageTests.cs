using System.Text.Json;
using BlockSwarm.Imaging.Partitions;
using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Images;

/// <summary>The model against image directories Clonezilla made, and against what Clonezilla's own restore wrote.</summary>
[Requires(Need.Root, Need.LoopDevice, "ocs-sr", "partclone.extfs", "parted", "pigz", "zstd", "mkfs.ntfs", "ntfs-3g", "mkfs.vfat", "mkswap")]
public sealed class RealImageTests
{
    public static TheoryData<ClonezillaFixtureKind> Kinds => [ClonezillaFixtureKind.GptZstd, ClonezillaFixtureKind.GptGzip, ClonezillaFixtureKind.MbrGzip];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Partitions_are_where_the_saved_disk_had_them(ClonezillaFixtureKind kind)
    {
        var f = ClonezillaFixture.Get(kind);
        foreach (var t in f.Timings) TestContext.Current.SendDiagnosticMessage(t);
        var disk = Assert.Single(ClonezillaImage.Load(f.ImageDirectory).Disks);
        Assert.Equal(f.DiskName, disk.Name);
        Assert.Equal(new FileInfo(f.SourceDisk).Length, disk.Size);
        Assert.Equal(512, disk.SectorSize);
        using var json = JsonDocument.Parse(f.SfdiskJson);
        var table = json.RootElement.GetProperty("partitiontable");
        Assert.Equal(kind == ClonezillaFixtureKind.MbrGzip ? PartitionScheme.Mbr : PartitionScheme.Gpt, disk.Table);
        var expected = table.GetProperty("partitions").EnumerateArray()
            .Select(p => (Name: p.GetProperty("node").GetString()!["/dev/".Length..], Start: p.GetProperty("start").GetInt64() * 512, Length: p.GetProperty("size").GetInt64() * 512))
            .ToList();
        Assert.Equal(expected, disk.Partitions.Select(p => (p.Name, p.Start, p.Length)).ToList());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_partition_has_its_image_or_swap_identity(ClonezillaFixtureKind kind)
    {
        var f = ClonezillaFixture.Get(kind);
        var disk = ClonezillaImage.Load(f.ImageDirectory).Disks[0];
        var comp = kind == ClonezillaFixtureKind.GptZstd ? ClonezillaCompression.Zstd : ClonezillaCompression.Gzip;
        var byNumber = disk.Partitions.ToDictionary(p => p.Number);
        void Imaged(int n, ClonezillaContentKind content, string fs)
        {
            var image = byNumber[n].Image!;
            Assert.Equal((content, fs, comp), (image.Kind, image.FileSystem, image.Compression));
            // -i 1 splits every 10^6 bytes: every image of ~3 MB comes in pieces, in order, all but the last 10^6 bytes.
            Assert.True(image.Files.Count > 1, $"{byNumber[n].Name} was not split");
            Assert.Equal(image.Files.Order(StringComparer.Ordinal), image.Files);
            Assert.All(image.Files.SkipLast(1), file => Assert.Equal(1_000_000, new FileInfo(file).Length));
        }
        if (kind == ClonezillaFixtureKind.MbrGzip)
        {
            Imaged(1, ClonezillaContentKind.Partclone, "ext4");
            Imaged(2, ClonezillaContentKind.Dd, "dd");
            Assert.True(byNumber[3].IsExtended);
            Assert.Equal(ClonezillaContentKind.None, byNumber[3].Content);
            Imaged(5, ClonezillaContentKind.Partclone, "vfat");
            Assert.Equal(new ClonezillaSwapInfo(Guid.Parse("5a5a5a5a-1414-4000-8000-0000000000a6"), ""), byNumber[6].Swap);
        }
        else
        {
            Imaged(1, ClonezillaContentKind.Partclone, "ext4");
            Imaged(2, ClonezillaContentKind.Partclone, "ntfs");
            Imaged(3, ClonezillaContentKind.Partclone, "vfat");
            Assert.Equal(new ClonezillaSwapInfo(Guid.Parse("5a5a5a5a-1414-4000-8000-00000000a5a5"), "swapper"), byNumber[4].Swap);
        }
    }

    /// <summary>
    /// Outside the restored partitions, restoredisk's target (filled with 0xA5 first) reads exactly the boot areas
    /// written over the fill: every byte it wrote is in a boot area with its value, every byte it left is in none.
    /// </summary>
    [Theory]
    [InlineData(ClonezillaFixtureKind.GptZstd)]
    [InlineData(ClonezillaFixtureKind.MbrGzip)]
    public void Boot_areas_are_what_restoredisk_wrote_outside_the_partitions(ClonezillaFixtureKind kind)
    {
        var f = ClonezillaFixture.Get(kind);
        var disk = ClonezillaImage.Load(f.ImageDirectory).Disks[0];
        var expected = new byte[disk.Size];
        Array.Fill(expected, ClonezillaFixture.FillByte);
        foreach (var area in disk.BootAreas) area.Read().CopyTo(expected, area.DiskOffset);
        var restored = File.ReadAllBytes(f.RestoredDisk);
        var inside = disk.Restored.Select(p => (p.Start, p.End)).ToList();
        long checkedBytes = 0;
        for (long i = 0; i < restored.Length; i++)
        {
            if (inside.Any(r => r.Start <= i && i < r.End)) continue;
            if (restored[i] != expected[i])
                Assert.Fail($"byte {i} (sector {i / 512}): restoredisk left {restored[i]:x2}, boot areas say {expected[i]:x2}; areas: {string.Join("; ", disk.BootAreas)}");
            checkedBytes++;
        }
        Assert.True(checkedBytes > 1 << 20);
        // The areas are sorted, disjoint, and outside every restored partition.
        Assert.All(disk.BootAreas.Zip(disk.BootAreas.Skip(1)), pair => Assert.True(pair.First.End <= pair.Second.DiskOffset));
        Assert.All(disk.BootAreas, a => Assert.DoesNotContain(inside, r => a.DiskOffset < r.End && r.Start < a.End));
    }

    /// <summary>Inside restored partitions, where the model says restoredisk zeroed, it reads zero or the image's data.</summary>
    [Theory]
    [InlineData(ClonezillaFixtureKind.GptZstd)]
    [InlineData(ClonezillaFixtureKind.MbrGzip)]
    public void Partition_wipes_are_zero_where_no_image_data_landed(ClonezillaFixtureKind kind)
    {
        var f = ClonezillaFixture.Get(kind);
        var disk = ClonezillaImage.Load(f.ImageDirectory).Disks[0];
        var restored = File.ReadAllBytes(f.RestoredDisk);
        var source = File.ReadAllBytes(f.SourceDisk);
        Assert.NotEmpty(disk.PartitionWipes);
        foreach (var w in disk.PartitionWipes)
            for (long i = w.DiskOffset; i < w.End; i++)
                if (restored[i] != 0 && restored[i] != source[i])
                    Assert.Fail($"byte {i} in {w}: restored {restored[i]:x2}, neither zero nor the source's {source[i]:x2}");
    }

    [Theory]
    [InlineData(ClonezillaFixtureKind.GptZstd)]
    [InlineData(ClonezillaFixtureKind.MbrGzip)]
    public void The_swap_signature_is_the_page_restoredisk_mkswap_wrote(ClonezillaFixtureKind kind)
    {
        var f = ClonezillaFixture.Get(kind);
        var swap = ClonezillaImage.Load(f.ImageDirectory).Disks[0].Partitions.Single(p => p.Content == ClonezillaContentKind.Swap);
        var page = SwapSignature.Create(swap.Length, swap.Swap!.Uuid, swap.Swap.Label);
        using var restored = File.OpenRead(f.RestoredDisk);
        restored.Position = swap.Start;
        var written = new byte[SwapSignature.PageSize];
        restored.ReadExactly(written);
        Assert.Equal(Convert.ToHexString(written), Convert.ToHexString(page));
    }
}
