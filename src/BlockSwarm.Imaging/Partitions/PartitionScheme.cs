namespace BlockSwarm.Imaging.Partitions;

public enum PartitionScheme
{
    /// <summary>No partition table: the device is one volume (or unknown).</summary>
    None,
    Mbr,
    Gpt,
}
