using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests;

/// <summary>Each opcode family, checked through what the analysis renders for the value it builds.</summary>
public class OpcodeTests
{
    /// <summary>Renders <paramref name="value"/> by passing it to a recorder call: <c>t.f(value)</c>.</summary>
    private static string RenderArgument(Action<PickleBuilder> value, int protocol = 4)
    {
        var b = PickleBuilder.Create(protocol).Global("t", "f");
        value(b);
        var data = b.Tuple1().Reduce().Stop().ToArray();
        var a = PickleMachine.Analyze(data);
        Assert.Null(a.Error);
        var rendered = a.Calls[^1].Rendered;
        Assert.StartsWith("t.f(", rendered, StringComparison.Ordinal);
        return rendered[4..^1];
    }

    [Fact]
    public void Ints_of_every_binary_width_render_their_values()
    {
        Assert.Equal("7", RenderArgument(b => b.Int(7)));
        Assert.Equal("65535", RenderArgument(b => b.Int(65535)));
        Assert.Equal("-2147483648", RenderArgument(b => b.Int(int.MinValue)));
        Assert.Equal("-72057594037927937", RenderArgument(b => b.Long1(-72057594037927937)));
        Assert.Equal("1267650600228229401496703205376", RenderArgument(b => b.Raw(0x8a, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0)));
        Assert.Equal("-1", RenderArgument(b => b.Raw(0x8b).I32(1).Raw(0xff)));
        Assert.Equal("0", RenderArgument(b => b.Raw(0x8a, 0)));
    }

    [Fact]
    public void Protocol_0_int_and_long_text_forms_are_read()
    {
        Assert.Equal("True", RenderArgument(b => b.Ascii("I01\n"), 0));
        Assert.Equal("False", RenderArgument(b => b.Ascii("I00\n"), 0));
        Assert.Equal("-42", RenderArgument(b => b.Ascii("I-42\n"), 0));
        Assert.Equal("123456789012345678901234567890", RenderArgument(b => b.Ascii("L123456789012345678901234567890L\n"), 0));
        Assert.Equal("99999999999999999999", RenderArgument(b => b.Ascii("I99999999999999999999\n"), 0));
    }

    [Fact]
    public void Floats_in_binary_and_text_forms_render_like_python()
    {
        Assert.Equal("1.5", RenderArgument(b => b.BinFloat(1.5)));
        Assert.Equal("1.0", RenderArgument(b => b.BinFloat(1)));
        Assert.Equal("-inf", RenderArgument(b => b.BinFloat(double.NegativeInfinity)));
        Assert.Equal("0.25", RenderArgument(b => b.Ascii("F0.25\n"), 0));
        Assert.Equal("inf", RenderArgument(b => b.Ascii("Finf\n"), 0));
    }

    [Fact]
    public void Every_string_form_decodes_to_the_same_text()
    {
        Assert.Equal("'héllo'", RenderArgument(b => b.Str("héllo")));
        Assert.Equal("'héllo'", RenderArgument(b => b.BinUnicode("héllo")));
        Assert.Equal("'héllo'", RenderArgument(b => b.BinUnicode8("héllo")));
        Assert.Equal("'héllo'", RenderArgument(b => b.ShortBinString("h\u00e9llo"), 2));
        Assert.Equal("'héllo'", RenderArgument(b => b.BinString("h\u00e9llo"), 2));
        Assert.Equal("'héllo'", RenderArgument(b => b.String("h\\xe9llo"), 0));
        Assert.Equal("'héllo'", RenderArgument(b => b.Unicode("h\\u00e9llo"), 0));
        Assert.Equal("'\\'q\\' \\\\ \\n'", RenderArgument(b => b.String("\\'q\\' \\\\ \\n"), 0));
        Assert.Equal("'🎉'", RenderArgument(b => b.Unicode("\\U0001f389"), 0));
    }

    [Fact]
    public void Lone_surrogates_written_with_surrogatepass_are_accepted()
    {
        var a = PickleMachine.Analyze(PickleBuilder.Create(4).Raw(0x8c, 3, 0xed, 0xa0, 0x80).Stop().ToArray());

        Assert.Null(a.Error);
    }

    [Fact]
    public void Bytes_and_bytearrays_render_as_python_literals()
    {
        Assert.Equal("b'ab\\x00'", RenderArgument(b => b.Bytes("ab\0"u8.ToArray())));
        Assert.Equal("b'" + new string('x', 80) + "…'", RenderArgument(b => b.Bytes(new byte[300].Select(_ => (byte)'x').ToArray())));
        Assert.Equal("b'z'", RenderArgument(b => b.BinBytes8("z"u8.ToArray())));
        Assert.Equal("bytearray(b'z')", RenderArgument(b => b.ByteArray8("z"u8.ToArray()), 5));
    }

    [Fact]
    public void Constants_render_as_python_constants()
    {
        Assert.Equal("None", RenderArgument(b => b.None()));
        Assert.Equal("True", RenderArgument(b => b.True()));
        Assert.Equal("False", RenderArgument(b => b.False()));
    }

    [Fact]
    public void Tuples_of_every_form_render_with_python_punctuation()
    {
        Assert.Equal("()", RenderArgument(b => b.EmptyTuple()));
        Assert.Equal("(1,)", RenderArgument(b => b.Int(1).Tuple1()));
        Assert.Equal("(1, 2)", RenderArgument(b => b.Int(1).Int(2).Tuple2()));
        Assert.Equal("(1, 2, 3)", RenderArgument(b => b.Int(1).Int(2).Int(3).Tuple3()));
        Assert.Equal("(1, 2, 3, 4)", RenderArgument(b => b.Mark().Int(1).Int(2).Int(3).Int(4).Tuple()));
    }

    [Fact]
    public void Lists_dicts_sets_and_frozensets_collect_their_items()
    {
        Assert.Equal("[1, 2, 3]", RenderArgument(b => b.EmptyList().Int(1).Append().Mark().Int(2).Int(3).Appends()));
        Assert.Equal("[1, 2]", RenderArgument(b => b.Mark().Int(1).Int(2).List(), 0));
        Assert.Equal("{'a': 1, 'b': 2}", RenderArgument(b => b.EmptyDict().Str("a").Int(1).SetItem().Mark().Str("b").Int(2).SetItems()));
        Assert.Equal("{'a': 1}", RenderArgument(b => b.Mark().Str("a").Int(1).Dict(), 0));
        Assert.Equal("{1, 2}", RenderArgument(b => b.EmptySet().Mark().Int(1).Int(2).AddItems()));
        Assert.Equal("set()", RenderArgument(b => b.EmptySet()));
        Assert.Equal("frozenset({1})", RenderArgument(b => b.Mark().Int(1).FrozenSet()));
        Assert.Equal("[[[[…]]]]", RenderArgument(b => b.EmptyList().EmptyList().EmptyList().EmptyList().EmptyList().Append().Append().Append().Append()));
    }

    [Fact]
    public void Large_containers_render_a_few_items_then_an_ellipsis()
    {
        var rendered = RenderArgument(b =>
        {
            b.EmptyList().Mark();
            for (var i = 0; i < 100; i++)
            {
                b.Int(i);
            }

            b.Appends();
        });

        Assert.Equal("[0, 1, 2, 3, 4, 5, 6, 7, …]", rendered);
    }

    [Fact]
    public void Memo_keeps_identity_so_later_appends_show_through_every_reference()
    {
        var rendered = RenderArgument(b => b.EmptyList().Memoize().Pop().BinGet(0).Int(1).Append().Pop().BinGet(0));

        Assert.Equal("[1]", rendered);
    }

    [Fact]
    public void Dup_pop_and_pop_mark_manage_the_stack()
    {
        Assert.Equal("(1, 1)", RenderArgument(b => b.Int(1).Dup().Tuple2()));
        Assert.Equal("1", RenderArgument(b => b.Int(1).Int(2).Pop()));
        Assert.Equal("1", RenderArgument(b => b.Int(1).Mark().Int(2).Int(3).PopMark()));
        Assert.Equal("1", RenderArgument(b => b.Int(1).Mark().Pop()));
    }

    [Fact]
    public void Protocol_5_buffers_are_symbolic()
    {
        Assert.Equal("<out-of-band buffer #0>", RenderArgument(b => b.NextBuffer().ReadOnlyBuffer(), 5));
    }

    [Fact]
    public void Frames_are_read_through()
    {
        var body = PickleBuilder.Create().Global("os", "system").Str("id").Tuple1().Reduce().Stop().ToArray();
        var data = PickleBuilder.Create(4).Frame(body.Length).Raw(body).ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal(11, a.Globals[0].Offset);
        Assert.Equal("os.system('id')", a.Calls[0].Rendered);
    }

    [Fact]
    public void Protocol_0_text_pickle_of_plain_data_has_no_imports()
    {
        var data = "(dp0\nS'a'\np1\nI1\nsS'b'\np2\nF1.5\nsVh\\u00e9\np3\nL12345678901234567890L\nsg1\n(lp4\nI2\naI00\nas."u8.ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Empty(a.Globals);
        Assert.Empty(a.Calls);
        Assert.Equal(1, a.PickleCount);
        Assert.Equal(data.Length, a.EndOffset);
    }

    [Fact]
    public void Protocol_and_opcode_count_are_reported()
    {
        var a = PickleMachine.Analyze(PickleBuilder.Create(3).None().Stop().ToArray());

        Assert.Equal(3, a.Protocol);
        Assert.Equal(3, a.OpcodeCount);
    }

    [Fact]
    public void Exact_pickle_count_reports_where_the_pickles_end()
    {
        var first = PickleBuilder.Create(2).Int(1).Stop().ToArray();
        var second = PickleBuilder.Create(2).Str("x").Stop().ToArray();
        byte[] data = [.. first, .. second, 0xde, 0xad, 0xbe, 0xef];

        var a = PickleMachine.Analyze(data, 2, null, default);

        Assert.Null(a.Error);
        Assert.Equal(2, a.PickleCount);
        Assert.Equal(first.Length + second.Length, a.EndOffset);
        Assert.Null(a.TrailingDataOffset);
    }

    [Fact]
    public void Exact_pickle_count_with_fewer_pickles_is_an_error()
    {
        var a = PickleMachine.Analyze(PickleBuilder.Create(2).Int(1).Stop().ToArray(), 2, null, default);

        Assert.NotNull(a.Error);
        Assert.Equal(1, a.PickleCount);
    }
}
