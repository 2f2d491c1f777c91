namespace BlockSwarm.Devices;

/// <summary>A storage failure that stops the torrent: a failed or short write, a failed fsync, a bad layout.</summary>
public sealed class StorageException : IOException
{
    public StorageException() { }
    public StorageException(string message) : base(message) { }
    public StorageException(string message, Exception innerException) : base(message, innerException) { }
}
