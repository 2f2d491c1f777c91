namespace BlockSwarm.Clonezilla.Tests;

public sealed class FormatExceptionTests
{
    [Fact]
    public void A_format_error_is_an_IOException_the_CLI_reports_as_one_line()
    {
        var ex = new ClonezillaFormatException("sda1.ext4-ptcl-img.zst.ab: truncated at byte 1234");
        Assert.IsAssignableFrom<IOException>(ex);
        Assert.Contains("byte 1234", ex.Message, StringComparison.Ordinal);
    }
}
