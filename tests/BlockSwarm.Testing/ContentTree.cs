namespace BlockSwarm.Testing;

/// <summary>Deterministic file trees to put into filesystem images (the same seed gives the same bytes on every machine).</summary>
public static class ContentTree
{
    /// <summary>Writes each file (a relative path, subdirectories made as needed) with seeded random bytes; returns <paramref name="root"/>.</summary>
    public static string Random(string root, int seed, params IEnumerable<(string Path, int Bytes)> files)
    {
        Directory.CreateDirectory(root);
        var rng = new Random(seed);
        foreach (var (path, bytes) in files)
        {
            var full = Path.Combine(root, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            var data = new byte[bytes];
            rng.NextBytes(data);
            File.WriteAllBytes(full, data);
        }
        return root;
    }

    /// <summary>
    /// Writes each file with seeded text-like bytes: lines of a counter, a hex number and words drawn from a made-up
    /// vocabulary of 4096 words with a Zipf-like skew (a few words are everywhere, most are rare), the way logs, source
    /// and documents repeat themselves. Compresses about 3× with zstd -3 or gzip, where random bytes do not compress.
    /// </summary>
    public static string Text(string root, int seed, params IEnumerable<(string Path, long Bytes)> files)
    {
        Directory.CreateDirectory(root);
        var rng = new Random(seed);
        var words = new byte[4096][];
        for (int i = 0; i < words.Length; i++)
        {
            var w = new byte[2 + rng.Next(11)];
            for (int j = 0; j < w.Length; j++) w[j] = (byte)('a' + rng.Next(26));
            words[i] = w;
        }
        // A uniform 16-bit draw → word index, in proportion to 1/(rank+1): the common words fill most of the table.
        var pick = new ushort[1 << 16];
        double total = 0;
        for (int i = 0; i < words.Length; i++) total += 1.0 / (i + 1);
        double acc = 0;
        int k = 0;
        for (int i = 0; i < words.Length && k < pick.Length; i++)
        {
            acc += 1.0 / (i + 1) / total;
            for (int end = (int)Math.Min(pick.Length, Math.Round(acc * pick.Length)); k < end; k++) pick[k] = (ushort)i;
        }
        for (; k < pick.Length; k++) pick[k] = (ushort)(words.Length - 1);

        var buffer = new byte[1 << 20];
        long line = 0;
        foreach (var (path, bytes) in files)
        {
            var full = Path.Combine(root, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            using var f = new FileStream(full, FileMode.Create, FileAccess.Write, FileShare.None, 1);
            for (long written = 0; written < bytes;)
            {
                int at = 0;
                while (at < buffer.Length - 256)
                {
                    at += Ascii(buffer.AsSpan(at), $"{line++:D8} {rng.Next():x8}");
                    for (int n = 4 + rng.Next(12); n > 0; n--)
                    {
                        buffer[at++] = (byte)' ';
                        var w = words[pick[rng.Next(pick.Length)]];
                        w.CopyTo(buffer, at);
                        at += w.Length;
                    }
                    buffer[at++] = (byte)'.';
                    buffer[at++] = (byte)'\n';
                }
                int take = (int)Math.Min(at, bytes - written);
                f.Write(buffer, 0, take);
                written += take;
            }
        }
        return root;

        static int Ascii(Span<byte> to, string s) => System.Text.Encoding.ASCII.GetBytes(s, to);
    }

    /// <summary>
    /// Copies regular files of this machine's /usr (real binaries, libraries, scripts, text; no symlinks, nothing empty or
    /// over 64 MiB) into <paramref name="root"/> in path order until <paramref name="budget"/> bytes. With
    /// <paramref name="spread"/> it takes every k-th file instead (k = /usr's bytes ÷ the budget), so a small budget still
    /// samples all of /usr (bin, include, lib, share) with its mix of file sizes rather than its first directories, and
    /// leaves out files over budget/64, so that no single file is a large part of a small tree. Deterministic for one /usr.
    /// </summary>
    public static (int Files, long Bytes) FromUsr(string root, long budget, bool spread = false)
    {
        long largest = spread ? Math.Clamp(budget / 64, 1 << 20, 64 << 20) : 64 << 20;
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        var candidates = Directory.EnumerateFiles("/usr", "*", options).Order(StringComparer.Ordinal).Select(f => new FileInfo(f))
            .Where(info => info.LinkTarget == null && info.Length > 0 && info.Length <= largest).ToList();
        double share = spread ? Math.Min(1.0, budget / (double)Math.Max(1, candidates.Sum(i => i.Length))) : 1.0;
        long copied = 0;
        int files = 0;
        for (int i = 0; i < candidates.Count && copied < budget; i++)
        {
            if (Math.Floor((i + 1) * share) == Math.Floor(i * share)) continue;
            var info = candidates[i];
            var target = Path.Combine(root, Path.GetRelativePath("/usr", info.FullName));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            try { File.Copy(info.FullName, target); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { continue; }
            copied += info.Length;
            files++;
        }
        return (files, copied);
    }

    /// <summary>Every file under <paramref name="expected"/> exists under <paramref name="actual"/> with the same bytes; returns how many.</summary>
    public static int AssertContained(string expected, string actual)
    {
        int files = 0;
        foreach (string path in Directory.EnumerateFiles(expected, "*", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(expected, path);
            string other = Path.Combine(actual, rel);
            Assert.True(File.Exists(other), $"{rel} is missing from the copy");
            Assert.True(File.ReadAllBytes(path).AsSpan().SequenceEqual(File.ReadAllBytes(other)), $"{rel} differs in the copy");
            files++;
        }
        return files;
    }

    /// <summary>The two trees hold the same file names with the same bytes.</summary>
    public static void AssertEqual(string expected, string actual)
    {
        var want = Directory.GetFiles(expected, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(expected, f)).Order(StringComparer.Ordinal).ToList();
        var got = Directory.GetFiles(actual, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(actual, f)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(want, got);
        AssertContained(expected, actual);
    }
}
