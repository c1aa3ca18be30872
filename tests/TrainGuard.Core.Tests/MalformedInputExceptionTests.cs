using TrainGuard.Parsing;

namespace TrainGuard.Core.Tests;

/// <summary>The one error contract: a kind set at the throw site, escaped and capped text, origin and line for text inputs.</summary>
public sealed class MalformedInputExceptionTests
{
    [Fact]
    public void Control_characters_of_the_input_are_escaped_in_message_member_and_field()
    {
        var ex = MalformedInputException.Create(InputErrorKind.Corrupt, "name \"a\u001b[31m\nb\"", 7, member: "x\r\ny", field: "f\u0000");
        Assert.Equal("name \"a\\x1b[31m\\nb\"", ex.Message);
        Assert.Equal("x\\r\\ny", ex.Member);
        Assert.Equal("f\\x00", ex.Field);
        Assert.Equal(7, ex.Offset);
        Assert.Equal(InputErrorKind.Corrupt, ex.Kind);
    }

    [Fact]
    public void Message_and_names_are_capped_at_one_length()
    {
        var huge = new string('a', 10_000);
        var ex = MalformedInputException.Create(InputErrorKind.Syntax, huge, member: huge, field: huge);
        Assert.Equal(MalformedInputException.MaxTextLength + 1, ex.Message.Length);
        Assert.EndsWith("…", ex.Message, StringComparison.Ordinal);
        Assert.Equal(ex.Message, ex.Member);
        Assert.Equal(ex.Message, ex.Field);
    }

    [Fact]
    public void Throw_helpers_set_the_kind_their_name_says()
    {
        Assert.Equal(InputErrorKind.OverLimit, Assert.Throws<MalformedInputException>(() => MalformedInputException.ThrowLimit("memo", 10, 3)).Kind);
        Assert.True(Assert.Throws<MalformedInputException>(() => MalformedInputException.ThrowLimit("memo", 10, 3)).LimitExceeded);
        var truncated = Assert.Throws<MalformedInputException>(() => MalformedInputException.ThrowTruncated("a string", 5, "m"));
        Assert.Equal(InputErrorKind.Truncated, truncated.Kind);
        Assert.False(truncated.LimitExceeded);
        Assert.Equal("m", truncated.Member);
        Assert.Equal(InputErrorKind.Encrypted, Assert.Throws<MalformedInputException>(() => MalformedInputException.Throw(InputErrorKind.Encrypted, "locked")).Kind);
    }

    [Theory]
    [InlineData(4, 9, "policy.yaml:4:9: bad key")]
    [InlineData(4, null, "policy.yaml:4: bad key")]
    [InlineData(null, null, "policy.yaml: bad key")]
    public void An_error_in_a_text_file_names_file_line_and_column(int? line, int? column, string expected)
    {
        var ex = Assert.Throws<MalformedInputException>(() => MalformedInputException.ThrowAt(InputErrorKind.Config, "bad key", "policy.yaml", line, column));
        Assert.Equal(expected, ex.Message);
        Assert.Equal("bad key", ex.Problem);
        Assert.Equal("policy.yaml", ex.Origin);
        Assert.Equal(line, ex.Line);
        Assert.Equal(column, ex.Column);
    }

    [Fact]
    public void With_member_keeps_the_kind_and_fills_only_a_missing_member()
    {
        var inner = MalformedInputException.Create(InputErrorKind.OverLimit, "too big", 12);
        var named = inner.WithMember("archive/data.pkl");
        Assert.Equal(InputErrorKind.OverLimit, named.Kind);
        Assert.Equal("archive/data.pkl", named.Member);
        Assert.Equal(12, named.Offset);
        Assert.Same(named, named.WithMember("other"));
    }

    [Fact]
    public void Wrap_passes_parser_errors_through_and_wraps_anything_else_with_the_given_kind()
    {
        var parser = MalformedInputException.Create(InputErrorKind.Truncated, "short", 1);
        Assert.Same(parser, MalformedInputException.Wrap(parser, InputErrorKind.Corrupt, "unreadable", 0, null));
        var wrapped = MalformedInputException.Wrap(new InvalidDataException("bad block"), InputErrorKind.Corrupt, "corrupt member", 4, "m");
        Assert.Equal(InputErrorKind.Corrupt, wrapped.Kind);
        Assert.Equal("corrupt member: bad block", wrapped.Message);
        Assert.IsType<InvalidDataException>(wrapped.InnerException);
    }
}
