using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests;

/// <summary>Real pickles written by CPython, joblib and torch (<c>Fixtures/make.py</c>).</summary>
public class FixtureTests
{
    public static TheoryData<int, string[]> PlainDataImports => new()
    {
        { 0, ["_codecs.encode", "builtins.bytearray", "builtins.bytes", "builtins.frozenset", "builtins.set"] },
        { 1, ["_codecs.encode", "builtins.bytearray", "builtins.bytes", "builtins.frozenset", "builtins.set"] },
        { 2, ["_codecs.encode", "builtins.bytearray", "builtins.bytes", "builtins.frozenset", "builtins.set"] },
        { 3, ["builtins.bytearray", "builtins.frozenset", "builtins.set"] },
        { 4, ["builtins.bytearray"] },
        { 5, [] },
    };

    [Theory]
    [MemberData(nameof(PlainDataImports))]
    public void Plain_data_of_every_protocol_imports_only_what_the_data_needs(int protocol, string[] expected)
    {
        var data = Fixture.Read($"benign-plain-p{protocol}.pkl");

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal(1, a.PickleCount);
        Assert.Equal(data.Length, a.EndOffset);
        Assert.Null(a.TrailingDataOffset);
        Assert.Equal(protocol >= 2 ? protocol : 0, a.Protocol); // protocols 0 and 1 have no PROTO opcode
        Assert.Equal(expected, a.Globals.Select(g => g.FullName).Distinct().Order());
        Assert.DoesNotContain(a.Globals, g => g.Module == "copyreg");
        Assert.Empty(a.Nested);
        Assert.Empty(a.PersistentIds);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(3)]
    public void Old_protocol_sets_render_as_their_constructor_calls(int protocol)
    {
        var a = PickleMachine.Analyze(Fixture.Read($"benign-plain-p{protocol}.pkl"));

        Assert.Contains(a.Calls, c => c.Rendered == "set([1, 2, 3])" && c.ResolvedGlobal == "builtins.set");
    }

    [Fact]
    public void Pickles_back_to_back_are_all_read()
    {
        var a = PickleMachine.Analyze(Fixture.Read("benign-three-pickles.pkl"));

        Assert.Null(a.Error);
        Assert.Equal(3, a.PickleCount);
        Assert.Null(a.TrailingDataOffset);
    }

    [Fact]
    public void Legacy_torch_file_is_five_pickles_followed_by_storage_bytes()
    {
        var data = Fixture.Read("benign-torch-legacy.pt");

        var exact = PickleMachine.Analyze(data, 5, null, default);
        var scan = PickleMachine.Analyze(data);

        Assert.Null(exact.Error);
        Assert.Equal(5, exact.PickleCount);
        Assert.True(exact.EndOffset < data.Length);
        Assert.Null(exact.TrailingDataOffset);
        Assert.Equal(2, exact.PersistentIds.Count);
        Assert.All(exact.PersistentIds, p => Assert.Equal(["storage", "torch.FloatStorage"], p.Parts.Take(2)));
        Assert.Null(scan.Error);
        Assert.Equal(exact.EndOffset, scan.TrailingDataOffset);
    }

    [Fact]
    public void Torch_zip_data_pkl_references_its_storages_by_persistent_id()
    {
        var a = PickleMachine.Analyze(Fixture.Read("benign-torch-data.pkl"));

        Assert.Null(a.Error);
        Assert.Equal(["collections.OrderedDict", "torch.FloatStorage", "torch._utils._rebuild_tensor_v2"], a.Globals.Select(g => g.FullName).Distinct().Order());
        Assert.Equal([["storage", "torch.FloatStorage", "0", "cpu", "4"], ["storage", "torch.FloatStorage", "1", "cpu", "2"]], a.PersistentIds.Select(p => p.Parts));
        Assert.Contains(a.Calls, c => c.Rendered == "torch._utils._rebuild_tensor_v2(persistent_load(('storage', torch.FloatStorage, '0', 'cpu', 4)), 0, (2, 2), (2, 1), False, collections.OrderedDict())");
    }

    [Fact]
    public void Joblib_arrays_written_inline_are_skipped_and_object_arrays_analysed_as_nested_pickles()
    {
        var data = Fixture.Read("benign-joblib.pkl");

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal(1, a.PickleCount);
        Assert.Equal(data.Length, a.EndOffset);
        Assert.Equal(["joblib.numpy_pickle.NumpyArrayWrapper", "numpy.dtype", "numpy.ndarray"], a.Globals.Select(g => g.FullName).Distinct().Order());
        var inline = Assert.Single(a.Nested);
        Assert.Equal("joblib inline", inline.Via);
        Assert.Null(inline.Analysis.Error);
        Assert.Equal(1, inline.Analysis.PickleCount);
        Assert.Contains(inline.Analysis.Globals, g => g.FullName == "numpy.core.multiarray._reconstruct");
    }

    [Fact]
    public void Joblib_protocol_2_file_with_alignment_padding_is_read_to_its_end()
    {
        var data = Fixture.Read("benign-joblib-p2.pkl");

        var a = PickleMachine.Analyze(data);

        Assert.Null(a.Error);
        Assert.Equal(data.Length, a.EndOffset);
        Assert.Empty(a.Nested);
    }

    [Fact]
    public void Truncated_joblib_array_data_is_an_error_not_a_misparse()
    {
        var data = Fixture.Read("benign-joblib-p2.pkl");

        var a = PickleMachine.Analyze(data.AsSpan(0, data.Length - 10));

        Assert.NotNull(a.Error);
        Assert.Contains("joblib", a.Error.Message, StringComparison.Ordinal);
    }
}
