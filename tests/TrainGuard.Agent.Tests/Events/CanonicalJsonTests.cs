using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Tests.Events;

/// <summary>RFC 8785 (JSON Canonicalization Scheme) published examples.</summary>
public sealed class CanonicalJsonTests
{
    [Fact]
    public void Canonicalize_matches_the_rfc8785_section_3_2_2_example()
    {
        const string input = """
            {
              "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """;

        var canonical = Encoding.UTF8.GetString(CanonicalJson.Canonicalize(input));

        Assert.Equal("{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}", canonical);
    }

    [Fact]
    public void Canonicalize_produces_the_published_utf8_bytes_of_the_json_canonicalization_readme_example()
    {
        const string input = """{"numbers": [1E30,4.50,6,2e-3,0.000000000000000000000000001], "escaping": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "other": [null, true, false]}""";
        const string expectedHex =
            "7b226573636170696e67223a22e282ac245c75303030665c6e4127425c225c5c5c5c5c222f222c226e756d62657273223a5b31652b33302c342e352c362c302e3030322c31652d32375d2c226f74686572223a5b6e756c6c2c747275652c66616c73655d7d";

        Assert.Equal(expectedHex, Convert.ToHexStringLower(CanonicalJson.Canonicalize(input)));
    }

    [Fact]
    public void Object_members_sort_by_utf16_code_units_as_in_rfc8785_section_3_2_3()
    {
        const string input = """
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """;

        var node = JsonNode.Parse(input)!;
        var canonical = CanonicalJson.SerializeToString(node);
        var values = JsonNode.Parse(canonical)!.AsObject().Select(p => p.Value!.GetValue<string>()).ToArray();

        Assert.Equal(
            ["Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis", "Euro Sign", "Emoji: Grinning Face", "Hebrew Letter Dalet With Dagesh"],
            values);
    }

    [Theory]
    [MemberData(nameof(Rfc8785Numbers.AppendixB), MemberType = typeof(Rfc8785Numbers))]
    public void Numbers_format_as_rfc8785_appendix_b(ulong bits, string expected)
    {
        var value = BitConverterFree(bits);

        Assert.Equal(expected, CanonicalJson.FormatNumber(value));
        Assert.Equal(expected, CanonicalJson.SerializeToString(JsonValue.Create(value)));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Non_finite_numbers_are_refused(double value)
    {
        Assert.Throws<MalformedInputException>(() => CanonicalJson.FormatNumber(value));
    }

    [Fact]
    public void Lone_surrogates_are_refused()
    {
        var node = new JsonObject { ["bad"] = "x\ud800y" };

        Assert.Throws<MalformedInputException>(() => CanonicalJson.Serialize(node));
    }

    [Fact]
    public void Whitespace_and_member_order_do_not_change_the_canonical_bytes()
    {
        var a = CanonicalJson.Canonicalize("""{ "b" : [1, {"z": 1, "a": 2}], "a": "x" }""");
        var b = CanonicalJson.Canonicalize("""{"a":"x","b":[1.0,{"a":2,"z":1e0}]}""");

        Assert.Equal(a, b);
        Assert.Equal("""{"a":"x","b":[1,{"a":2,"z":1}]}""", Encoding.UTF8.GetString(a));
    }

    [Fact]
    public void Invalid_json_text_is_a_malformed_input_error()
    {
        Assert.Throws<MalformedInputException>(() => CanonicalJson.Canonicalize("{\"a\":"));
    }

    private static double BitConverterFree(ulong bits)
    {
        Span<byte> bytes = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes, bits);
        return System.Buffers.Binary.BinaryPrimitives.ReadDoubleLittleEndian(bytes);
    }
}
