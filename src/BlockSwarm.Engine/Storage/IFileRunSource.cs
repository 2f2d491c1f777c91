using BlockSwarm.Devices;

namespace BlockSwarm.Engine.Storage;

/// <summary>
/// A storage capability: upload runs can be sent straight from the device's page cache with <c>sendfile</c> (no read
/// into a buffer, no copy into the socket). The upload path asks for it by interface, so any storage that maps pieces
/// onto a file can offer it, and the engine never needs to know the concrete storage type.
/// </summary>
public interface IFileRunSource
{
    /// <summary>
    /// The file regions holding [<paramref name="offset"/>, +<paramref name="length"/>) of a piece, or null when they
    /// cannot be sent from the file now (the device does not allow it, or the piece still waits in the write-back
    /// queue). <paramref name="onSendFailed"/> runs if the send fails, to tell a read error from a broken socket.
    /// </summary>
    FileRun? TryGetFileRun(int piece, int offset, int length, Action<FileRun, Exception>? onSendFailed = null);

    /// <summary>Reads a run's regions from the device (after its sendfile failed): throws the device's read error, if it has one.</summary>
    void CheckReadable(FileRun run);
}
