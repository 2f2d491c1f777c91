using BlockSwarm.Bench;

// blockswarm-bench create [--cache DIR] [--reps N]
// blockswarm-bench scan [--cache DIR] [--reps N]
// blockswarm-bench partclone [--reps N] [--cache DIR] [--codecs all|zstd -3,pigz,...]
// blockswarm-bench many [--torrents N] [--size-mib N] [--cache SIZE] [--cli PATH]
// blockswarm-bench floors [--reps N] [--tmpfs DIR] [--image IMG] [--cli PATH]...
// blockswarm-bench clonezilla [--reps N] [--cache DIR] [--tmpfs DIR] [--cli PATH] [--only create,ready,fetch,lab] [--lab-clients N] [--lab-rate-mbit R] [--lab-reps N]
// blockswarm-bench disk [--reps N] [--size-mib N] [--target-dir DIR] [--source-dir DIR] [--piece-size SIZE] [--cli PATH] [--only a,b] [--variant LABEL=PATH[;VAR=VALUE...][;args=...]]...
// blockswarm-bench transfer [--reps N] [--size-mib N] [--dir DIR] [--tmpfs DIR] [--only a,b] [--targets tmpfs,disk] [--extras no] [--cli PATH] [--variant LABEL=PATH[;VAR=VALUE...]]...
string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

switch (args.FirstOrDefault())
{
    case "create":
        return CreateBenchmark.Run(Option("--cache") ?? "/tmp/blockswarm-bench", int.Parse(Option("--reps") ?? "3", System.Globalization.CultureInfo.InvariantCulture), Console.Out);
    case "transfer":
        return TransferBenchmark.Run(args, Console.Out);
    case "disk":
        return DiskBenchmark.Run(args, Console.Out);
    case "many":
        return ManyTorrentsBenchmark.Run(args, Console.Out);
    case "floors":
        return FloorsBenchmark.Run(args, Console.Out);
    case "partclone":
        return PartcloneBenchmark.Run(args, Console.Out);
    case "clonezilla":
        return ClonezillaBenchmark.Run(args, Console.Out);
    case "scan":
        return ScanBenchmark.Run(Option("--cache") ?? "/tmp/blockswarm-bench", int.Parse(Option("--reps") ?? "3", System.Globalization.CultureInfo.InvariantCulture), Console.Out);
    default:
        Console.Error.WriteLine("usage: blockswarm-bench create [--cache DIR (default /tmp/blockswarm-bench)] [--reps N (default 3)]");
        Console.Error.WriteLine("       blockswarm-bench scan [--cache DIR] [--reps N]   (64G sparse ext4/XFS: our scanners vs partclone -c -t)");
        Console.Error.WriteLine("       blockswarm-bench partclone [--reps N (5)] [--cache DIR (/tmp/blockswarm-bench/partclone)] [--codecs all|LABEL,...]");
        Console.Error.WriteLine("                                 (a Clonezilla image read straight from zstd/pigz/...: our decompress+parse+checksum pass vs the native decompressor)");
        Console.Error.WriteLine("       blockswarm-bench clonezilla [--reps N (3)] [--cache DIR (/tmp/blockswarm-bench/clonezilla)] [--tmpfs DIR (/dev/shm/blockswarm-bench-cz)]");
        Console.Error.WriteLine("                                 [--cli PATH/blockswarm[.dll]] [--only create,ready,fetch,lab] [--lab-clients N (4)] [--lab-rate-mbit R (200)] [--lab-reps N (2)]");
        Console.Error.WriteLine("                                 (issue 14 on a 4 GiB GPT disk saved by ocs-sr: first create vs zstd -d / pigz -d, second serve ready,");
        Console.Error.WriteLine("                                 1 → 1 fetch and the swarm lab served from the image directory vs the raw disk image)");
        Console.Error.WriteLine("       blockswarm-bench transfer [--reps N (3)] [--size-mib N (1024)] [--dir DIR (/tmp/blockswarm-bench/transfer)]");
        Console.Error.WriteLine("                                 [--tmpfs DIR (/dev/shm/blockswarm-bench)] [--only blockswarm,libtorrent,aria2c]");
        Console.Error.WriteLine("                                 [--targets tmpfs,disk] [--extras no (skip 1→3 and --cache 128MiB)]");
        Console.Error.WriteLine("                                 [--cli PATH/blockswarm[.dll] (default: the NativeAOT binary in cli/, else the build output)]");
        Console.Error.WriteLine("                                 [--variant LABEL=PATH/blockswarm[.dll][;VAR=VALUE...]]... (more builds/settings, interleaved)");
        Console.Error.WriteLine("       blockswarm-bench disk [--reps N (3)] [--size-mib N (2048)] [--target-dir DIR (/var/tmp/blockswarm-bench-disk: a disk, not tmpfs)]");
        Console.Error.WriteLine("                                 [--source-dir DIR (/dev/shm/blockswarm-bench-disk)] [--piece-size SIZE (4MiB)] [--cli PATH/blockswarm[.dll]]");
        Console.Error.WriteLine("                                 [--only PREFIX,...] [--variant LABEL=PATH[;VAR=VALUE...][;args=--flag ...]]...");
        Console.Error.WriteLine("                                 (seeder on loopback -> fetch to an image file on a real disk, default and buffered, vs dd oflag=direct)");
        Console.Error.WriteLine("       blockswarm-bench many [--torrents N (64)] [--size-mib N (16)] [--cache SIZE (128MiB)] [--cli PATH/blockswarm]");
        Console.Error.WriteLine("                                 (one seed and one fetch process with N torrents each: peak RSS vs the --cache budget)");
        Console.Error.WriteLine("       blockswarm-bench floors [--reps N (3)] [--tmpfs DIR] [--image IMG] [--cli PATH/blockswarm[.dll]]...");
        Console.Error.WriteLine("                                 (loopback TCP pump, SHA-1, tmpfs pwrite, CLI start-up: the floors under transfer)");
        return 2;
}
