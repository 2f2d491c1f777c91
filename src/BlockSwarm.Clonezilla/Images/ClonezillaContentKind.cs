namespace BlockSwarm.Clonezilla;

/// <summary>What Clonezilla's restore writes into a partition.</summary>
public enum ClonezillaContentKind
{
    /// <summary>Nothing: an extended partition, or one savedisk did not save (restoredisk leaves it as it finds it).</summary>
    None,
    /// <summary>The used blocks of a partclone image (<c>&lt;part&gt;.&lt;fs&gt;-ptcl-img.&lt;comp&gt;</c>).</summary>
    Partclone,
    /// <summary>Every byte, from a raw image of a file system partclone did not know (<c>&lt;part&gt;.dd-ptcl-img.*</c>, <c>&lt;part&gt;.dd-img*</c>).</summary>
    Dd,
    /// <summary>A swap signature made by mkswap with the saved UUID and label (<see cref="SwapSignature"/>).</summary>
    Swap,
}
