using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Pickle.Tests.Objects;

public class PythonLiteralTests
{
    [Fact]
    public void A_header_literal_reads_into_the_values_pickles_read_into_with_their_offsets()
    {
        var text = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3L), 'x': [None, True], }";
        var dict = Assert.IsType<PyDict>(PythonLiteral.Parse(text, baseOffset: 10));

        Assert.Equal("<f4", dict.Get("descr")?.AsString());
        Assert.False(dict.Get("fortran_order")?.AsBool());
        var shape = Assert.IsType<PyTuple>(dict.Get("shape"));
        Assert.Equal([2L, 3L], shape.Items.Select(i => i.AsInt64()!.Value));
        Assert.Equal(10 + text.IndexOf('(', StringComparison.Ordinal), shape.Offset);
        var list = Assert.IsType<PyList>(dict.Get("x"));
        Assert.True(list.Items[0].IsNone);
        Assert.Equal("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': [None, True]}", PyRender.ToText(dict));
    }

    [Fact]
    public void A_parenthesised_value_without_a_comma_is_the_value_itself() =>
        Assert.Equal(7, PythonLiteral.Parse("(7)").AsInt64());

    [Fact]
    public void A_repeated_dict_key_stays_a_second_entry_and_lookups_find_the_first()
    {
        var dict = Assert.IsType<PyDict>(PythonLiteral.Parse("{'shape': (1,), 'shape': (2,)}"));

        Assert.Equal(2, dict.Count);
        Assert.Equal(1, dict.Get("shape")!.AsSequence()![0].AsInt64());
    }

    [Theory]
    [InlineData("(1, 2", "unterminated")]
    [InlineData("{'a' 1}", "expected ':'")]
    [InlineData("1.5", "only plain integers")]
    [InlineData("99999999999999999999", "integer out of range")]
    [InlineData("__import__('os')", "unexpected character")]
    public void Malformed_literals_are_errors_naming_the_offset(string text, string message)
    {
        var e = Assert.Throws<MalformedInputException>(() => PythonLiteral.Parse(text, baseOffset: 100));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.InRange(e.Offset!.Value, 100, 100 + text.Length);
    }
}
