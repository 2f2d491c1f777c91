namespace BlockSwarm.Imaging.Partitions;

/// <summary>
/// One partition as Linux numbers it (MBR primaries 1-4, logicals from 5; GPT entry slot + 1).
/// <paramref name="Type"/> is the MBR type byte as "0x83" or the GPT type GUID in lower case.
/// An MBR extended container is listed (Linux shows it too) but holds no filesystem.
/// </summary>
public sealed record Partition(int Number, long Start, long Length, string Type, bool IsExtended = false, string Name = "")
{
    public long End => Start + Length;

    public override string ToString() => $"#{Number} [{Start}, {End}) type {Type}{(IsExtended ? " (extended)" : "")}";
}
