namespace BlockSwarm.Clonezilla;

/// <summary>
/// A Clonezilla image directory or a partclone image that cannot be used as it is: a missing split file, a truncated
/// or corrupt stream, a checksum mismatch, a bitmap that disagrees with its header, an unknown filesystem or
/// compression. The message names the file and, where there is one, the byte offset.
/// </summary>
public sealed class ClonezillaFormatException : IOException
{
    public ClonezillaFormatException() { }
    public ClonezillaFormatException(string message) : base(message) { }
    public ClonezillaFormatException(string message, Exception innerException) : base(message, innerException) { }
}
