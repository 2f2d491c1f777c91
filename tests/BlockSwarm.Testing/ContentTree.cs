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
