using BlockSwarm.Engine.Swarm;

namespace BlockSwarm.Engine.Tests.Swarm;

public sealed class PieceRevealTests
{
    [Fact]
    public void The_window_of_unserved_pieces_stays_full_and_moves_in_order()
    {
        var reveal = new PieceReveal(pieceCount: 10, window: 3);
        Assert.Equal(3, reveal.Frontier);
        Assert.Equal([0, 1, 2], Enumerable.Range(0, 10).Where(i => reveal.Snapshot()[i]));
        var revealed = new List<int>();
        reveal.OnServed(1, revealed); // out of order within the window: still one more revealed
        Assert.Equal([3], revealed);
        reveal.OnServed(1, revealed); // a second copy of a piece reveals nothing
        Assert.Equal([3], revealed);
        reveal.OnServed(7, revealed); // not revealed: nothing (the engine never serves it)
        Assert.Equal([3], revealed);
        Assert.False(reveal.IsRevealed(7));
        foreach (int p in new[] { 0, 2, 3, 4, 5, 6 }) reveal.OnServed(p, revealed);
        Assert.Equal([3, 4, 5, 6, 7, 8, 9], revealed);
        Assert.True(reveal.IsComplete);
    }

    [Fact]
    public void A_window_wider_than_the_torrent_reveals_everything_at_once()
    {
        var reveal = new PieceReveal(pieceCount: 2, window: 8);
        Assert.True(reveal.IsComplete);
        Assert.True(reveal.Snapshot().IsComplete);
    }
}
