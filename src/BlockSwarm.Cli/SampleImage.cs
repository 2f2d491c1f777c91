using System.Diagnostics;

namespace BlockSwarm.Cli;

/// <summary>Builds the demo's sample filesystem: a real ext4 image populated by <c>mkfs.ext4 -d</c> with seeded random files.</summary>
public static class SampleImage
{
    public static async Task<string> BuildExt4Async(string dir, int sizeMiB, CliContext ctx, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (sizeMiB < 32) throw new InvalidOperationException("the sample image needs at least 32 MiB");
        var content = Path.Combine(dir, "sample-content");
        Directory.CreateDirectory(Path.Combine(content, "home", "student"));
        Directory.CreateDirectory(Path.Combine(content, "etc"));
        var rng = new Random(20261125);
        long budget = (long)sizeMiB * 1024 * 1024 * 45 / 100; // fill ~45%: a realistic lab image
        int i = 0;
        var buffer = new byte[1 << 20];
        while (budget > 0)
        {
            long size = Math.Min(budget, (long)(rng.Next(1, 24) << 20));
            var path = Path.Combine(content, "home", "student", $"dataset-{i++:000}.bin");
            await using (var f = new FileStream(path, FileMode.Create, FileAccess.Write))
            {
                for (long done = 0; done < size; done += buffer.Length)
                {
                    rng.NextBytes(buffer);
                    await f.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - done)), cancellationToken).ConfigureAwait(false);
                }
            }
            budget -= size;
        }
        await File.WriteAllTextAsync(Path.Combine(content, "etc", "hostname"), "lab-pc\n", cancellationToken).ConfigureAwait(false);
        var img = Path.Combine(dir, "sample-ext4.img");
        if (File.Exists(img)) File.Delete(img);
        await using (var f = new FileStream(img, FileMode.CreateNew))
            f.SetLength((long)sizeMiB << 20);
        await RunAsync("mkfs.ext4", ["-q", "-F", "-b", "4096", "-L", "sample", "-E", "root_owner=0:0", "-d", content, img], cancellationToken).ConfigureAwait(false);
        Directory.Delete(content, recursive: true);
        return img;
    }

    private static async Task RunAsync(string file, string[] args, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"{file} is not installed (Debian package e2fsprogs): {ex.Message}", ex);
        }
        using (p)
        {
            var err = p.StandardError.ReadToEndAsync(cancellationToken);
            await p.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            await p.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (p.ExitCode != 0) throw new InvalidOperationException($"{file} failed ({p.ExitCode}): {await err.ConfigureAwait(false)}");
        }
    }
}
