namespace BlockSwarm.Clonezilla;

/// <summary>
/// One partition of a disk's table (<c>&lt;disk&gt;-pt.sf</c>), in bytes, and what restoredisk writes into it: a partclone
/// or raw image (<see cref="Image"/>), a swap signature (<see cref="Swap"/>), or nothing.
/// </summary>
public sealed class ClonezillaPartition
{
    internal ClonezillaPartition(string name, int number, long start, long length, string type, bool bootable,
        bool isExtended, ClonezillaContentKind content, ClonezillaPartitionImage? image, ClonezillaSwapInfo? swap)
    {
        Name = name;
        Number = number;
        Start = start;
        Length = length;
        Type = type;
        IsBootable = bootable;
        IsExtended = isExtended;
        Content = content;
        Image = image;
        Swap = swap;
    }

    /// <summary>The device name savedisk saw (<c>sda1</c>, <c>nvme0n1p2</c>, <c>loop0p1</c>): the image files' prefix.</summary>
    public string Name { get; }

    public int Number { get; }

    /// <summary>Byte offset on the disk.</summary>
    public long Start { get; }

    /// <summary>Length in bytes.</summary>
    public long Length { get; }

    public long End => Start + Length;

    /// <summary>The type as the dump gives it: an MBR type byte in hex (<c>83</c>) or a GPT type GUID.</summary>
    public string Type { get; }

    public bool IsBootable { get; }

    /// <summary>An MBR extended partition (its EBRs are boot areas; nothing is restored into it as such).</summary>
    public bool IsExtended { get; }

    public ClonezillaContentKind Content { get; }

    /// <summary>The saved image for <see cref="ClonezillaContentKind.Partclone"/> and <see cref="ClonezillaContentKind.Dd"/>.</summary>
    public ClonezillaPartitionImage? Image { get; }

    /// <summary>The UUID and label for <see cref="ClonezillaContentKind.Swap"/>.</summary>
    public ClonezillaSwapInfo? Swap { get; }

    public override string ToString() => $"{Name} [{Start}, {End}) {Content}{(Image is null ? "" : $" {Image.FileSystem}.{Image.Compression}")}";
}
