using System.Text;

namespace BlockSwarm.Testing;

/// <summary>
/// Deterministic text-like bytes that compress about as OS files do (zstd -3 about 3×): lines of words drawn with a
/// skewed distribution from a seeded vocabulary, with numbers and now and then a short run of random bytes.
/// </summary>
public static class CompressibleData
{
    public static void Fill(Span<byte> destination, int seed)
    {
        var random = new Random(seed);
        var words = new string[4096];
        for (int i = 0; i < words.Length; i++)
        {
            var w = new char[random.Next(2, 12)];
            for (int j = 0; j < w.Length; j++) w[j] = (char)('a' + random.Next(26));
            words[i] = new string(w);
        }
        var line = new StringBuilder();
        int at = 0;
        while (at < destination.Length)
        {
            line.Clear();
            int n = random.Next(4, 16);
            for (int i = 0; i < n; i++)
            {
                // Skewed: small indexes far more often (a few hundred words make most of the text).
                double u = random.NextDouble();
                line.Append(words[(int)(u * u * u * words.Length)]).Append(i % 5 == 4 ? ", " : " ");
                if (random.Next(8) == 0) line.Append(random.Next(100_000)).Append(' ');
            }
            line.Append('\n');
            var bytes = Encoding.ASCII.GetBytes(line.ToString());
            int len = Math.Min(bytes.Length, destination.Length - at);
            bytes.AsSpan(0, len).CopyTo(destination[at..]);
            at += len;
            if (random.Next(64) == 0 && at < destination.Length)
            {
                int r = Math.Min(random.Next(16, 512), destination.Length - at);
                random.NextBytes(destination.Slice(at, r));
                at += r;
            }
        }
    }
}
