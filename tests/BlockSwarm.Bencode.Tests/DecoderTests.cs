using System.Text;
using BlockSwarm.Bencode;

namespace BlockSwarm.Bencode.Tests;

public sealed class DecoderTests
{
    private static BValue D(string s, BencodeOptions? o = null) => BencodeDecoder.Decode(Encoding.Latin1.GetBytes(s), o);

    private static BencodeException Bad(string s, BencodeOptions? o = null) => Assert.Throws<BencodeException>(() => D(s, o));

    [Theory]
    [InlineData("i0e", 0L)]
    [InlineData("i42e", 42L)]
    [InlineData("i-42e", -42L)]
    [InlineData("i9223372036854775807e", long.MaxValue)]
    [InlineData("i-9223372036854775808e", long.MinValue)]
    public void Integers(string input, long expected) => Assert.Equal(expected, ((BInteger)D(input)).Value);

    [Theory]
    [InlineData("i03e", "leading zero", 0)]
    [InlineData("i-0e", "negative zero", 0)]
    [InlineData("ie", "no digits", 0)]
    [InlineData("i-e", "no digits", 0)]
    [InlineData("i12", "unterminated", 0)]
    [InlineData("i1.5e", "unexpected byte", 2)]
    [InlineData("i9223372036854775808e", "overflows", 0)]
    [InlineData("i-9223372036854775809e", "overflows", 0)]
    [InlineData("i99999999999999999999999e", "overflows", 0)]
    public void Bad_integers_name_problem_and_offset(string input, string problem, long offset)
    {
        var ex = Bad(input);
        Assert.Contains(problem, ex.Message);
        Assert.Equal(offset, ex.Offset);
    }

    [Fact]
    public void Strings_slice_input()
    {
        var s = (BString)D("4:spam");
        Assert.Equal("spam", s.Text);
        Assert.Equal("", ((BString)D("0:")).Text);
    }

    [Theory]
    [InlineData("05:hello", "leading zero")]
    [InlineData("5:hell", "past the end")]
    [InlineData("5hello", "expected ':'")]
    [InlineData("99999999999:x", "exceeds the limit")]
    [InlineData("3", "unterminated")]
    public void Bad_strings(string input, string problem) => Assert.Contains(problem, Bad(input).Message);

    [Fact]
    public void String_cap_is_configurable()
    {
        var o = BencodeOptions.Strict with { MaxStringLength = 3 };
        Assert.Contains("exceeds", Bad("4:spam", o).Message);
        Assert.Equal("spa", ((BString)D("3:spa", o)).Text);
    }

    [Fact]
    public void Dictionaries_require_sorted_unique_keys()
    {
        var d = (BDictionary)D("d1:ai1e1:bi2ee");
        Assert.Equal(2, d.Count);
        var ex = Bad("d1:bi1e1:ai2ee");
        Assert.Contains("out of order", ex.Message);
        Assert.Equal(7, ex.Offset);
        Assert.Contains("duplicate", Bad("d1:ai1e1:ai2ee").Message);
        Assert.Contains("duplicate", Bad("d1:ai1e1:ai2ee", BencodeOptions.Lenient).Message);
        Assert.Equal(2, ((BDictionary)D("d1:bi1e1:ai2ee", BencodeOptions.Lenient)).Count);
        Assert.Contains("key must be a string", Bad("di1ei2ee").Message);
    }

    [Fact]
    public void Raw_byte_key_order_not_text_order()
    {
        // 'Z' (0x5a) sorts before 'a' (0x61) in raw bytes.
        Assert.Equal(2, ((BDictionary)D("d1:Zi1e1:ai2ee")).Count);
        Bad("d1:ai1e1:Zi2ee");
    }

    [Fact]
    public void Trailing_bytes_rejected()
    {
        var ex = Bad("i1ei2e");
        Assert.Contains("trailing", ex.Message);
        Assert.Equal(3, ex.Offset);
    }

    [Fact]
    public void Depth_limit()
    {
        var deep = new string('l', 65) + new string('e', 65);
        Assert.Contains("nesting", Bad(deep).Message);
        var ok = new string('l', 64) + new string('e', 64);
        Assert.IsType<BList>(D(ok));
    }

    [Theory]
    [InlineData("", "end of input")]
    [InlineData("l", "unterminated list")]
    [InlineData("d", "unterminated dictionary")]
    [InlineData("d1:a", "end of input")]
    [InlineData("x", "unexpected byte")]
    public void Truncated_or_garbage(string input, string problem) => Assert.Contains(problem, Bad(input).Message);

    [Fact]
    public void Source_ranges_point_at_raw_bytes()
    {
        var bytes = Encoding.ASCII.GetBytes("d4:infod4:name1:xee");
        var d = BencodeDecoder.DecodeDictionary(bytes);
        var info = d.Require<BDictionary>("info");
        Assert.Equal("d4:name1:xe", Encoding.ASCII.GetString(bytes.AsSpan()[info.SourceRange]));
    }

    [Fact]
    public void Require_names_missing_and_mistyped_keys()
    {
        var d = (BDictionary)D("d1:ai1ee");
        Assert.Contains("missing required key 'b'", Assert.Throws<BencodeException>(() => d.Require<BInteger>("b")).Message);
        Assert.Contains("key 'a' must be a string", Assert.Throws<BencodeException>(() => d.Require<BString>("a")).Message);
    }

    [Fact]
    public void Decode_prefix_reports_consumed()
    {
        var v = BencodeDecoder.DecodePrefix(Encoding.ASCII.GetBytes("d1:ai1eeXYZ"), out int used);
        Assert.IsType<BDictionary>(v);
        Assert.Equal(8, used);
    }
}
