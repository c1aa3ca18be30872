using System.Numerics;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Pickle.Tests.Objects;

/// <summary>Differential tests over the files real Python and torch wrote (<c>tests/fixtures</c>).</summary>
public class FixtureObjectTests
{
    public static TheoryData<string> BenignNames()
    {
        var data = new TheoryData<string>();
        foreach (var f in FixtureFiles.BenignPickles())
        {
            data.Add(f.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(BenignNames))]
    public void Every_pickle_of_a_benign_fixture_reads_to_a_value(string name)
    {
        var file = FixtureFiles.BenignPickles().Single(f => f.Name == name);
        Assert.NotEmpty(file.Pickles);
        foreach (var pickle in file.Pickles)
        {
            var result = PickleObjectReader.Read(pickle);
            Assert.Equal(pickle.Length, result.EndOffset);
            Assert.False(string.IsNullOrEmpty(PyRender.ToText(result.Root)));
        }
    }

    [Theory]
    [MemberData(nameof(BenignNames))]
    public void Every_prefix_of_a_benign_pickle_reads_or_throws_only_malformed_input(string name)
    {
        var pickle = FixtureFiles.BenignPickles().Single(f => f.Name == name).Pickles[0];
        var step = Math.Max(1, pickle.Length / 64);
        for (var n = 0; n < pickle.Length; n += step)
        {
            try
            {
                PickleObjectReader.Read(pickle.AsSpan(0, n));
            }
            catch (MalformedInputException)
            {
            }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Plain_pickles_of_every_protocol_read_to_the_same_values(int protocol)
    {
        var root = PickleObjectReader.Read(File.ReadAllBytes(Path.Combine(FixtureFiles.Root, $"benign/plain-protocol-{protocol}.pkl"))).Root;
        Assert.Equal("tiny", root.Get("name")!.AsString());
        Assert.Equal(10, root.Get("step")!.AsInt64());
        Assert.Equal(0.001, root.Get("lr")!.AsDouble());
        Assert.Equal(BigInteger.Pow(2, 70), root.Get("big")!.AsBigInteger());
        Assert.Equal(-5, root.Get("neg")!.AsInt64());
        Assert.Equal("h\u00e9llo \u2713", root.Get("text")!.AsString());
        Assert.Equal("[True, False, None]", PyRender.ToText(root.Get("flags")!));
        Assert.Equal("(2, 3)", PyRender.ToText(root.Get("shape")!));
        Assert.Equal("\0\u0001binary"u8.ToArray(), root.Get("blob")!.AsBytes());
        Assert.Equal("{'a': [1, [2, [3]]]}", PyRender.ToText(root.Get("nested")!));
        var ids = root.Get("ids")!;
        var idItems = ids.AsSequence() ?? ((PyObject)ids).Arguments[0].AsSequence()!;
        Assert.Equal([4L, 5L], idItems.Select(v => v.AsInt64()!.Value).Order());
        var buf = root.Get("buf")!;
        Assert.True(buf.Kind == PyKind.ByteArray || ((PyObject)buf).CallableName == "builtins.bytearray");
    }

    [Theory]
    [InlineData("benign/tiny-model-state-dict.pt")]
    [InlineData("benign/state-dict-protocol4.pt")]
    [InlineData("benign/model-file-root.pt")]
    public void A_torch_state_dict_is_an_ordered_dict_of_rebuild_tensor_calls_on_storages(string fixture)
    {
        var result = PickleObjectReader.Read(FixtureFiles.ZipMember(fixture, "/data.pkl"));
        var root = Assert.IsType<PyObject>(result.Root);
        Assert.Equal("collections.OrderedDict", root.CallableName);
        var sd = root.AsDict()!;
        Assert.NotEmpty(sd.Items);
        foreach (var (key, value) in sd.Items)
        {
            Assert.NotNull(key.AsString());
            var t = Assert.IsType<PyObject>(value);
            Assert.Equal("torch._utils._rebuild_tensor_v2", t.CallableName);
            var storage = Assert.IsType<PyPersistentRef>(t.Arguments[0]);
            var id = storage.Id.AsSequence()!;
            Assert.Equal("storage", id[0].AsString());
            Assert.Equal("torch.FloatStorage", ((PyGlobal)id[1]).FullName);
            Assert.NotNull(id[2].AsString());
            Assert.Equal("cpu", id[3].AsString());
            Assert.True(id[4].AsInt64() > 0);
            Assert.Equal(PyKind.Tuple, t.Arguments[2].Kind);
        }

        Assert.NotNull(((PyObject)result.Root).State!.Get("_metadata"));
    }

    [Fact]
    public void An_adamw_state_dict_exposes_state_and_param_groups()
    {
        var root = PickleObjectReader.Read(FixtureFiles.ZipMember("benign/optimizer-adamw-3-steps.pt", "/data.pkl")).Root;
        var group = root.Get("param_groups")!.AsSequence()![0];
        Assert.Equal(0.001, group.Get("lr")!.AsDouble());
        Assert.False(group.Get("maximize")!.AsBool());
        Assert.Equal("(0.9, 0.999)", PyRender.ToText(group.Get("betas")!));
        Assert.Equal(2, group.Get("params")!.AsSequence()!.Count);
        var state0 = root.Get("state")!.Get(0)!;
        Assert.Equal("torch._utils._rebuild_tensor_v2", ((PyObject)state0.Get("exp_avg")!).CallableName);
        Assert.NotNull(state0.Get("step"));
    }

    [Fact]
    public void A_parameter_wraps_a_rebuilt_tensor()
    {
        var w = (PyObject)PickleObjectReader.Read(FixtureFiles.ZipMember("benign/parameter.pt", "/data.pkl")).Root.Get("w")!;
        Assert.Equal("torch._utils._rebuild_parameter", w.CallableName);
        Assert.Equal("torch._utils._rebuild_tensor_v2", ((PyObject)w.Arguments[0]).CallableName);
        Assert.True(w.Arguments[1].AsBool());
    }

    [Fact]
    public void An_rng_state_reads_python_numpy_and_torch_parts()
    {
        var root = PickleObjectReader.Read(FixtureFiles.ZipMember("benign/rng-state.pth", "/data.pkl")).Root;
        var python = root.Get("python")!.AsSequence()!;
        Assert.Equal(3, python[0].AsInt64());
        Assert.Equal(625, python[1].AsSequence()!.Count);
        var numpy = root.Get("numpy")!.AsSequence()!;
        Assert.Equal("MT19937", numpy[0].AsString());
        var array = Assert.IsType<PyObject>(numpy[1]);
        Assert.Equal("numpy.core.multiarray._reconstruct", array.CallableName);
        var raw = array.State!.AsSequence()![4].AsBytes();
        Assert.Equal(624 * 4, raw!.Length);
        Assert.Equal("torch._utils._rebuild_tensor_v2", ((PyObject)root.Get("cpu")!).CallableName);
    }

    [Fact]
    public void A_legacy_torch_file_is_five_pickles_magic_protocol_sys_info_object_and_keys()
    {
        var bytes = File.ReadAllBytes(Path.Combine(FixtureFiles.Root, "benign/tiny-model-state-dict-legacy.pt"));
        var values = FixtureFiles.Sequence(bytes, 5).Select(p => PickleObjectReader.Read(p).Root).ToArray();
        Assert.Equal(BigInteger.Parse("119547037146038801333356", System.Globalization.CultureInfo.InvariantCulture), values[0].AsBigInteger());
        Assert.Equal(1001, values[1].AsInt64());
        Assert.True(values[2].Get("little_endian")!.AsBool());
        Assert.Equal("collections.OrderedDict", ((PyObject)values[3]).CallableName);
        Assert.All(values[4].AsSequence()!, k => Assert.NotNull(k.AsString()));
    }
}
