using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using TrainGuard.Events;
using TrainGuard.Parsing;

namespace TrainGuard.Core.Tests.Events;

/// <summary>
/// <see cref="CanonicalJsonDocument"/> (the reader-based canonicaliser the server's ingest uses) against the published
/// RFC 8785 examples and, differentially, against <see cref="CanonicalJson"/> (the <c>JsonNode</c> one) on generated
/// and hostile inputs: the same bytes, or both refuse.
/// </summary>
public sealed class CanonicalJsonDocumentTests
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

        Assert.Equal(
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}",
            Canonical(input));
    }

    [Fact]
    public void Members_sort_by_utf16_code_units_as_in_rfc8785_section_3_2_3()
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

        var values = JsonNode.Parse(Canonical(input))!.AsObject().Select(p => p.Value!.GetValue<string>()).ToArray();

        Assert.Equal(
            ["Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis", "Euro Sign", "Emoji: Grinning Face", "Hebrew Letter Dalet With Dagesh"],
            values);
    }

    [Theory]
    [InlineData("\ud83d\ude00", "\uffff")]
    [InlineData("\ud800\udc00", "\ue000")]
    [InlineData("a", "a\u0000")]
    [InlineData("", "a")]
    [InlineData("\u007f", "\u0080")]
    [InlineData("\ud7ff", "\ud83d\ude00")]
    public void Name_order_is_utf16_order_not_utf8_order(string first, string second)
    {
        Assert.True(string.CompareOrdinal(first, second) < 0);
        Assert.True(CanonicalJsonDocument.CompareNames(Encoding.UTF8.GetBytes(first), Encoding.UTF8.GetBytes(second)) < 0);
        Assert.True(CanonicalJsonDocument.CompareNames(Encoding.UTF8.GetBytes(second), Encoding.UTF8.GetBytes(first)) > 0);
    }

    [Theory]
    [MemberData(nameof(Rfc8785Numbers.AppendixB), MemberType = typeof(Rfc8785Numbers))]
    public void Numbers_read_from_text_format_as_rfc8785_appendix_b(ulong bits, string expected)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, bits);
        var value = BinaryPrimitives.ReadDoubleLittleEndian(bytes);

        // The shortest round-trip text and a long exponent form both read back to the same double.
        Assert.Equal($"[{expected}]", Canonical($"[{value:R}]"));
        Assert.Equal($"[{expected}]", Canonical($"[{value:E20}]"));
    }

    [Theory]
    [InlineData("0", "0")]
    [InlineData("-0", "0")]
    [InlineData("-0.0e5", "0")]
    [InlineData("123456789012345", "123456789012345")]
    [InlineData("-123456789012345", "-123456789012345")]
    [InlineData("1234567890123456789", "1234567890123456800")]
    [InlineData("9007199254740993", "9007199254740992")]
    [InlineData("100000000000000000000", "100000000000000000000")]
    [InlineData("1000000000000000000000", "1e+21")]
    [InlineData("1e21", "1e+21")]
    [InlineData("1E-7", "1e-7")]
    [InlineData("0.0000010", "0.000001")]
    [InlineData("1e-400", "0")]
    [InlineData("4.50", "4.5")]
    [InlineData("2e-3", "0.002")]
    public void Numbers_take_their_ecmascript_form(string text, string expected) =>
        Assert.Equal($"[{expected}]", Canonical($"[{text}]"));

    [Theory]
    [InlineData("1e400")]
    [InlineData("-1e400")]
    public void Numbers_beyond_a_double_are_refused(string text)
    {
        Assert.Throws<MalformedInputException>(() => CanonicalJsonDocument.Canonicalize(Encoding.UTF8.GetBytes($"[{text}]")));
    }

    [Theory]
    [InlineData("{\"a\":1,\"a\":2}")]
    [InlineData("{\"a\":1,\"\\u0061\":2}")]
    [InlineData("[{\"x\":{\"b\":1,\"c\":[{\"d\":1,\"d\":1}]}}]")]
    [InlineData("{\"\\ud83d\\ude00\":1,\"😀\":2}")]
    public void Duplicate_member_names_are_refused_even_when_spelled_differently(string json)
    {
        var ex = Assert.Throws<MalformedInputException>(() => CanonicalJsonDocument.Canonicalize(Encoding.UTF8.GetBytes(json)));
        Assert.Contains("repeats the member name", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_names_are_found_in_objects_with_many_members()
    {
        var members = Enumerable.Range(0, 500).Select(i => $"\"k{i * 7919 % 500}\":{i}").ToList();
        members.Add("\"k123\":0");
        Assert.Throws<MalformedInputException>(() => CanonicalJsonDocument.Canonicalize(Encoding.UTF8.GetBytes("{" + string.Join(',', members) + "}")));
    }

    [Theory]
    [InlineData("[\"\\ud800\"]")]
    [InlineData("[\"\\udc00x\"]")]
    [InlineData("[\"\\ud800\\u0041\"]")]
    [InlineData("{\"\\ud800\":1}")]
    public void Lone_surrogate_escapes_are_refused(string json)
    {
        Assert.Throws<MalformedInputException>(() => CanonicalJsonDocument.Canonicalize(Encoding.UTF8.GetBytes(json)));
    }

    [Theory]
    [InlineData("22C322")]
    [InlineData("22FF4122")]
    [InlineData("22EDA08022")]
    [InlineData("7B22C3223A317D")]
    [InlineData("22F4908080")]
    public void Strings_that_are_not_utf8_are_refused(string hex)
    {
        Assert.Throws<MalformedInputException>(() => CanonicalJsonDocument.Canonicalize(Convert.FromHexString(hex)));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("{\"a\":")]
    [InlineData("[1,]")]
    [InlineData("[1] [2]")]
    [InlineData("{'a':1}")]
    [InlineData("[1 /* c */]")]
    [InlineData("[NaN]")]
    [InlineData("[01]")]
    [InlineData("\uFEFF[1]")]
    public void Text_that_is_not_json_is_refused(string json)
    {
        Assert.Throws<MalformedInputException>(() => CanonicalJsonDocument.Canonicalize(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void Nesting_deeper_than_the_limit_is_refused()
    {
        var ok = new string('[', CanonicalJson.MaxDepth) + new string(']', CanonicalJson.MaxDepth);
        var deep = "[" + ok + "]";
        Assert.Equal(ok, Canonical(ok));
        Assert.Throws<MalformedInputException>(() => CanonicalJsonDocument.Canonicalize(Encoding.UTF8.GetBytes(deep)));
    }

    [Fact]
    public void Set_string_replaces_or_inserts_a_member_in_sorted_position()
    {
        var document = Load("{\"z\":1,\"id\":{\"deep\":[1,2]},\"a\":true}");
        document.SetString(CanonicalJsonDocument.Root, "id"u8, "X\"\n"u8);
        document.SetString(CanonicalJsonDocument.Root, "m"u8, "new"u8);
        document.SetString(CanonicalJsonDocument.Root, "0"u8, "first"u8);

        Assert.Equal("{\"0\":\"first\",\"a\":true,\"id\":\"X\\\"\\n\",\"m\":\"new\",\"z\":1}", Encoding.UTF8.GetString(document.Write()));
    }

    [Fact]
    public void Set_object_and_boolean_replace_or_insert_members_that_can_be_filled_in()
    {
        var document = Load("{\"z\":1,\"t\":{\"s\":{\"old\":[1]},\"keep\":2}}");
        var t = document.FindMember(CanonicalJsonDocument.Root, "t"u8);
        var stamp = document.SetObject(t, "s"u8);
        document.SetString(stamp, "role"u8, "agent"u8);
        document.SetBoolean(stamp, "flag"u8, true);
        var fresh = document.SetObject(CanonicalJsonDocument.Root, "a"u8);
        document.SetBoolean(fresh, "no"u8, false);

        Assert.Equal("{\"a\":{\"no\":false},\"t\":{\"keep\":2,\"s\":{\"flag\":true,\"role\":\"agent\"}},\"z\":1}", Encoding.UTF8.GetString(document.Write()));
    }

    [Theory]
    [InlineData("[9007199254740992, -9007199254740992, 1234567890123456, 1e300, 90071992547409930.5]", null, null)]
    [InlineData("{\"a\":{\"b\":[0,9007199254740993]}}", "a.b[1]", "9007199254740993")]
    [InlineData("{\"x\":1152921504606846976}", "x", "1152921504606846976")]
    [InlineData("[[-12345678901234567890123]]", "[0][0]", "-12345678901234567890123")]
    [InlineData("{\"ten21\":1000000000000000000000}", null, null)]
    public void Integers_that_canonical_json_would_write_as_another_integer_are_found(string json, string? path, string? digits)
    {
        var document = Load(json);
        Assert.Equal(path is not null, document.TryFindRoundedInteger(out var foundPath, out var foundDigits));
        Assert.Equal((path, digits), (foundPath, foundDigits));
    }

    [Fact]
    public void An_unreadable_string_only_matters_if_it_is_read_or_written()
    {
        var document = Load("{\"keep\":1,\"x\":[\"\\ud800\"],\"y\":\"\\udc00\"}");
        Assert.True(document.HasUnreadableStrings);
        Assert.False(document.TryGetUtf8(document.FindMember(CanonicalJsonDocument.Root, "y"u8), out _));
        Assert.Throws<MalformedInputException>(() => document.Write());

        document.SetString(CanonicalJsonDocument.Root, "x"u8, "fine"u8);
        document.SetString(CanonicalJsonDocument.Root, "y"u8, "also"u8);
        Assert.Equal("{\"keep\":1,\"x\":\"fine\",\"y\":\"also\"}", Encoding.UTF8.GetString(document.Write()));
    }

    [Fact]
    public void Find_member_and_string_values_see_unescaped_text()
    {
        var document = Load("{\"ev\\u0065nt\":{\"action\":\"a\\/b\\u00e9\"},\"n\":12}");
        var ev = document.FindMember(CanonicalJsonDocument.Root, "event"u8);
        Assert.Equal(JsonTokenType.StartObject, document.Kind(ev));
        Assert.True(document.TryGetUtf8(document.FindMember(ev, "action"u8), out var action));
        Assert.Equal("a/bé", Encoding.UTF8.GetString(action));
        Assert.Equal(CanonicalJsonDocument.None, document.FindMember(ev, "missing"u8));
        Assert.Equal(CanonicalJsonDocument.None, document.FindMember(document.FindMember(CanonicalJsonDocument.Root, "n"u8), "x"u8));
    }

    [Fact]
    public void Generated_documents_canonicalise_exactly_as_the_json_node_canonicaliser()
    {
        var random = new Random(8785);
        var accepted = 0;
        for (var i = 0; i < 3000; i++)
        {
            var json = new JsonTextGenerator(random).Value(depth: 0);
            accepted += AssertSameAsReference(Encoding.UTF8.GetBytes(json)) ? 1 : 0;
        }

        // Most generated documents are valid: the comparison is over bytes, not over agreeing refusals.
        Assert.InRange(accepted, 2000, 3000);
    }

    [Fact]
    public void Objects_with_many_members_sort_like_the_json_node_canonicaliser()
    {
        var random = new Random(3);
        for (var i = 0; i < 50; i++)
        {
            var generator = new JsonTextGenerator(random) { MaxMembers = 300, MaxDepth = 4 };
            AssertSameAsReference(Encoding.UTF8.GetBytes(generator.Object(depth: 3)));
        }
    }

    [Fact]
    public void Mutated_documents_are_refused_or_canonicalised_as_the_json_node_canonicaliser()
    {
        var random = new Random(20261123);
        const string alphabet = "{}[]\":,\\0123456789eE.+-uadfxnt\u00e9 ";
        for (var i = 0; i < 5000; i++)
        {
            var input = Encoding.UTF8.GetBytes(new JsonTextGenerator(random).Value(depth: 1));
            for (var m = random.Next(1, 4); m > 0 && input.Length > 0; m--)
            {
                if (random.Next(8) == 0)
                {
                    input[random.Next(input.Length)] = (byte)random.Next(256);
                }
                else
                {
                    input[random.Next(input.Length)] = (byte)alphabet[random.Next(alphabet.Length)];
                }
            }

            AssertSameAsReference(input);
        }
    }

    [Fact]
    public void Fuzzing_only_ever_raises_malformed_input()
    {
        byte[][] seeds =
        [
            "{\"b\":[1,2.5e3,-0,true,null],\"a\":{\"\\u00e9\":\"x\\n\"}}"u8.ToArray(),
            "[\"\\ud83d\\ude00\",1e400,{\"a\":1,\"a\":2}]"u8.ToArray(),
        ];
        FuzzHarness.Run(CanonicalJsonDocument.Fuzz, seeds, 4000, 42, JsonAlphabet, maxLength: 48);
    }

    /// <summary>JSON punctuation, digits, escapes and literals' letters.</summary>
    internal static readonly byte[] JsonAlphabet = "[]{}\",:\\/0123456789.eE+-tfnulrsau"u8.ToArray();

    private static string Canonical(string json) => Encoding.UTF8.GetString(CanonicalJsonDocument.Canonicalize(Encoding.UTF8.GetBytes(json)));

    private static CanonicalJsonDocument Load(string json)
    {
        var document = new CanonicalJsonDocument();
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        reader.Read();
        document.Load(ref reader);
        return document;
    }

    /// <summary>
    /// Same bytes as <see cref="CanonicalJson.Serialize"/> over <c>JsonNode.Parse</c> (duplicates refused), or both refuse.
    /// Text that is not UTF-8 must be refused: the JsonNode path turns bad bytes in names into U+FFFD instead.
    /// </summary>
    private static bool AssertSameAsReference(byte[] input)
    {
        byte[]? expected = null;
        string? referenceError = null;
        try
        {
            var node = JsonNode.Parse(input, documentOptions: new JsonDocumentOptions { MaxDepth = CanonicalJson.MaxDepth, AllowDuplicateProperties = false });
            expected = CanonicalJson.Serialize(node);
        }
        catch (Exception ex) when (ex is JsonException or MalformedInputException or InvalidOperationException or ArgumentException)
        {
            referenceError = ex.GetType().Name + ": " + ex.Message;
        }

        byte[]? actual = null;
        string? error = null;
        try
        {
            actual = CanonicalJsonDocument.Canonicalize(input);
        }
        catch (MalformedInputException ex)
        {
            error = ex.Message;
        }

        var hex = Convert.ToHexString(input);
        if (!Utf8.IsValid(input))
        {
            Assert.True(error is not null, $"text that is not UTF-8 was accepted: {hex}");
            return false;
        }

        if (expected is null)
        {
            if (actual is not null)
            {
                Assert.Fail($"reference refused ({referenceError}) but the document wrote {Encoding.UTF8.GetString(actual)} for {hex}");
            }

            return false;
        }
        else
        {
            if (actual is null)
            {
                Assert.Fail($"document refused ({error}) what the reference wrote as {Encoding.UTF8.GetString(expected)} for {hex}");
            }

            if (!expected.AsSpan().SequenceEqual(actual))
            {
                Assert.Fail($"expected {Encoding.UTF8.GetString(expected)} got {Encoding.UTF8.GetString(actual)} for {hex}");
            }

            return true;
        }
    }
}
