using BlockSwarm.Testing;

namespace BlockSwarm.Clonezilla.Tests.Images;

public sealed class SwapSignatureTests
{
    [Theory]
    [InlineData("5a5a5a5a-1111-2222-3333-444444444444", "swapper", 8L << 20)]
    [InlineData("00112233-4455-6677-8899-aabbccddeeff", "", 1L << 20)]
    [InlineData("0e0e0e0e-0000-4000-8000-123456789abc", "a-label-of-20-chars!", 3L << 20)]
    [Requires("mkswap")]
    public void The_page_equals_what_mkswap_writes(string uuid, string label, long size)
    {
        using var dir = new TempDirectory("swap");
        // A file starts all 0xA5, so every byte mkswap writes (zeros included) shows.
        var file = dir.File("swap.img");
        var fill = new byte[size];
        Array.Fill(fill, (byte)0xA5);
        File.WriteAllBytes(file, fill);
        var args = new List<string> { "-U", uuid };
        if (label.Length > 0) args.AddRange(["-L", label]);
        Tool.Run("mkswap", [.. args, file]);
        var written = File.ReadAllBytes(file);
        Assert.Equal(Convert.ToHexString(written, 0, SwapSignature.PageSize),
            Convert.ToHexString(SwapSignature.Create(size, Guid.Parse(uuid), label)));
        Assert.All(written.Skip(SwapSignature.PageSize), b => Assert.Equal(0xA5, b));
    }

    [Fact]
    public void A_partition_too_small_for_mkswap_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => SwapSignature.Create(9 * SwapSignature.PageSize, Guid.NewGuid(), ""));
}
