namespace BlockSwarm.Fuzz;

/// <summary>
/// A deterministic, dependency-free mutation fuzzer for CI: runs every seed, then
/// <c>iterations</c> mutants of seeds and of earlier accepted inputs (accepted inputs reach
/// deeper validation, the only feedback it uses). Stops at the first crash.
/// </summary>
public static class SmokeFuzzer
{
    /// <summary>Accepted mutants kept as further parents, beyond the seeds.</summary>
    public const int PoolLimit = 512;

    public static SmokeResult Run(FuzzTarget target, IReadOnlyList<byte[]> corpus, int iterations, int seed)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(corpus);
        if (corpus.Count == 0) throw new ArgumentException("the seed corpus is empty", nameof(corpus));
        var mutator = new Mutator(seed);
        var pick = new Random(unchecked(seed * 31 + 7));
        var pool = new List<byte[]>(corpus);
        int accepted = 0, rejected = 0, done = 0;
        foreach (var input in corpus.Concat(Enumerable.Range(0, iterations).Select(_ => mutator.Mutate(pool[pick.Next(pool.Count)], pool))))
        {
            bool ok;
            try
            {
                ok = target.Run(input);
            }
            catch (Exception ex)
            {
                return new SmokeResult(target.Name, done + 1, accepted, rejected, input, ex);
            }
            done++;
            if (ok)
            {
                accepted++;
                if (pool.Count < corpus.Count + PoolLimit) pool.Add(input);
                else pool[corpus.Count + pick.Next(PoolLimit)] = input;
            }
            else
            {
                rejected++;
            }
        }
        return new SmokeResult(target.Name, done, accepted, rejected, null, null);
    }

    /// <summary>The seed files of a corpus directory, in name order.</summary>
    public static IReadOnlyList<byte[]> LoadCorpus(string directory) =>
        Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
}
