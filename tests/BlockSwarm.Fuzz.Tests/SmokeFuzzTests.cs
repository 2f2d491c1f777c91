using BlockSwarm.Fuzz;

namespace BlockSwarm.Fuzz.Tests;

/// <summary>
/// The short fuzzing run in CI: a bounded, deterministic mutation run per target over the
/// committed seed corpus (a few seconds each). Long coverage-guided runs are in fuzz/README.md.
/// </summary>
public sealed class SmokeFuzzTests
{
    private const int Iterations = 20_000;

    public static TheoryData<string> Targets => [.. FuzzTargets.All.Select(t => t.Name)];

    private static IReadOnlyList<byte[]> Corpus(string target) =>
        SmokeFuzzer.LoadCorpus(Path.Combine(AppContext.BaseDirectory, "corpus", target));

    [Theory]
    [MemberData(nameof(Targets))]
    public void SeedsAreAcceptedOrRejectedWithoutCrashing(string name)
    {
        var target = FuzzTargets.Find(name)!;
        var corpus = Corpus(name);
        Assert.NotEmpty(corpus);
        Assert.Contains(corpus, seed => target.Run(seed)); // at least one seed is valid, so mutants start from real structure
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void SmokeRunFindsNoCrash(string name)
    {
        var result = SmokeFuzzer.Run(FuzzTargets.Find(name)!, Corpus(name), Iterations, seed: 20240601);
        Assert.True(!result.Crashed,
            $"{result}\ninput (hex): {Convert.ToHexStringLower(result.CrashInput ?? [])}\n{result.CrashException}");
        Assert.True(result.Accepted > 0 && result.Rejected > 0, result.ToString());
    }

    [Fact]
    public void SameSeedGivesSameRun()
    {
        var target = FuzzTargets.Find("bencode")!;
        var a = SmokeFuzzer.Run(target, Corpus("bencode"), 2000, seed: 7);
        var b = SmokeFuzzer.Run(target, Corpus("bencode"), 2000, seed: 7);
        Assert.Equal((a.Accepted, a.Rejected), (b.Accepted, b.Rejected));
    }

    [Fact]
    public void UndocumentedExceptionIsReportedAsCrash()
    {
        var boom = new FuzzTarget("boom", "throws on inputs starting with 'x'", d => d.Length > 0 && d[0] == (byte)'x' ? throw new InvalidOperationException() : true);
        var result = SmokeFuzzer.Run(boom, [[(byte)'a']], 5000, seed: 1);
        Assert.True(result.Crashed);
        Assert.IsType<InvalidOperationException>(result.CrashException);
        Assert.Equal((byte)'x', result.CrashInput![0]);
    }
}
