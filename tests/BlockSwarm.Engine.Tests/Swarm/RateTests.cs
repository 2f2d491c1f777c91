using BlockSwarm.Engine.Swarm;
using Microsoft.Extensions.Time.Testing;

namespace BlockSwarm.Engine.Tests.Swarm;

public sealed class RateTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Meter_averages_over_the_sliding_window()
    {
        var m = new RateMeter(_time, TimeSpan.FromSeconds(5), buckets: 5);
        for (int i = 0; i < 10; i++)
        {
            m.Add(1000);
            _time.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.Equal(1000, m.BytesPerSecond, 1.0);
        Assert.Equal(10_000, m.Total);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, m.BytesPerSecond);
    }

    [Fact]
    public void Young_meter_divides_by_its_age_not_the_window()
    {
        var m = new RateMeter(_time, TimeSpan.FromSeconds(5), buckets: 10);
        _time.Advance(TimeSpan.FromSeconds(1));
        m.Add(1000);
        Assert.Equal(1000, m.BytesPerSecond, 1.0);
    }

    /// <summary>Drives the limiter single-threaded: the clock only moves while a wait is pending.</summary>
    private async Task<TimeSpan> SendAsync(RateLimiter limiter, long totalBytes, int chunk)
    {
        var start = _time.GetUtcNow();
        for (long sent = 0; sent < totalBytes; sent += chunk)
        {
            var wait = limiter.WaitAsync(chunk, CancellationToken.None);
            while (!wait.IsCompleted) _time.Advance(TimeSpan.FromMilliseconds(1));
            await wait;
        }
        return _time.GetUtcNow() - start;
    }

    [Fact]
    public async Task Limiter_holds_the_configured_rate()
    {
        var limiter = new RateLimiter(_time, bytesPerSecond: 10_000_000);
        var elapsed = await SendAsync(limiter, 100_000_000, 16 * 1024);
        // 10 s at 10 MB/s; the initial 50 ms burst and 1 ms clock steps give a little slack.
        Assert.InRange(elapsed.TotalSeconds, 9.9, 10.1);
    }

    [Fact]
    public async Task Limiter_ramps_up_from_the_start_rate()
    {
        var limiter = new RateLimiter(_time, bytesPerSecond: 10_000_000, startBytesPerSecond: 1_000_000, rampUp: TimeSpan.FromSeconds(10));
        // During a linear ramp from 1 to 10 MB/s over 10 s the bucket admits (1+10)/2 * 10 = 55 MB.
        var elapsed = await SendAsync(limiter, 55_000_000, 16 * 1024);
        Assert.InRange(elapsed.TotalSeconds, 9.8, 10.3);
        // After the ramp: full rate.
        elapsed = await SendAsync(limiter, 20_000_000, 16 * 1024);
        Assert.InRange(elapsed.TotalSeconds, 1.9, 2.1);
        Assert.Equal(10_000_000, limiter.CurrentBytesPerSecond, 1.0);
    }

    private static bool IsSynchronous(ValueTask wait) => wait.IsCompletedSuccessfully;

    [Fact]
    public void Limiter_fast_path_is_synchronous_and_unlimited_never_waits()
    {
        var limiter = new RateLimiter(_time, bytesPerSecond: 1_000_000);
        Assert.True(IsSynchronous(limiter.WaitAsync(16 * 1024, CancellationToken.None))); // within the 50 ms burst
        var unlimited = new RateLimiter(_time, bytesPerSecond: 0);
        for (int i = 0; i < 1000; i++) Assert.True(IsSynchronous(unlimited.WaitAsync(1 << 20, CancellationToken.None)));
    }

    [Fact]
    public async Task Limiter_serves_waiters_in_arrival_order_and_refunds_cancelled_ones()
    {
        var limiter = new RateLimiter(_time, bytesPerSecond: 100_000, burst: TimeSpan.FromMilliseconds(1));
        await limiter.WaitAsync(100, CancellationToken.None); // drain the tiny burst
        var first = limiter.WaitAsync(50_000, CancellationToken.None).AsTask();
        using var cts = new CancellationTokenSource();
        var cancelled = limiter.WaitAsync(50_000, cts.Token).AsTask();
        var third = limiter.WaitAsync(10_000, CancellationToken.None).AsTask();
        _time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.False(first.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(2));
        Assert.True(first.IsCompleted);
        Assert.False(third.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        // The cancelled 50 kB were refunded: the next caller waits only for the debt still owed.
        var next = limiter.WaitAsync(1, CancellationToken.None).AsTask();
        _time.Advance(TimeSpan.FromMilliseconds(150));
        Assert.True(next.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(third.IsCompleted);
    }

    [Fact]
    public async Task Stepped_limiter_rises_one_step_per_period_then_lifts_the_limit()
    {
        // EZIO's slow start scaled down: 1 MB/s, +1 MB/s every second, lifted at 4 MB/s.
        var limiter = RateLimiter.Stepped(_time, startBytesPerSecond: 1_000_000, stepBytesPerSecond: 1_000_000, TimeSpan.FromSeconds(1), liftAtBytesPerSecond: 4_000_000);
        Assert.False(limiter.IsUnlimited);
        Assert.Equal(1_000_000, limiter.CurrentBytesPerSecond, 1.0);
        // 1 + 2 + 3 MB in the first three seconds (the schedule starts with the first wait).
        var elapsed = await SendAsync(limiter, 6_000_000, 16 * 1024);
        Assert.InRange(elapsed.TotalSeconds, 2.9, 3.05);
        _time.Advance(TimeSpan.FromMilliseconds(100));
        // The step that reaches 4 MB/s lifts the limit for good: no waits, however much is sent.
        Assert.Equal(double.PositiveInfinity, limiter.CurrentBytesPerSecond);
        for (int i = 0; i < 1000; i++) Assert.True(IsSynchronous(limiter.WaitAsync(1 << 20, CancellationToken.None)));
    }

    [Fact]
    public async Task Stepped_limiter_holds_each_step_for_a_whole_period()
    {
        var limiter = RateLimiter.Stepped(_time, startBytesPerSecond: 1_000_000, stepBytesPerSecond: 1_000_000, TimeSpan.FromSeconds(10), liftAtBytesPerSecond: 100_000_000);
        // 5 MB at the first step's 1 MB/s: 5 s, not the faster average a linear ramp would give.
        var elapsed = await SendAsync(limiter, 5_000_000, 16 * 1024);
        Assert.InRange(elapsed.TotalSeconds, 4.9, 5.05);
        Assert.Equal(1_000_000, limiter.CurrentBytesPerSecond, 1.0);
        _time.Advance(TimeSpan.FromSeconds(5.1));
        Assert.Equal(2_000_000, limiter.CurrentBytesPerSecond, 1.0);
    }

    [Fact]
    public async Task An_engine_uses_the_upload_limiter_it_is_given()
    {
        var limiter = RateLimiter.Stepped(_time, 1_000_000, 1_000_000, TimeSpan.FromSeconds(1), 4_000_000);
        await using var engine = new BlockSwarm.Engine.Hosting.TorrentEngine(new BlockSwarm.Engine.Hosting.EngineOptions { UploadLimiter = limiter, UploadLimit = 5, Time = _time });
        Assert.Same(limiter, engine.UploadLimiter);
    }

    [Fact]
    public async Task Limiter_is_thread_safe_under_concurrent_callers()
    {
        var limiter = new RateLimiter(TimeProvider.System, bytesPerSecond: 200_000_000);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < 500; i++) await limiter.WaitAsync(16 * 1024, TestContext.Current.CancellationToken);
        })));
        // 32 MB at 200 MB/s: about 160 ms; generous upper bound for a busy machine.
        Assert.InRange(sw.Elapsed.TotalSeconds, 0.08, 5);
    }
}
