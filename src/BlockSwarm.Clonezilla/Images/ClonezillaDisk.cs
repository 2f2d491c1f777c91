using BlockSwarm.Imaging.Partitions;

namespace BlockSwarm.Clonezilla;

/// <summary>
/// One disk of a Clonezilla image: its size and partition table, its partitions, and what <c>ocs-sr restoredisk</c>
/// writes on it outside them (<see cref="BootAreas"/>) and inside them before their images (<see cref="PartitionWipes"/>).
/// docs/clonezilla-image-format.md says which restore step writes what and why.
/// </summary>
public sealed class ClonezillaDisk
{
    internal ClonezillaDisk(string name, long size, int sectorSize, PartitionScheme table, IReadOnlyList<ClonezillaPartition> partitions,
        IReadOnlyList<ClonezillaBootArea> bootAreas, IReadOnlyList<ClonezillaBootArea> partitionWipes)
    {
        Name = name;
        Size = size;
        SectorSize = sectorSize;
        Table = table;
        Partitions = partitions;
        BootAreas = bootAreas;
        PartitionWipes = partitionWipes;
    }

    /// <summary>The disk's name when it was saved (<c>sda</c>, <c>nvme0n1</c>): the prefix of its files.</summary>
    public string Name { get; }

    /// <summary>The source disk's size in bytes; restoredisk refuses a smaller target.</summary>
    public long Size { get; }

    /// <summary>Logical sector size in bytes (the dump's unit).</summary>
    public int SectorSize { get; }

    /// <summary><see cref="PartitionScheme.Mbr"/> or <see cref="PartitionScheme.Gpt"/>.</summary>
    public PartitionScheme Table { get; }

    /// <summary>Every partition of the table in dump order, including extended and unsaved ones.</summary>
    public IReadOnlyList<ClonezillaPartition> Partitions { get; }

    /// <summary>
    /// What restoredisk writes outside the partitions that receive an image or a swap signature, sorted by offset and
    /// non-overlapping: written over any disk, these give the bytes restoredisk leaves there on a target of
    /// <see cref="Size"/> bytes (zeroed head and tail, the MBR, the GPTs, hidden data after the MBR, the EBRs).
    /// </summary>
    public IReadOnlyList<ClonezillaBootArea> BootAreas { get; }

    /// <summary>
    /// Zeros restoredisk writes inside those partitions before restoring them (the first MiB of each imaged partition,
    /// and the disk's zeroed head and tail where a partition reaches into them), sorted and non-overlapping. A restore
    /// that writes only used blocks writes these first to leave the same bytes as Clonezilla.
    /// </summary>
    public IReadOnlyList<ClonezillaBootArea> PartitionWipes { get; }

    /// <summary>The partitions restoredisk writes into: an image or a swap signature.</summary>
    public IEnumerable<ClonezillaPartition> Restored => Partitions.Where(p => p.Content != ClonezillaContentKind.None);

    public override string ToString() => $"{Name}: {Size} bytes, {Table}, {Partitions.Count} partitions";
}
