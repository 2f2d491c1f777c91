using BlockSwarm.Engine.Swarm;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Swarm;

public sealed class SwarmStateConcurrencyTests
{
    [Fact]
    public async Task Concurrent_peer_loops_download_everything_exactly_once()
    {
        const int pieces = 200, peers = 8;
        var state = new SwarmState((long)pieces * 4 * SwarmOptions.BlockSize, 4 * SwarmOptions.BlockSize, time: new FakeTimeProvider(), random: new Random(3));
        for (int i = 0; i < peers; i++)
        {
            state.AddPeer(new PeerHandle(i));
            state.OnHaveAll(new PeerHandle(i));
            state.OnUnchoked(new PeerHandle(i));
        }
        int completed = 0;
        var ct = TestContext.Current.CancellationToken;
        await Task.WhenAll(Enumerable.Range(0, peers).Select(i => Task.Run(() =>
        {
            var peer = new PeerHandle(i);
            var reqs = new List<BlockRequest>();
            var cancels = new List<PeerHandle>();
            while (!state.IsComplete)
            {
                ct.ThrowIfCancellationRequested();
                reqs.Clear();
                state.PickRequests(peer, 16, reqs);
                foreach (var r in reqs)
                {
                    cancels.Clear();
                    if (state.BlockReceived(peer, r, cancels) == BlockReceivedStatus.PieceComplete)
                    {
                        state.PieceVerified(r.Piece);
                        Interlocked.Increment(ref completed);
                    }
                }
                if (reqs.Count == 0) Thread.Yield();
            }
        }, ct)));
        Assert.True(state.IsComplete);
        Assert.Equal(pieces, completed); // no piece completed twice
        for (int i = 0; i < peers; i++) Assert.Equal(0, state.Outstanding(new PeerHandle(i)));
    }

    [Fact]
    public void Steady_state_picking_and_receiving_does_not_allocate()
    {
        const int pieces = 100;
        var state = new SwarmState((long)pieces * 4 * SwarmOptions.BlockSize, 4 * SwarmOptions.BlockSize,
            new SwarmOptions { RandomFirstPieces = 0 }, new FakeTimeProvider(), new Random(3));
        var peer = new PeerHandle(1);
        state.AddPeer(peer);
        state.OnHaveAll(peer);
        state.OnUnchoked(peer);
        var reqs = new List<BlockRequest>(64);
        var cancels = new List<PeerHandle>(4);

        void Round()
        {
            reqs.Clear();
            state.PickRequests(peer, 8, reqs);
            foreach (var r in reqs)
                if (state.BlockReceived(peer, r, cancels) == BlockReceivedStatus.PieceComplete) state.PieceVerified(r.Piece);
        }

        for (int i = 0; i < 5; i++) Round(); // warm the progress pool and dictionaries
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 30; i++) Round();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
