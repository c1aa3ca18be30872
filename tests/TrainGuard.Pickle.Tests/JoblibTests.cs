using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests;

/// <summary>Hand-built joblib wrappers: lengths from the state, padding, and what hides in the array bytes.</summary>
public class JoblibTests
{
    private static PickleBuilder Wrapper(string dtype, Action<PickleBuilder> shape, bool alignment, bool newobj = true)
    {
        var b = PickleBuilder.Create(2).Global("joblib.numpy_pickle", "NumpyArrayWrapper");
        b = newobj ? b.EmptyTuple().NewObj() : b.EmptyTuple().Reduce();
        b.EmptyDict().Mark().Str("shape");
        shape(b);
        b.Str("dtype").Global("numpy", "dtype").Str(dtype).False().True().Tuple3().Reduce()
            .Str("order").Str("C");
        if (alignment)
        {
            b.Str("numpy_array_alignment_bytes").Int(16);
        }

        return b.SetItems().Build();
    }

    [Fact]
    public void Raw_array_bytes_are_skipped_using_shape_and_dtype()
    {
        var data = Wrapper("f4", b => b.Int(2).Int(3).Tuple2(), alignment: false).Raw(new byte[24]).Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal(data.Length, a.EndOffset);
    }

    [Fact]
    public void Alignment_padding_byte_and_padding_are_skipped()
    {
        var data = Wrapper("i8", b => b.Int(2).Tuple1(), alignment: true).Raw(3, 0xff, 0xff, 0xff).Raw(new byte[16]).Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal(data.Length, a.EndOffset);
    }

    [Fact]
    public void Wrapper_built_by_its_constructor_defaults_to_aligned_data()
    {
        var data = PickleBuilder.Create(2).Global("joblib.numpy_pickle", "NumpyArrayWrapper")
            .Mark().Global("numpy", "ndarray").Int(4).Tuple1().Str("C").Global("numpy", "dtype").Str("u1").False().True().Tuple3().Reduce().Tuple()
            .Reduce().EmptyDict().Build()
            .Raw(0).Raw(1, 2, 3, 4).Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal(data.Length, a.EndOffset);
    }

    [Fact]
    public void Payload_hidden_in_array_bytes_is_reported_as_what_a_plain_loader_would_run()
    {
        var payload = PickleBuilder.Create().Global("os", "system").Str("id").Tuple1().Reduce().Stop().ToArray();
        var head = Wrapper("u1", b => b.Int(payload.Length).Tuple1(), alignment: false);
        var arrayOffset = head.Length;
        var data = head.Raw(payload).Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        var nested = Assert.Single(a.Nested);
        Assert.Equal(arrayOffset, nested.Offset);
        Assert.Equal("joblib array bytes read as pickle opcodes", nested.Via);
        Assert.Equal("os.system", Assert.Single(nested.Analysis.Calls).ResolvedGlobal);
    }

    [Fact]
    public void Object_array_inline_pickle_is_analysed_and_reading_continues_after_it()
    {
        var inline = PickleBuilder.Create(2).Global("os", "system").Str("id").Tuple1().Reduce().Stop().ToArray();
        var head = Wrapper("O8", b => b.Int(1).Tuple1(), alignment: true);
        var inlineOffset = head.Length;
        var data = head.Raw(inline).Pop().Str("after").Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal(data.Length, a.EndOffset);
        var nested = Assert.Single(a.Nested);
        Assert.Equal(("joblib inline", inlineOffset), (nested.Via, (int)nested.Offset));
        Assert.Equal("os.system", Assert.Single(nested.Analysis.Calls).ResolvedGlobal);
    }

    [Fact]
    public void Malformed_inline_object_pickle_stops_the_analysis()
    {
        var data = Wrapper("O8", b => b.Int(1).Tuple1(), alignment: false).Raw(0x80, 0x02, 0xff).ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.NotNull(a.Error);
        Assert.Contains("inline pickle of a joblib object array", a.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_state_makes_the_length_undeterminable_and_is_an_error()
    {
        var data = PickleBuilder.Create(2).Global("joblib.numpy_pickle", "NumpyArrayWrapper").EmptyTuple().NewObj()
            .EmptyDict().Build().Raw(1, 2, 3).Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.NotNull(a.Error);
        Assert.Contains("cannot determine the length of the joblib array data", a.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Declared_array_larger_than_the_input_is_truncation()
    {
        var data = Wrapper("f8", b => b.Int(1_000_000).Int(1_000_000).Tuple2(), alignment: false).Raw(new byte[8]).Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.NotNull(a.Error);
        Assert.StartsWith("truncated", a.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Legacy_ndarray_wrappers_are_only_recorded()
    {
        var data = PickleBuilder.Create(2).Global("joblib.numpy_pickle", "NDArrayWrapper").EmptyTuple().NewObj()
            .EmptyDict().Str("filename").Str("x.npy").SetItem().Build().Stop().ToArray();

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal("joblib.numpy_pickle.NDArrayWrapper.__setstate__", a.Calls[^1].ResolvedGlobal);
    }
}
