using System.Numerics;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;
using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests.Objects;

public class ObjectReaderTests
{
    private static PyValue Root(byte[] pickle) => PickleObjectReader.Read(pickle).Root;

    [Fact]
    public void Read_builds_scalars_of_every_binary_form()
    {
        var root = Root(PickleBuilder.Create(2).Mark()
            .None().True().False().Int(7).Int(300).Int(-5).Int(100_000).Long1(1L << 40).BinFloat(0.5)
            .Str("h\u00e9").Bytes([0, 1]).ByteArray8([9])
            .Tuple().Stop().ToArray());
        var items = root.AsSequence()!;
        Assert.True(items[0].IsNone);
        Assert.True(items[1].AsBool());
        Assert.False(items[2].AsBool());
        Assert.Equal(7, items[3].AsInt64());
        Assert.Equal(300, items[4].AsInt64());
        Assert.Equal(-5, items[5].AsInt64());
        Assert.Equal(100_000, items[6].AsInt64());
        Assert.Equal(1L << 40, items[7].AsInt64());
        Assert.Equal(0.5, items[8].AsDouble());
        Assert.Equal("h\u00e9", items[9].AsString());
        Assert.Equal(new byte[] { 0, 1 }, items[10].AsBytes());
        Assert.Equal(PyKind.ByteArray, items[11].Kind);
    }

    [Fact]
    public void Accessors_return_null_when_the_type_differs()
    {
        var root = Root(PickleBuilder.Create(2).Mark().True().Int(1).Str("x").BinFloat(2.5).Tuple().Stop().ToArray());
        var items = root.AsSequence()!;
        Assert.Null(items[0].AsInt64());
        Assert.Null(items[1].AsBool());
        Assert.Null(items[2].AsInt64());
        Assert.Null(items[3].AsString());
        Assert.Equal(1.0, items[1].AsDouble());
        Assert.Null(items[2].AsDict());
        Assert.Null(root.Get("x"));
    }

    [Fact]
    public void Read_keeps_big_ints_from_long1_long4_and_protocol_0_text()
    {
        var big = BigInteger.Pow(2, 70);
        var bytes = big.ToByteArray();
        var p = PickleBuilder.Create(2).Mark()
            .Raw(0x8a, (byte)bytes.Length).Raw(bytes)
            .Raw(0x8b).I32(bytes.Length).Raw(bytes)
            .Ascii("L-1180591620717411303424L\n")
            .Ascii("I1180591620717411303424\n")
            .Ascii("I0x10\n")
            .Tuple().Stop().ToArray();
        var items = Root(p).AsSequence()!;
        Assert.Equal(big, items[0].AsBigInteger());
        Assert.Null(items[0].AsInt64());
        Assert.Equal(big, items[1].AsBigInteger());
        Assert.Equal(-big, items[2].AsBigInteger());
        Assert.Equal(big, items[3].AsBigInteger());
        Assert.Equal(16, items[4].AsInt64());
    }

    [Fact]
    public void Protocol_0_INT_01_and_00_are_bools()
    {
        var items = Root("(I01\nI00\nI1\nI2\nt."u8.ToArray()).AsSequence()!;
        Assert.True(items[0].AsBool());
        Assert.False(items[1].AsBool());
        Assert.Equal(1, items[2].AsInt64());
        Assert.Equal(2, items[3].AsInt64());
    }

    [Fact]
    public void Protocol_0_text_forms_decode()
    {
        var root = Root("(dp0\nS'a'\np1\nI1\nsS'b'\np2\nF1.5\nsVh\\u00e9\np3\nL12345678901234567890L\nsg1\nS'\\x00\\n'\ns."u8.ToArray());
        var d = root.AsDict()!;
        Assert.Equal(3, d.Count);
        Assert.Equal("\0\n", root.Get("a")!.AsString());
        Assert.Equal(new byte[] { 0, 10 }, root.Get("a")!.AsBytes());
        Assert.Equal(1.5, root.Get("b")!.AsDouble());
        Assert.Equal(BigInteger.Parse("12345678901234567890", System.Globalization.CultureInfo.InvariantCulture), root.Get("h\u00e9")!.AsBigInteger());
    }

    [Fact]
    public void Memo_preserves_shared_references()
    {
        var root = Root(PickleBuilder.Create(2).EmptyList().BinPut(0).BinGet(0).Tuple2().Stop().ToArray());
        var items = root.AsSequence()!;
        Assert.Same(items[0], items[1]);
    }

    [Fact]
    public void A_list_containing_itself_reads_and_renders_bounded()
    {
        var root = Root(PickleBuilder.Create(2).EmptyList().BinPut(0).BinGet(0).Append().Stop().ToArray());
        var list = Assert.IsType<PyList>(root);
        Assert.Same(list, list.Items[0]);
        var text = PyRender.ToText(root, maxDepth: 3);
        Assert.Equal("[[[[...]]]]", text);
    }

    [Fact]
    public void OrderedDict_filled_by_setitems_exposes_its_items_and_state()
    {
        var p = PickleBuilder.Create(2).Global("collections", "OrderedDict").EmptyTuple().Reduce().BinPut(0)
            .Mark().Str("w").Int(1).Str("b").Int(2).SetItems()
            .EmptyDict().Str("_metadata").Str("m").SetItem().Build()
            .Stop().ToArray();
        var root = Root(p);
        var obj = Assert.IsType<PyObject>(root);
        Assert.Equal("collections.OrderedDict", obj.CallableName);
        Assert.Equal(PyCallKind.Reduce, obj.How);
        Assert.Equal(["w", "b"], root.AsDict()!.StringKeys);
        Assert.Equal(2, root.Get("b")!.AsInt64());
        Assert.Equal("m", obj.State!.Get("_metadata")!.AsString());
    }

    [Fact]
    public void An_empty_OrderedDict_reads_as_an_empty_mapping()
    {
        var root = Root(PickleBuilder.Create(2).Global("collections", "OrderedDict").EmptyTuple().Reduce().Stop().ToArray());
        Assert.Equal(0, root.AsDict()!.Count);
    }

    [Fact]
    public void Dict_keys_set_twice_keep_the_last_value_in_the_first_position()
    {
        var root = Root(PickleBuilder.Create(2).EmptyDict().Mark().Str("a").Int(1).Str("b").Int(2).Str("a").Int(3).Int(1).Int(4).True().Int(5).SetItems().Stop().ToArray());
        var d = root.AsDict()!;
        Assert.Equal(3, d.Count);
        Assert.Equal(3, root.Get("a")!.AsInt64());
        Assert.Equal("a", d.Items[0].Key.AsString());
        Assert.Equal(5, root.Get(1)!.AsInt64());
    }

    [Fact]
    public void Calls_are_symbolic_nodes_for_every_creation_opcode()
    {
        var p = PickleBuilder.Create(4).Mark()
            .Global("m", "Cls").EmptyTuple().NewObj()
            .Global("m", "Cls").Int(1).Tuple1().EmptyDict().Str("k").Int(2).SetItem().NewObjEx()
            .Mark().Global("m", "Cls").Int(3).Obj()
            .Mark().Int(4).Inst("m", "Cls")
            .Str("os").Str("system").StackGlobal()
            .List().Stop().ToArray();
        var items = Root(p).AsSequence()!;
        Assert.Equal(PyCallKind.NewObj, ((PyObject)items[0]).How);
        var ex = (PyObject)items[1];
        Assert.Equal(PyCallKind.NewObjEx, ex.How);
        Assert.Equal(2, ex.Kwargs!.Get("k")!.AsInt64());
        Assert.Equal(3, ((PyObject)items[2]).Arguments[0].AsInt64());
        Assert.Equal(PyCallKind.Inst, ((PyObject)items[3]).How);
        Assert.Equal("m.Cls", ((PyObject)items[3]).CallableName);
        Assert.Equal("os.system", ((PyGlobal)items[4]).FullName);
    }

    [Fact]
    public void Protocol_2_names_are_mapped_to_python_3_names()
    {
        var root = Root(PickleBuilder.Create(2).Global("__builtin__", "set").Stop().ToArray());
        Assert.Equal("builtins.set", ((PyGlobal)root).FullName);
        var p4 = Root(PickleBuilder.Create(4).Global("__builtin__", "set").Stop().ToArray());
        Assert.Equal("__builtin__.set", ((PyGlobal)p4).FullName);
    }

    [Fact]
    public void Codecs_encode_latin1_reads_as_bytes_without_calling_anything()
    {
        var root = Root(PickleBuilder.Create(2).Global("_codecs", "encode").Str("\u00ff\u0001").Str("latin1").Tuple2().Reduce().Stop().ToArray());
        Assert.Equal(new byte[] { 0xff, 1 }, root.AsBytes());
    }

    [Fact]
    public void Persistent_ids_and_out_of_band_buffers_are_nodes()
    {
        var p = PickleBuilder.Create(5).Mark()
            .Mark().Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(4).Tuple().BinPersId()
            .PersId("legacy")
            .NextBuffer().ReadOnlyBuffer()
            .Tuple().Stop().ToArray();
        var result = PickleObjectReader.Read(p);
        var items = result.Root.AsSequence()!;
        var r = Assert.IsType<PyPersistentRef>(items[0]);
        Assert.Equal("storage", r.Id.AsSequence()![0].AsString());
        Assert.Equal("legacy", ((PyPersistentRef)items[1]).Id.AsString());
        Assert.True(((PyBuffer)items[2]).IsReadOnly);
        Assert.Equal(2, result.PersistentRefs.Count);
        Assert.Equal(5, result.Protocol);
    }

    [Fact]
    public void Sets_and_frozensets_collect_their_items()
    {
        var items = Root(PickleBuilder.Create(4).EmptySet().Mark().Int(1).Int(2).AddItems().Mark().Int(3).FrozenSet().Tuple2().Stop().ToArray()).AsSequence()!;
        Assert.Equal(PyKind.Set, items[0].Kind);
        Assert.Equal(2, items[0].AsSequence()!.Count);
        Assert.Equal(PyKind.FrozenSet, items[1].Kind);
        Assert.Equal("({1, 2}, frozenset({3}))", PyRender.ToText(Root(PickleBuilder.Create(4).EmptySet().Mark().Int(1).Int(2).AddItems().Mark().Int(3).FrozenSet().Tuple2().Stop().ToArray())));
    }

    [Fact]
    public void Pop_and_pop_mark_and_dup_follow_cpython()
    {
        var root = Root(PickleBuilder.Create(2).Int(1).Int(2).Pop().Mark().Int(3).Int(4).PopMark().Dup().Tuple2().Stop().ToArray());
        Assert.Equal("(1, 1)", PyRender.ToText(root));
    }

    [Fact]
    public void Frames_are_transparent()
    {
        var body = PickleBuilder.Create().Str("x").Stop().ToArray();
        var p = PickleBuilder.Create(4).Frame(body.Length).Raw(body).ToArray();
        Assert.Equal("x", Root(p).AsString());
    }

    [Fact]
    public void Render_escapes_control_characters_and_names_calls()
    {
        var p = PickleBuilder.Create(2).Global("torch._utils", "_rebuild_tensor_v2")
            .Mark().Mark().Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(4).Tuple().BinPersId()
            .Int(0).Int(2).Int(2).Tuple2().Int(2).Int(1).Tuple2().False().Global("collections", "OrderedDict").EmptyTuple().Reduce()
            .Tuple().Reduce().Stop().ToArray();
        Assert.Equal("torch._utils._rebuild_tensor_v2(persistent_load(('storage', torch.FloatStorage, '0', 'cpu', 4)), 0, (2, 2), (2, 1), False, collections.OrderedDict())", PyRender.ToText(Root(p), maxLength: 1000));
        Assert.Equal("'a\\x1b[31m\\u202e'", PyRender.ToText(Root(PickleBuilder.Create(2).Str("a\u001b[31m\u202e").Stop().ToArray())));
    }

    [Fact]
    public void Stream_read_stops_after_stop_and_reads_the_next_pickle()
    {
        var one = PickleBuilder.Create(2).Str(new string('a', 100_000)).Stop().ToArray();
        var two = PickleBuilder.Create(2).Int(5).Stop().ToArray();
        using var ms = new MemoryStream([.. one, .. two, 1, 2, 3]);
        var a = PickleObjectReader.Read(ms);
        Assert.Equal(one.Length, a.EndOffset);
        Assert.Equal(one.Length, ms.Position);
        Assert.Equal(100_000, a.Root.AsString()!.Length);
        Assert.Equal(5, PickleObjectReader.Read(ms).Root.AsInt64());
        Assert.Equal(one.Length + two.Length, ms.Position);
    }

    [Fact]
    public void Read_from_an_offset_reports_the_end_offset_in_the_same_coordinates()
    {
        var two = PickleBuilder.Create(2).Int(1).Stop().Proto(2).Int(2).Stop().ToArray();
        var first = PickleObjectReader.Read(two);
        var second = PickleObjectReader.Read(two, (int)first.EndOffset);
        Assert.Equal(2, second.Root.AsInt64());
        Assert.Equal(two.Length, second.EndOffset);
    }
}
