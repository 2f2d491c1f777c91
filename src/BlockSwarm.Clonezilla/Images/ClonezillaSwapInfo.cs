namespace BlockSwarm.Clonezilla;

/// <summary>
/// A swap partition's identity from <c>swappt-&lt;part&gt;.info</c> (what restoredisk passes to <c>mkswap -U -L</c>); both
/// null/empty when the table marks a swap partition but savedisk left no info file (restoredisk's mkswap then picks a
/// random UUID).
/// </summary>
public sealed record ClonezillaSwapInfo(Guid? Uuid, string Label);
