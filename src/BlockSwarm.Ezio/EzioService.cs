using BlockSwarm.Devices;
using BlockSwarm.Ezio.Api;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace BlockSwarm.Ezio;

/// <summary>
/// EZIO's gRPC service (<c>ezio.EZIO</c>) over an <see cref="EzioDaemon"/>: each RPC parses, calls the daemon and maps
/// the result. Refusals become status codes with the daemon's message (EZIO answers every failure with UNAVAILABLE;
/// a client that only checks for an error still sees one, and a person sees which): InvalidArgument for a malformed
/// torrent or hash, NotFound for a save path or torrent that does not exist, AlreadyExists for a duplicate add,
/// FailedPrecondition for a target the guard refuses, Unavailable while shutting down, Internal for a failed flush.
/// </summary>
public sealed class EzioService(EzioDaemon daemon, EzioShutdownSignal shutdown) : EZIO.EZIOBase
{
    public override async Task<Empty> Shutdown(Empty request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            await daemon.ShutdownAsync("api").ConfigureAwait(false);
        }
        catch (StorageException ex)
        {
            throw new RpcException(new Status(StatusCode.Internal, ex.Message));
        }
        finally
        {
            // The process stops once this answer is on its way, as EZIO's does after its Shutdown returns.
            context.GetHttpContext().Response.OnCompleted(() =>
            {
                shutdown.Request();
                return Task.CompletedTask;
            });
        }
        return new Empty();
    }

    public override Task<UpdateStatus> GetTorrentStatus(UpdateRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        var reply = new UpdateStatus();
        foreach (var s in daemon.GetStatus(request.Hashes))
        {
            reply.Hashes.Add(s.Hash);
            reply.Torrents[s.Hash] = ToMessage(s);
        }
        return Task.FromResult(reply);
    }

    public override Task<AddResponse> AddTorrent(AddRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        Call(() => daemon.Add(request.Torrent.Memory, request.SavePath, request.SeedingMode, request.MaxUploads, request.MaxConnections,
            request.SequentialDownload));
        return Task.FromResult(new AddResponse { Result = true });
    }

    public override async Task<PauseTorrentResponse> PauseTorrent(PauseTorrentRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        await CallAsync(() => daemon.PauseAsync(request.Hash)).ConfigureAwait(false);
        return new PauseTorrentResponse();
    }

    public override async Task<ResumeTorrentResponse> ResumeTorrent(ResumeTorrentRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        await CallAsync(() => daemon.ResumeAsync(request.Hash)).ConfigureAwait(false);
        return new ResumeTorrentResponse();
    }

    public override Task<VersionResponse> GetVersion(Empty request, ServerCallContext context) =>
        Task.FromResult(new VersionResponse { Version = EzioVersion.Text });

    internal static Api.Torrent ToMessage(TorrentStatus s) => new()
    {
        Hash = s.Hash,
        Name = s.Name,
        Progress = s.Progress,
        DownloadRate = s.DownloadRate,
        UploadRate = s.UploadRate,
        ActiveTime = s.ActiveTime,
        IsFinished = s.IsFinished,
        NumPeers = s.NumPeers,
        State = (long)s.State,
        TotalDone = s.TotalDone,
        Total = s.Total,
        NumPieces = s.NumPieces,
        FinishedTime = s.FinishedTime,
        SeedingTime = s.SeedingTime,
        TotalPayloadDownload = s.TotalPayloadDownload,
        TotalPayloadUpload = s.TotalPayloadUpload,
        IsPaused = s.IsPaused,
        SavePath = s.SavePath,
        LastUpload = s.LastUpload,
        LastDownload = s.LastDownload,
    };

    private static void Call(Action action)
    {
        try
        {
            action();
        }
        catch (DaemonException ex)
        {
            throw ToRpc(ex);
        }
    }

    private static async Task CallAsync(Func<ValueTask> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (DaemonException ex)
        {
            throw ToRpc(ex);
        }
    }

    internal static RpcException ToRpc(DaemonException ex) => new(new Status(ex.Error switch
    {
        DaemonError.InvalidArgument => StatusCode.InvalidArgument,
        DaemonError.NotFound => StatusCode.NotFound,
        DaemonError.AlreadyExists => StatusCode.AlreadyExists,
        DaemonError.FailedPrecondition => StatusCode.FailedPrecondition,
        _ => StatusCode.Unavailable,
    }, ex.Message));
}
