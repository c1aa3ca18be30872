using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;
using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests.Objects;

public class HostileObjectTests
{
    private static MalformedInputException Fails(byte[] pickle, PickleObjectLimits? limits = null) =>
        Assert.Throws<MalformedInputException>(() => PickleObjectReader.Read(pickle, limits));

    [Fact]
    public void A_huge_declared_length_is_a_truncation_error_not_an_allocation()
    {
        var e = Fails(PickleBuilder.Create(4).Raw(0x8d).U64(ulong.MaxValue).Raw(1, 2, 3).ToArray());
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, e.Offset);
    }

    [Fact]
    public void A_value_over_the_size_limit_is_a_limit_error()
    {
        var p = PickleBuilder.Create(4).Str(new string('x', 5000)).Stop().ToArray();
        var e = Fails(p, new PickleObjectLimits { MaxValueBytes = 1000 });
        Assert.True(e.LimitExceeded);
    }

    [Fact]
    public void Deep_nesting_is_a_limit_error()
    {
        var b = PickleBuilder.Create(2);
        for (var i = 0; i < 2000; i++)
        {
            b.Mark();
        }

        for (var i = 0; i < 2000; i++)
        {
            b.List();
        }

        var e = Fails(b.Stop().ToArray());
        Assert.True(e.LimitExceeded);
        Assert.Contains("nesting depth", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_many_values_is_a_limit_error_naming_the_offset()
    {
        var b = PickleBuilder.Create(2).EmptyList();
        for (var i = 0; i < 100; i++)
        {
            b.Int(i).Append();
        }

        var e = Fails(b.Stop().ToArray(), new PickleObjectLimits { MaxNodes = 50 });
        Assert.True(e.LimitExceeded);
        Assert.NotNull(e.Offset);
    }

    [Fact]
    public void Exponential_sharing_through_the_memo_costs_items_not_copies()
    {
        // Each level is a tuple of the previous twice: 2^40 leaves if copied, 80 items as read.
        var b = PickleBuilder.Create(2).Int(1);
        for (var i = 0; i < 40; i++)
        {
            b.Dup().Tuple2();
        }

        var root = PickleObjectReader.Read(b.Stop().ToArray()).Root;
        Assert.Contains("...", PyRender.ToText(root), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "empty pickle")]
    [InlineData("K", "truncated")]
    [InlineData("K\u0001", "no STOP")]
    [InlineData(".", "stack underflow")]
    [InlineData("(K\u0001K\u0002K\u0003d.", "odd number of items for DICT")]
    [InlineData("K\u0001a.", "stack underflow")]
    [InlineData("K\u0001K\u0002a.", "APPEND applied to a int")]
    [InlineData(")K\u0001b.", "BUILD applied to a tuple")]
    [InlineData("h\u0005.", "memo value not found")]
    [InlineData("t.", "without a preceding MARK")]
    [InlineData("\u0080\u0009.", "unsupported pickle protocol")]
    [InlineData("K\u0001K\u0002\u0093.", "STACK_GLOBAL requires str")]
    [InlineData("\u00ff.", "unknown opcode")]
    [InlineData("S'abc\n.", "must be quoted")]
    [InlineData("Iabc\n.", "not an integer")]
    [InlineData("g-1\n.", "negative GET")]
    [InlineData("\u008b\u00ff\u00ff\u00ff\u00ff.", "negative byte count")]
    public void Malformed_pickles_name_what_is_wrong(string latin1, string expected)
    {
        var e = Fails(System.Text.Encoding.Latin1.GetBytes(latin1));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.NotNull(e.Offset);
    }
}
