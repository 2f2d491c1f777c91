using BlockSwarm.Deploy.Client;
using BlockSwarm.Ezio.Api;
using BlockSwarm.Metainfo;
using BlockSwarm.Testing;
using Google.Protobuf;
using Grpc.Core;

namespace BlockSwarm.Ezio.Tests;

/// <summary>Every refusal is a gRPC status code with a message that names the problem; nothing is opened or written.</summary>
public sealed class EzioRefusalTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<RpcException> RefusedAsync(DaemonHarness d, AddRequest request) =>
        await Assert.ThrowsAsync<RpcException>(async () => await d.Client.AddTorrentAsync(request, cancellationToken: Ct));

    [Fact]
    public async Task Malformed_torrents_bad_save_paths_and_unknown_hashes_get_clear_status_codes()
    {
        using var dir = new TempDirectory("ezio-refusals");
        var (img, t) = TestImages.Make(dir, "sda2", 61, 8 << 20, 64 << 10, tracker: null);
        var bytes = ByteString.CopyFrom(t.Raw.Span);
        await using var d = await DaemonHarness.StartAsync("127.0.0.83", dir);

        var e = await RefusedAsync(d, new AddRequest { Torrent = ByteString.CopyFromUtf8("not a torrent"), SavePath = img });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith("malformed torrent", e.Status.Detail, StringComparison.Ordinal);

        e = await RefusedAsync(d, new AddRequest { Torrent = bytes, SavePath = "" });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("save_path is empty", e.Status.Detail, StringComparison.Ordinal);

        e = await RefusedAsync(d, new AddRequest { Torrent = bytes, SavePath = dir.File("no-such-disk") });
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Contains("does not exist", e.Status.Detail, StringComparison.Ordinal);

        e = await RefusedAsync(d, new AddRequest { Torrent = bytes, SavePath = dir.Path });
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("is a directory", e.Status.Detail, StringComparison.Ordinal);

        // The deploy target guard's size check: a target smaller than the image's last extent.
        var small = dir.File("small.img");
        using (var f = File.Create(small)) f.SetLength(1 << 20);
        e = await RefusedAsync(d, new AddRequest { Torrent = bytes, SavePath = small });
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("bytes but the image needs", e.Status.Detail, StringComparison.Ordinal);

        // A plain multi-file torrent has no offsets: it needs -F.
        var plain = new TorrentBuilder("release", 16 << 10) { PieceHashes = new byte[20] };
        plain.AddFile(["a.bin"], 1000);
        e = await RefusedAsync(d, new AddRequest { Torrent = ByteString.CopyFrom(plain.Build().Raw.Span), SavePath = img });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("-F", e.Status.Detail, StringComparison.Ordinal);

        var p = await Assert.ThrowsAsync<RpcException>(async () => await d.Client.PauseTorrentAsync(new PauseTorrentRequest { Hash = "xyz" }, cancellationToken: Ct));
        Assert.Equal(StatusCode.InvalidArgument, p.StatusCode);
        p = await Assert.ThrowsAsync<RpcException>(async () => await d.Client.ResumeTorrentAsync(new ResumeTorrentRequest { Hash = t.InfoHash.ToHex() }, cancellationToken: Ct));
        Assert.Equal(StatusCode.NotFound, p.StatusCode);

        // Nothing was added by any of these; an unknown hash in a status request is simply absent.
        var status = await d.Client.GetTorrentStatusAsync(new UpdateRequest(), cancellationToken: Ct);
        Assert.Empty(status.Hashes);
        Assert.Empty((await d.Client.GetTorrentStatusAsync(new UpdateRequest { Hashes = { t.InfoHash.ToHex() } }, cancellationToken: Ct)).Torrents);
        Assert.Equal(EzioVersion.Text, (await d.Client.GetVersionAsync(new Empty(), cancellationToken: Ct)).Version);
        Assert.Equal(6, d.Logs.Named("AddRefused").Count);
    }

    [Fact]
    public async Task A_target_without_O_DIRECT_is_refused_when_the_daemon_must_write_direct_and_written_buffered_by_default()
    {
        using var dir = new TempDirectory("ezio-write-mode");
        using var shm = TempDirectory.OnTmpfs("ezio-write-mode");
        var (img, t) = TestImages.Make(dir, "sda3", 63, 8 << 20, 64 << 10, tracker: null);
        var bytes = ByteString.CopyFrom(t.Raw.Span);
        var target = TestImages.BlankLike(shm, img, "sda3.img");

        await using (var strict = await DaemonHarness.StartAsync("127.0.0.85", dir, o => o with { WriteMode = Engine.Storage.WriteMode.Direct }))
        {
            var e = await RefusedAsync(strict, new AddRequest { Torrent = bytes, SavePath = target });
            Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
            Assert.Contains($"{target}: cannot write with O_DIRECT: tmpfs keeps files in memory", e.Status.Detail, StringComparison.Ordinal);
        }

        await using var d = await DaemonHarness.StartAsync("127.0.0.86", dir);
        Assert.True((await d.Client.AddTorrentAsync(new AddRequest { Torrent = bytes, SavePath = target }, cancellationToken: Ct)).Result);
        var said = Assert.Single(d.Logs.Named("WritingBuffered"));
        Assert.Contains(target, said.Message, StringComparison.Ordinal);
        Assert.Empty(d.Logs.Named("WritingDirect"));
    }

    [Fact]
    [Requires(Need.LoopDevice, "mkfs.ext4", "mount")]
    public async Task A_mounted_disk_is_refused_by_the_deploy_target_guard()
    {
        using var dir = new TempDirectory("ezio-mounted");
        var (_, t) = TestImages.Make(dir, "sdb1", 62, 8 << 20, 64 << 10, tracker: null);
        var fs = FsImage.Ext4(dir.File("fs.img"), 32 << 20);
        using var loop = LoopDevice.Attach(fs);
        var mountPoint = Directory.CreateDirectory(dir.File("mnt")).FullName;
        Tool.Run("mount", loop.Path, mountPoint);
        try
        {
            await using var d = await DaemonHarness.StartAsync("127.0.0.84", dir, o => o with { Guard = new TargetGuard() });
            var e = await RefusedAsync(d, new AddRequest { Torrent = ByteString.CopyFrom(t.Raw.Span), SavePath = loop.Path });
            Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
            Assert.Contains("mounted", e.Status.Detail, StringComparison.Ordinal);
        }
        finally
        {
            Tool.Run("umount", [mountPoint], check: false);
        }
    }
}
