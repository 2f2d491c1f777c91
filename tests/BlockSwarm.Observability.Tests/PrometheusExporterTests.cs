using System.Diagnostics.Metrics;
using BlockSwarm.Observability.Metrics;
using BlockSwarm.Testing;

namespace BlockSwarm.Observability.Tests;

public sealed class PrometheusExporterTests
{
    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void Counters_get_unit_and_total_suffixes_help_and_type()
    {
        using var meter = new Meter("BlockSwarm.Test");
        var sent = meter.CreateCounter<long>("blockswarm.peer.sent", "By", "Payload bytes sent to peers.");
        var requests = meter.CreateCounter<int>("blockswarm.requests_total", null, "Requests.");
        using var exporter = new PrometheusExporter([meter]);
        sent.Add(1000);
        sent.Add(24);
        requests.Add(3);
        var lines = Lines(exporter.Collect());
        Assert.Equal(
        [
            "# HELP blockswarm_peer_sent_bytes_total Payload bytes sent to peers.",
            "# TYPE blockswarm_peer_sent_bytes_total counter",
            "blockswarm_peer_sent_bytes_total 1024",
            "# HELP blockswarm_requests_total Requests.",
            "# TYPE blockswarm_requests_total counter",
            "blockswarm_requests_total 3",
        ], lines);
    }

    [Fact]
    public void Gauges_up_down_counters_and_observables_are_gauges_and_observed_series_follow_the_callback()
    {
        using var meter = new Meter("BlockSwarm.Test");
        var clients = new List<(string Id, double Progress)> { ("pc1", 0.5), ("pc2", 1) };
        meter.CreateObservableGauge("blockswarm.client.progress", () => clients.Select(c => new Measurement<double>(c.Progress, new KeyValuePair<string, object?>("client", c.Id))), null, "Fraction verified.");
        var inFlight = meter.CreateUpDownCounter<int>("blockswarm.requests.in_flight", "{request}", "Requests in flight.");
        var temperature = meter.CreateGauge<double>("blockswarm.disk.temperature", null, "Disk temperature.");
        meter.CreateObservableCounter("blockswarm.origin.uploaded", () => 4096L, "By", "Origin payload.");
        meter.CreateObservableUpDownCounter("blockswarm.origin.peers", () => 7, "{peer}", "Peers.");
        using var exporter = new PrometheusExporter([meter]);
        inFlight.Add(5);
        inFlight.Add(-2);
        temperature.Record(40.5);
        temperature.Record(41.25);
        var text = exporter.Collect();
        Assert.Contains("# TYPE blockswarm_client_progress gauge\nblockswarm_client_progress{client=\"pc1\"} 0.5\nblockswarm_client_progress{client=\"pc2\"} 1\n", text);
        Assert.Contains("# TYPE blockswarm_requests_in_flight gauge\nblockswarm_requests_in_flight 3\n", text);
        Assert.Contains("blockswarm_disk_temperature 41.25\n", text);
        Assert.Contains("# TYPE blockswarm_origin_uploaded_bytes_total counter\nblockswarm_origin_uploaded_bytes_total 4096\n", text);
        Assert.Contains("# TYPE blockswarm_origin_peers gauge\nblockswarm_origin_peers 7\n", text);

        // A client no longer reported leaves the output at the next scrape.
        clients.RemoveAt(0);
        text = exporter.Collect();
        Assert.DoesNotContain("pc1", text);
        Assert.Contains("blockswarm_client_progress{client=\"pc2\"} 1\n", text);
    }

    [Fact]
    public void Histograms_have_cumulative_buckets_sum_and_count()
    {
        using var meter = new Meter("BlockSwarm.Test");
        var hash = meter.CreateHistogram<double>("blockswarm.piece.hash.duration", "s", "Time to hash a piece.");
        using var exporter = new PrometheusExporter([meter]);
        foreach (var v in new[] { 0.003, 0.005, 0.2, 3, 60 }) hash.Record(v, new KeyValuePair<string, object?>("mode", "verify"));
        var lines = Lines(exporter.Collect());
        Assert.Equal("# HELP blockswarm_piece_hash_duration_seconds Time to hash a piece.", lines[0]);
        Assert.Equal("# TYPE blockswarm_piece_hash_duration_seconds histogram", lines[1]);
        // Default bounds for seconds; upper bounds are inclusive (0.005 falls in le="0.005").
        Assert.Contains("blockswarm_piece_hash_duration_seconds_bucket{mode=\"verify\",le=\"0.005\"} 2", lines);
        Assert.Contains("blockswarm_piece_hash_duration_seconds_bucket{mode=\"verify\",le=\"0.1\"} 2", lines);
        Assert.Contains("blockswarm_piece_hash_duration_seconds_bucket{mode=\"verify\",le=\"0.25\"} 3", lines);
        Assert.Contains("blockswarm_piece_hash_duration_seconds_bucket{mode=\"verify\",le=\"5\"} 4", lines);
        Assert.Contains("blockswarm_piece_hash_duration_seconds_bucket{mode=\"verify\",le=\"10\"} 4", lines);
        Assert.Contains("blockswarm_piece_hash_duration_seconds_bucket{mode=\"verify\",le=\"+Inf\"} 5", lines);
        Assert.Contains("blockswarm_piece_hash_duration_seconds_sum{mode=\"verify\"} 63.208", lines);
        Assert.Contains("blockswarm_piece_hash_duration_seconds_count{mode=\"verify\"} 5", lines);
        var buckets = lines.Where(l => l.Contains("_bucket", StringComparison.Ordinal)).Select(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(buckets.Order(), buckets); // cumulative
    }

    [Fact]
    public void Histogram_buckets_come_from_the_instruments_advice_or_its_unit()
    {
        using var meter = new Meter("BlockSwarm.Test");
        var advised = meter.CreateHistogram<long>("blockswarm.batch.pieces", "{piece}", "Pieces per batch.",
            tags: null, advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 4, 16] });
        var sizes = meter.CreateHistogram<int>("blockswarm.request.size", "By", "Request sizes.");
        using var exporter = new PrometheusExporter([meter]);
        advised.Record(3);
        sizes.Record(16384);
        var text = exporter.Collect();
        Assert.Contains("blockswarm_batch_pieces_bucket{le=\"1\"} 0\nblockswarm_batch_pieces_bucket{le=\"4\"} 1\nblockswarm_batch_pieces_bucket{le=\"16\"} 1\nblockswarm_batch_pieces_bucket{le=\"+Inf\"} 1\n", text);
        Assert.Contains("blockswarm_request_size_bytes_bucket{le=\"16384\"} 1\n", text);
        Assert.Contains("blockswarm_request_size_bytes_bucket{le=\"4096\"} 0\n", text);
    }

    [Theory]
    [InlineData("blockswarm.job.bytes", "By", "gauge", "blockswarm_job_bytes")]
    [InlineData("blockswarm.origin.uploaded", "By", "counter", "blockswarm_origin_uploaded_bytes_total")]
    [InlineData("blockswarm.uploaded_bytes_total", "By", "counter", "blockswarm_uploaded_bytes_total")]
    [InlineData("blockswarm.uploaded_bytes", "By", "counter", "blockswarm_uploaded_bytes_total")]
    [InlineData("blockswarm.peers", "{peer}", "gauge", "blockswarm_peers")]
    [InlineData("blockswarm.progress", "1", "gauge", "blockswarm_progress")]
    [InlineData("blockswarm.rate", "By/s", "gauge", "blockswarm_rate_bytes_per_second")]
    [InlineData("blockswarm.hash.duration", "s", "histogram", "blockswarm_hash_duration_seconds")]
    [InlineData("blockswarm.hash.seconds", "s", "histogram", "blockswarm_hash_seconds")]
    [InlineData("blockswarm.wait", "ms", "histogram", "blockswarm_wait_milliseconds")]
    [InlineData("http.server.request-count", null, "counter", "http_server_request_count_total")]
    [InlineData("2fast..and/furious", "", "gauge", "_2fast_and_furious")]
    [InlineData("queue.depth", "{item}", "gauge", "queue_depth")]
    [InlineData("disk.io", "KiBy/min", "counter", "disk_io_kibibytes_per_minute_total")]
    public void Names_follow_the_opentelemetry_to_prometheus_rules(string name, string? unit, string type, string expected) =>
        Assert.Equal(expected, PrometheusNames.MetricName(name, unit, Enum.Parse<PrometheusType>(type, ignoreCase: true)));

    [Fact]
    public void Label_values_are_escaped_and_tag_names_sanitized()
    {
        using var meter = new Meter("BlockSwarm.Test");
        var c = meter.CreateCounter<long>("blockswarm.events", null, "Events, \"quoted\" \\ and\nwrapped.");
        using var exporter = new PrometheusExporter([meter]);
        c.Add(1, new KeyValuePair<string, object?>("host.name", "a\\b \"c\"\nd"), new KeyValuePair<string, object?>("port", 6881));
        var text = exporter.Collect();
        Assert.Contains("# HELP blockswarm_events_total Events, \"quoted\" \\\\ and\\nwrapped.\n", text);
        Assert.Contains("blockswarm_events_total{host_name=\"a\\\\b \\\"c\\\"\\nd\",port=\"6881\"} 1\n", text);
    }

    [Fact]
    public void Only_the_given_meter_instances_are_exported_even_with_the_same_name()
    {
        using var mine = new Meter("BlockSwarm.Engine");
        using var other = new Meter("BlockSwarm.Engine");
        var a = mine.CreateCounter<long>("blockswarm.engine.pieces", "{piece}", "Pieces.");
        var b = other.CreateCounter<long>("blockswarm.engine.pieces", "{piece}", "Pieces.");
        using var exporter = new PrometheusExporter([mine]);
        a.Add(2);
        b.Add(40);
        Assert.Contains("blockswarm_engine_pieces_total 2\n", exporter.Collect());

        // Instruments created after the meter was added are exported too; a removed meter leaves the output.
        var late = mine.CreateObservableGauge("blockswarm.engine.peers", () => 3, "{peer}", "Peers.");
        Assert.Contains("blockswarm_engine_peers 3\n", exporter.Collect());
        exporter.AddMeter(other);
        b.Add(1);
        Assert.Contains("blockswarm_engine_pieces_total 3\n", exporter.Collect()); // one family: 2 + 1 added up
        Assert.True(exporter.RemoveMeter(mine));
        Assert.False(exporter.RemoveMeter(mine));
        var text = exporter.Collect();
        Assert.Contains("blockswarm_engine_pieces_total 1\n", text);
        Assert.DoesNotContain("blockswarm_engine_peers", text);
    }

    [Fact]
    public void A_disposed_meter_leaves_the_output()
    {
        var meter = new Meter("BlockSwarm.Test");
        var c = meter.CreateCounter<long>("blockswarm.gone", null, "Gone.");
        using var exporter = new PrometheusExporter([meter]);
        c.Add(1);
        Assert.Contains("blockswarm_gone_total 1", exporter.Collect());
        meter.Dispose();
        Assert.DoesNotContain("blockswarm_gone", exporter.Collect());
    }

    [Fact]
    public void Families_once_in_name_order_meter_tags_as_labels_and_equal_series_added_up()
    {
        using var engine1 = new Meter("BlockSwarm.Engine", null, [new("torrent", "aaaa")]);
        using var engine2 = new Meter("BlockSwarm.Engine", null, [new("torrent", "bbbb")]);
        using var exporter = new PrometheusExporter([engine2, engine1]);
        engine2.CreateCounter<long>("zeta", null, "Z.").Add(1);
        engine1.CreateCounter<long>("zeta", null, "Z.").Add(2);
        engine1.CreateCounter<long>("alpha", null, "A.").Add(3);
        var lines = Lines(exporter.Collect());
        Assert.Equal(
        [
            "# HELP alpha_total A.",
            "# TYPE alpha_total counter",
            "alpha_total{torrent=\"aaaa\"} 3",
            "# HELP zeta_total Z.",
            "# TYPE zeta_total counter",
            "zeta_total{torrent=\"aaaa\"} 2",
            "zeta_total{torrent=\"bbbb\"} 1",
        ], lines);
        Assert.Equal(exporter.Collect(), exporter.Collect());
    }

    [Fact]
    public void Tags_in_another_order_are_the_same_series_and_the_series_count_is_capped()
    {
        using var meter = new Meter("BlockSwarm.Test");
        var c = meter.CreateCounter<long>("blockswarm.peer.blocks", null, "Blocks.");
        using var exporter = new PrometheusExporter([meter], new PrometheusExporterOptions { MaxSeriesPerInstrument = 3 });
        c.Add(1, new("a", 1), new("b", "x"));
        c.Add(1, new("b", "x"), new("a", 1));
        for (int i = 0; i < 10; i++) c.Add(1, new KeyValuePair<string, object?>("peer", i));
        var text = exporter.Collect();
        Assert.Contains("blockswarm_peer_blocks_total{a=\"1\",b=\"x\"} 2\n", text);
        Assert.Contains("blockswarm_peer_blocks_total{peer=\"0\"} 1\n", text);
        Assert.Contains("blockswarm_peer_blocks_total{peer=\"1\"} 1\n", text);
        Assert.DoesNotContain("peer=\"2\"", text);
        Assert.Contains("blockswarm_peer_blocks_total{otel_metric_overflow=\"true\"} 8\n", text);
    }

    [Fact]
    public async Task Recording_from_many_threads_while_scraping_loses_nothing()
    {
        using var meter = new Meter("BlockSwarm.Test");
        var bytes = meter.CreateCounter<long>("blockswarm.bytes", "By", "Bytes.");
        var rate = meter.CreateCounter<double>("blockswarm.work", "s", "Work.");
        var sizes = meter.CreateHistogram<long>("blockswarm.sizes", "By", "Sizes.");
        using var exporter = new PrometheusExporter([meter]);
        using var stop = new CancellationTokenSource();
        var scraper = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested) exporter.Collect();
        }, TestContext.Current.CancellationToken);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 50_000; i++)
            {
                bytes.Add(16384);
                rate.Add(0.5, new KeyValuePair<string, object?>("thread", t % 2));
                sizes.Record(16384);
            }
        }, TestContext.Current.CancellationToken)));
        await stop.CancelAsync();
        await scraper;
        var text = exporter.Collect();
        Assert.Contains($"blockswarm_bytes_total {4L * 50_000 * 16384}\n", text);
        Assert.Contains("blockswarm_work_seconds_total{thread=\"0\"} 50000\n", text);
        Assert.Contains("blockswarm_work_seconds_total{thread=\"1\"} 50000\n", text);
        Assert.Contains("blockswarm_sizes_bytes_count 200000\n", text);
        Assert.Contains("blockswarm_sizes_bytes_bucket{le=\"16384\"} 200000\n", text);
    }

    [Fact]
    public void Output_passes_promtool_check_metrics()
    {
        using var meter = new Meter("BlockSwarm.Test", null, [new("server", "lab \"1\"")]);
        meter.CreateCounter<long>("blockswarm.sent", "By", "Bytes sent.").Add(5, new KeyValuePair<string, object?>("peer", "10.0.0.1:6881"));
        meter.CreateObservableGauge("blockswarm.peers", () => 4, "{peer}", "Peers.");
        meter.CreateHistogram<double>("blockswarm.hash.duration", "s", "Hash time.").Record(0.02);
        meter.CreateUpDownCounter<long>("blockswarm.queue.depth", "{item}", "Queue depth\nper disk.").Add(3);
        using var exporter = new PrometheusExporter([meter]);
        var text = exporter.Collect();
        var r = Promtool.CheckMetrics(text);
        Assert.True(r.ExitCode == 0, $"promtool: {r.StdOut}{r.StdErr}\n{text}");
    }
}
