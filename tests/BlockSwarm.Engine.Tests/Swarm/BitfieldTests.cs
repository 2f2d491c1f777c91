using CsCheck;

namespace BlockSwarm.Engine.Tests.Swarm;

public sealed class BitfieldTests
{
    private static Bitfield Make(int length, bool[] bits)
    {
        var b = new Bitfield(length);
        for (int i = 0; i < length; i++) b[i] = bits[i];
        return b;
    }

    /// <summary>The picker's word-at-a-time candidate scan finds exactly what testing bit by bit finds, from any start.</summary>
    [Fact]
    public void NextSetExcept_matches_a_bit_by_bit_scan()
    {
        Gen.Int[1, 300].SelectMany(n => Gen.Select(Gen.Bool.Array[n], Gen.Bool.Array[n], Gen.Bool.Array[n], Gen.Int[0, n + 1], (a, b, c, start) => (n, a, b, c, start)))
            .Sample(t =>
            {
                var (n, a, b, c, start) = t;
                var have = Make(n, a);
                var ours = Make(n, b);
                var started = Make(n, c);
                int expected = -1;
                for (int i = start; i < n; i++)
                    if (a[i] && !b[i] && !c[i]) { expected = i; break; }
                Assert.Equal(expected, have.NextSetExcept(ours, started, start));
            });
    }

    [Fact]
    public void NextSetExcept_refuses_bitfields_of_other_lengths()
    {
        Assert.Throws<ArgumentException>(() => new Bitfield(10).NextSetExcept(new Bitfield(11), new Bitfield(10), 0));
    }
}
