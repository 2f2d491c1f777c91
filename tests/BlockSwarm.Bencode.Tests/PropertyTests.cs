using System.Text;
using BlockSwarm.Bencode;
using CsCheck;

namespace BlockSwarm.Bencode.Tests;

public sealed class PropertyTests
{
    private static readonly Gen<BValue> GenValue = Gen.Recursive<BValue>((depth, self) =>
    {
        var leaf = Gen.OneOf<BValue>(
            Gen.Long.Select(l => (BValue)new BInteger(l)),
            Gen.Byte.Array[0, 24].Select(b => (BValue)new BString(b)));
        if (depth >= 4) return leaf;
        var list = self.List[0, 5].Select(items => (BValue)new BList(items));
        var dict = Gen.Select(Gen.Byte.Array[0, 8], self).List[0, 5].Select(pairs =>
        {
            var d = new BDictionary();
            foreach (var (k, v) in pairs) d[new BString(k)] = v;
            return (BValue)d;
        });
        return Gen.Frequency((3, leaf), (1, list), (1, dict));
    });

    [Fact]
    public void Encode_then_decode_is_identity_and_canonical()
    {
        GenValue.Sample(v =>
        {
            var bytes = BencodeEncoder.Encode(v);
            var back = BencodeDecoder.Decode(bytes);
            // Canonical: re-encoding the decoded value yields the same bytes.
            Assert.Equal(bytes, BencodeEncoder.Encode(back));
            Assert.True(Same(v, back));
        }, iter: 2000, seed: "0N0XIzNsQ0O2");
    }

    [Fact]
    public void Arbitrary_bytes_never_throw_anything_but_BencodeException()
    {
        Gen.Byte.Array[0, 64].Sample(bytes =>
        {
            try
            {
                var v = BencodeDecoder.Decode(bytes);
                // Whatever decoded must be canonical: it re-encodes to the same bytes.
                Assert.Equal(bytes, BencodeEncoder.Encode(v));
            }
            catch (BencodeException ex)
            {
                Assert.InRange(ex.Offset, 0, bytes.Length);
            }
        }, iter: 20000, seed: "0N0XIzNsQ0O2");
    }

    [Fact]
    public void Mutated_valid_documents_decode_canonically_or_fail_cleanly()
    {
        Gen.Select(GenValue, Gen.Int[0, 1000], Gen.Byte).Sample((v, pos, b) =>
        {
            var bytes = BencodeEncoder.Encode(v);
            if (bytes.Length == 0) return;
            bytes[pos % bytes.Length] = b;
            try
            {
                Assert.Equal(bytes, BencodeEncoder.Encode(BencodeDecoder.Decode(bytes)));
            }
            catch (BencodeException) { }
        }, iter: 5000, seed: "0N0XIzNsQ0O2");
    }

    private static bool Same(BValue a, BValue b) => (a, b) switch
    {
        (BInteger x, BInteger y) => x.Value == y.Value,
        (BString x, BString y) => x.Equals(y),
        (BList x, BList y) => x.Count == y.Count && x.Zip(y).All(p => Same(p.First, p.Second)),
        (BDictionary x, BDictionary y) => x.Count == y.Count && x.Zip(y).All(p => p.First.Key.Equals(p.Second.Key) && Same(p.First.Value, p.Second.Value)),
        _ => false,
    };

    [Fact]
    public void Encoder_sorts_keys_by_raw_bytes()
    {
        var d = new BDictionary { ["b"] = new BInteger(1), ["a"] = new BInteger(2), ["Z"] = new BInteger(3) };
        Assert.Equal("d1:Zi3e1:ai2e1:bi1ee", Encoding.ASCII.GetString(BencodeEncoder.Encode(d)));
    }
}
