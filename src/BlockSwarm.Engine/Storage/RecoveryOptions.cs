namespace BlockSwarm.Engine.Storage;

/// <summary>How much to trust a resume file and how to re-hash.</summary>
public sealed record RecoveryOptions
{
    /// <summary>Pieces of a valid resume file to hash before trusting it (0: trust it as is).</summary>
    public int SpotCheckPieces { get; init; } = 4;

    /// <summary>
    /// Re-hash the target when there is no usable resume file. True by default (never fetch a
    /// piece twice); an engine that knows the target is blank may turn it off.
    /// </summary>
    public bool RehashWhenUntrusted { get; init; } = true;

    /// <summary>
    /// Before a full re-hash, hash up to this many pieces spread over the image (skipping pieces that are all
    /// zeros in the image, which any blank disk matches). When none of them is on the target already, the target
    /// holds something else (a blank or foreign disk: the usual case when reimaging) and the download starts at
    /// once instead of reading the whole target first. 0 always re-hashes in full.
    /// </summary>
    public int ProbePieces { get; init; } = 16;

    /// <summary>Hashing threads; 0 means one per core.</summary>
    public int Parallelism { get; init; }

    /// <summary>Bytes hashed, reported from workers.</summary>
    public Action<long>? Progress { get; init; }

    /// <summary>Chooses spot-check pieces (seeded in tests).</summary>
    public Random? Random { get; init; }
}
