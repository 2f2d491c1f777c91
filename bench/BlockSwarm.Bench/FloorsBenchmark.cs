using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using BlockSwarm.Testing;

namespace BlockSwarm.Bench;

/// <summary>
/// <c>floors</c>: what moving and checking 1 GiB costs on this machine with nothing of BlockSwarm in the way,
/// so the transfer benchmark's CPU-s/GiB can be read against a floor rather than against zero:
/// a loopback TCP pump (one sender thread, one receiver thread, blocking sockets, in a private network
/// namespace) with 16 KiB vs 256 KiB writes; SHA-1 over 1 GiB in memory (.NET one thread) and
/// <c>sha1sum</c> over the page-cached image; 4 MiB pwrites of 1 GiB into a fresh tmpfs file; and the
/// start-up CPU of <c>blockswarm --help</c> for each CLI build given with <c>--cli</c>.
/// CPU is the process's user + system time (rusage) around the measured work only; medians of <c>--reps</c>.
/// </summary>
public static class FloorsBenchmark
{
    private const long GiB = 1L << 30;

    public static int Run(string[] args, TextWriter log)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        if (Environment.GetEnvironmentVariable(TransferBenchmark.NetnsVariable) != "1") return TransferBenchmark.ReexecInNetns(args);
        int reps = int.Parse(Option("--reps") ?? "3", CultureInfo.InvariantCulture);
        string tmpfs = Option("--tmpfs") ?? "/dev/shm/blockswarm-bench";
        string image = Option("--image") ?? "/tmp/blockswarm-bench/transfer/seed-1024M.img";
        var clis = new List<string>();
        for (int i = 0; i < args.Length - 1; i++)
            if (args[i] == "--cli") clis.Add(Path.GetFullPath(args[i + 1]));
        if (clis.Count == 0) clis.AddRange(new[] { Path.Combine(AppContext.BaseDirectory, "blockswarm.dll"), TransferBenchmark.DefaultCli }.Distinct());

        Exec.Run("ip", "link", "set", "lo", "up");
        log.WriteLine($"machine  {Environment.ProcessorCount} cores, .NET {Environment.Version}, load {File.ReadAllText("/proc/loadavg").Trim()}");
        log.WriteLine($"{"floor",-52} {"wall s",7} {"GB/s",6} {"CPU-s/GiB",9} {"user",6} {"sys",6}   (medians of {reps})");

        void Row(string name, Func<(double Wall, double User, double Sys)> run, long bytes = GiB)
        {
            var samples = Enumerable.Range(0, reps).Select(_ => run()).ToList();
            double wall = Median(samples.Select(s => s.Wall)), user = Median(samples.Select(s => s.User)), sys = Median(samples.Select(s => s.Sys));
            double cpu = Median(samples.Select(s => s.User + s.Sys));
            double per = GiB / (double)bytes;
            log.WriteLine($"{name,-52} {wall,7:0.000} {bytes / wall / 1e9,6:0.00} {cpu * per,9:0.00} {user * per,6:0.00} {sys * per,6:0.00}");
        }

        foreach (int write in new[] { 16 << 10, 256 << 10 })
            foreach (int sockBuf in new[] { 0, 4 << 20 })
                Row($"tcp loopback, {write >> 10} KiB writes, 64 KiB reads, sockbuf {(sockBuf == 0 ? "default" : $"{sockBuf >> 20} MiB")}",
                    () => Measure(() => Pump(write, 64 << 10, sockBuf)));
        Row("tcp loopback, 256 KiB writes, 256 KiB reads, sockbuf 4 MiB", () => Measure(() => Pump(256 << 10, 256 << 10, 4 << 20)));

        var data = new byte[GiB];
        RandomNumberGenerator.Fill(data.AsSpan(0, 64 << 20));
        for (long o = 64 << 20; o < GiB; o += 64 << 20) data.AsSpan(0, 64 << 20).CopyTo(data.AsSpan((int)o));
        Row("SHA1.HashData, 1 thread, 4 MiB pieces, in memory", () => Measure(() =>
        {
            var hash = new byte[20];
            for (long o = 0; o < GiB; o += 4 << 20) SHA1.HashData(data.AsSpan((int)o, 4 << 20), hash);
        }));
        Row("memcpy 16 KiB blocks (one user copy of 1 GiB)", () => Measure(() =>
        {
            var dst = new byte[4 << 20];
            for (long o = 0; o < GiB; o += 16 << 10) data.AsSpan((int)o, 16 << 10).CopyTo(dst.AsSpan((int)(o & ((4 << 20) - 1))));
        }));
        if (File.Exists(image))
        {
            long imageBytes = new FileInfo(image).Length;
            Row($"sha1sum {Path.GetFileName(image)} (page cache; process)", () => Child("sha1sum", [image]), imageBytes);
            Row($"pread 4 MiB runs of {Path.GetFileName(image)} (page cache)", () =>
            {
                using var handle = File.OpenHandle(image, FileMode.Open, FileAccess.Read);
                var buffer = new byte[4 << 20];
                return Measure(() =>
                {
                    for (long o = 0; o < imageBytes; o += buffer.Length) RandomAccess.Read(handle, buffer, o);
                });
            }, imageBytes);
        }

        Directory.CreateDirectory(tmpfs);
        string target = Path.Combine(tmpfs, "floor.img");
        Row("pwrite 4 MiB x 256 into a new tmpfs file", () =>
        {
            File.Delete(target);
            using var handle = File.OpenHandle(target, FileMode.CreateNew, FileAccess.Write);
            var r = Measure(() =>
            {
                for (long o = 0; o < GiB; o += 4 << 20) RandomAccess.Write(handle, data.AsSpan((int)o, 4 << 20), o);
            });
            return r;
        });
        Row("pwrite 4 MiB x 256 over the same tmpfs file (pages exist)", () =>
        {
            using var handle = File.OpenHandle(target, FileMode.Open, FileAccess.Write);
            return Measure(() =>
            {
                for (long o = 0; o < GiB; o += 4 << 20) RandomAccess.Write(handle, data.AsSpan((int)o, 4 << 20), o);
            });
        });
        File.Delete(target);

        log.WriteLine();
        log.WriteLine($"{"start-up: `blockswarm --help` (one process)",-52} {"wall s",7} {"",6} {"CPU-s",9} {"user",6} {"sys",6}");
        foreach (var cli in clis)
        {
            var (file, arguments) = CliCommand.For(cli, ["--help"]);
            var samples = Enumerable.Range(0, reps).Select(_ => Child(file, [.. arguments])).ToList();
            string name = Path.GetRelativePath(Environment.CurrentDirectory, cli);
            log.WriteLine($"{(name.Length > 52 ? "…" + name[^51..] : name),-52} {Median(samples.Select(s => s.Wall)),7:0.000} {"",6} {Median(samples.Select(s => s.User + s.Sys)),9:0.00} {Median(samples.Select(s => s.User)),6:0.00} {Median(samples.Select(s => s.Sys)),6:0.00}");
        }
        return 0;
    }

    /// <summary>Wall, user and system seconds of this process around <paramref name="work"/> (all its threads).</summary>
    private static (double Wall, double User, double Sys) Measure(Action work)
    {
        GC.Collect();
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        TimeSpan u0 = self.UserProcessorTime, s0 = self.PrivilegedProcessorTime;
        var sw = Stopwatch.StartNew();
        work();
        sw.Stop();
        self.Refresh();
        return (sw.Elapsed.TotalSeconds, (self.UserProcessorTime - u0).TotalSeconds, (self.PrivilegedProcessorTime - s0).TotalSeconds);
    }

    /// <summary>1 GiB from a sender thread to a receiver thread over 127.0.0.1, blocking calls of the given sizes.</summary>
    private static void Pump(int writeSize, int readSize, int socketBuffer)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (socketBuffer > 0)
        {
            client.SendBufferSize = socketBuffer;
            client.ReceiveBufferSize = socketBuffer;
        }
        client.NoDelay = true;
        client.Connect(listener.LocalEndPoint!);
        using var server = listener.Accept();
        if (socketBuffer > 0)
        {
            server.SendBufferSize = socketBuffer;
            server.ReceiveBufferSize = socketBuffer;
        }
        var receiver = new Thread(() =>
        {
            var buffer = new byte[readSize];
            long got = 0;
            while (got < GiB)
            {
                int n = server.Receive(buffer);
                if (n == 0) throw new IOException("pump: early end of stream");
                got += n;
            }
        });
        receiver.Start();
        var block = new byte[writeSize];
        RandomNumberGenerator.Fill(block);
        for (long sent = 0; sent < GiB; sent += writeSize) client.Send(block);
        receiver.Join();
    }

    /// <summary>Runs a program to completion under GNU time: wall, user, system seconds.</summary>
    private static (double Wall, double User, double Sys) Child(string file, string[] args)
    {
        using var p = RunningProcess.Start(new ProcessSpec(file, args) { MeasureUsage = true });
        p.WaitForExit(TimeSpan.FromMinutes(30));
        p.Result.EnsureSuccess();
        var usage = p.Usage();
        return (p.WallTime.TotalSeconds, usage.UserSeconds, usage.SystemSeconds);
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
