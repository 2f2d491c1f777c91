namespace BlockSwarm.Clonezilla.Restart;

/// <summary>
/// A place to start inflating a gzip stream mid-way: decoded offset <see cref="Decoded"/> begins at compressed byte
/// <see cref="Compressed"/> (less <see cref="Bits"/> bits of the byte before), with the 32 KiB of output before it as
/// the dictionary.
/// </summary>
public sealed record GzipRestartPoint(long Decoded, long Compressed, int Bits, byte[] Window);
