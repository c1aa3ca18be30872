using System.Buffers.Binary;
using System.Text;
using BenchmarkDotNet.Attributes;
using TrainGuard.Pickle;

namespace TrainGuard.Benchmarks;

/// <summary>
/// The symbolic pickle machine over a ~51 MB protocol 4 pickle of ~1M small objects (~13M opcodes), the shape
/// of a large pickled dataset or tokenizer cache. The pickle is generated at setup by <see cref="PickleCorpus"/>,
/// opcode by opcode as CPython's pickler writes it (FRAMEs of 64 KiB, MEMOIZE after every object, APPENDS
/// every 1000 items), so no Python and no committed 51 MB file are needed.
/// Run: <c>dotnet run -c Release --project bench/TrainGuard.Benchmarks -- --filter *PickleMachineBenchmarks*</c>.
/// </summary>
[MemoryDiagnoser]
public class PickleMachineBenchmarks
{
    private byte[] _manySmallObjects = [];
    private byte[] _torchLike = [];
    private byte[] _smallDicts = [];

    [GlobalSetup]
    public void Setup()
    {
        _manySmallObjects = PickleCorpus.ManySmallObjects(PickleCorpus.ItemsFor51MB);
        _torchLike = PickleCorpus.TorchStateDict(20_000);
        _smallDicts = PickleCorpus.SmallDicts(PickleCorpus.DictsFor51MB);
    }

    [Benchmark(Baseline = true, Description = "Analyze: 51 MB pickle of ~1M small objects")]
    public long ManySmallObjects()
    {
        var analysis = PickleMachine.Analyze(_manySmallObjects);
        return analysis.Error is null ? analysis.OpcodeCount : -1;
    }

    [Benchmark(Description = "Analyze: 51 MB pickle of 2.3M small dicts")]
    public long SmallDicts()
    {
        var analysis = PickleMachine.Analyze(_smallDicts);
        return analysis.Error is null ? analysis.OpcodeCount : -1;
    }

    [Benchmark(Description = "Analyze: torch state_dict pickle, 20k tensors")]
    public long TorchStateDict()
    {
        var analysis = PickleMachine.Analyze(_torchLike);
        return analysis.Error is null ? analysis.Calls.Count : -1;
    }
}

/// <summary>Writes benchmark pickles opcode by opcode, the way CPython's protocol 4 pickler lays them out.</summary>
public static class PickleCorpus
{
    /// <summary>Item count that makes <see cref="ManySmallObjects"/> about 51 MB.</summary>
    public const int ItemsFor51MB = 1_280_000;

    /// <summary>Item count that makes <see cref="SmallDicts"/> about 51 MB (about 20M opcodes).</summary>
    public const int DictsFor51MB = 2_300_000;

    private const int FrameTarget = 64 * 1024;

    /// <summary>
    /// A list of small objects cycling through a 6-key dict, a 3-tuple, a string and a float:
    /// <c>{'id': i, 'name': 'user-i', 'score': f, 'active': True, 'tags': ('a', 'b'), 'pos': (x, y)}</c>.
    /// </summary>
    public static byte[] ManySmallObjects(int items)
    {
        var w = new Writer();
        w.Byte(0x80).Byte(4);
        w.Byte((byte)']').Memoize(); // the list
        var keyMemo = new Dictionary<string, int>(StringComparer.Ordinal);
        var random = new Random(42);
        for (var i = 0; i < items; i++)
        {
            if (i % 1000 == 0)
            {
                if (i > 0)
                {
                    w.Byte((byte)'e'); // APPENDS
                }

                w.Byte((byte)'(');
            }

            switch (i % 4)
            {
                case 0:
                case 1:
                    w.Byte((byte)'}').Memoize().Byte((byte)'(');
                    w.Key("id", keyMemo).Int(i);
                    w.Key("name", keyMemo).Str($"user-{i}").Memoize();
                    w.Key("score", keyMemo).Float(random.NextDouble() * 100);
                    w.Key("active", keyMemo).Byte((byte)(i % 3 == 0 ? 0x89 : 0x88));
                    w.Key("tags", keyMemo).Key("a", keyMemo).Key("b", keyMemo).Byte(0x86).Memoize();
                    w.Key("pos", keyMemo).Int(random.Next(1000)).Int(random.Next(100_000)).Byte(0x86).Memoize();
                    w.Byte((byte)'u'); // SETITEMS
                    break;
                case 2:
                    w.Int(i).Float(i * 0.5).Str($"t{i}").Memoize().Byte(0x87).Memoize();
                    break;
                default:
                    if (i % 8 == 3)
                    {
                        w.Str($"string-value-{i}").Memoize();
                    }
                    else
                    {
                        w.Float(-i / 3.0);
                    }

                    break;
            }

            w.MaybeEndFrame();
        }

        w.Byte((byte)'e').Byte((byte)'.');
        return w.Finish();
    }

    /// <summary>
    /// <c>pickle.dumps([{'a': i, 'b': str(i)} for i in range(items)], protocol=4)</c>, opcode by opcode as CPython
    /// writes it: every dict and every string memoized, the keys fetched from the memo after their first use.
    /// </summary>
    public static byte[] SmallDicts(int items)
    {
        var w = new Writer();
        w.Byte(0x80).Byte(4);
        w.Byte((byte)']').Memoize().Byte((byte)'(');
        var keyMemo = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < items; i++)
        {
            if (i > 0 && i % 1000 == 0)
            {
                w.Byte((byte)'e').Byte((byte)'('); // APPENDS, MARK
            }

            w.Byte((byte)'}').Memoize().Byte((byte)'(');
            w.Key("a", keyMemo).Int(i);
            w.Key("b", keyMemo).Str(i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Memoize();
            w.Byte((byte)'u'); // SETITEMS
            w.MaybeEndFrame();
        }

        w.Byte((byte)'e').Byte((byte)'.');
        return w.Finish();
    }

    /// <summary>
    /// A torch-style <c>OrderedDict</c> of tensors written with <c>STACK_GLOBAL</c>, <c>BINPERSID</c> storage tuples
    /// and <c>_rebuild_tensor_v2</c> calls: many calls, persistent ids and memo lookups.
    /// </summary>
    public static byte[] TorchStateDict(int tensors)
    {
        var w = new Writer();
        var memo = new Dictionary<string, int>(StringComparer.Ordinal);
        w.Byte(0x80).Byte(4);
        w.Global("collections", "OrderedDict", memo).Byte((byte)')').Byte((byte)'R').Memoize();
        for (var t = 0; t < tensors; t++)
        {
            w.Str($"layers.{t / 4}.block.weight{t % 4}").Memoize();
            w.Global("torch._utils", "_rebuild_tensor_v2", memo).Byte((byte)'(');
            w.Byte((byte)'(').Key("storage", memo).Global("torch", "FloatStorage", memo)
                .Str(t.ToString(System.Globalization.CultureInfo.InvariantCulture)).Memoize().Key("cpu", memo).Int(4096)
                .Byte((byte)'t').Memoize().Byte((byte)'Q');
            w.Int(0).Int(64).Int(64).Byte(0x86).Memoize().Int(64).Int(1).Byte(0x86).Memoize().Byte(0x89);
            w.Global("collections", "OrderedDict", memo).Byte((byte)')').Byte((byte)'R').Memoize();
            w.Byte((byte)'t').Memoize().Byte((byte)'R').Memoize();
            w.Byte((byte)'s'); // SETITEM into the OrderedDict
            w.MaybeEndFrame();
        }

        w.Byte((byte)'.');
        return w.Finish();
    }

    private sealed class Writer
    {
        private readonly MemoryStream _out = new();
        private readonly MemoryStream _frame = new();
        private int _memo;

        public Writer Byte(byte b)
        {
            _frame.WriteByte(b);
            return this;
        }

        public Writer Memoize()
        {
            _memo++;
            return Byte(0x94);
        }

        public Writer Int(long v)
        {
            if (v is >= 0 and < 256)
            {
                return Byte(0x4b).Byte((byte)v);
            }

            if (v is >= 0 and < 65536)
            {
                Span<byte> b2 = stackalloc byte[2];
                BinaryPrimitives.WriteUInt16LittleEndian(b2, (ushort)v);
                Byte(0x4d);
                _frame.Write(b2);
                return this;
            }

            Span<byte> b4 = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b4, (int)v);
            Byte(0x4a);
            _frame.Write(b4);
            return this;
        }

        public Writer Float(double v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleBigEndian(b, v);
            Byte(0x47);
            _frame.Write(b);
            return this;
        }

        public Writer Str(string s)
        {
            var utf8 = Encoding.UTF8.GetBytes(s);
            Byte(0x8c).Byte((byte)utf8.Length);
            _frame.Write(utf8);
            return this;
        }

        /// <summary>A string written once and fetched from the memo afterwards, as CPython does for repeated keys.</summary>
        public Writer Key(string s, Dictionary<string, int> memo)
        {
            if (memo.TryGetValue(s, out var index))
            {
                return Get(index);
            }

            memo[s] = _memo;
            return Str(s).Memoize();
        }

        public Writer Global(string module, string name, Dictionary<string, int> memo)
        {
            var key = module + " " + name;
            if (memo.TryGetValue(key, out var index))
            {
                return Get(index);
            }

            Key(module, memo).Key(name, memo).Byte(0x93);
            memo[key] = _memo;
            return Memoize();
        }

        public Writer Get(int index)
        {
            if (index < 256)
            {
                return Byte((byte)'h').Byte((byte)index);
            }

            Span<byte> b4 = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b4, (uint)index);
            Byte((byte)'j');
            _frame.Write(b4);
            return this;
        }

        public void MaybeEndFrame()
        {
            if (_frame.Length >= FrameTarget)
            {
                Flush();
            }
        }

        public byte[] Finish()
        {
            Flush();
            return _out.ToArray();
        }

        private void Flush()
        {
            if (_frame.Length == 0)
            {
                return;
            }

            // PROTO belongs outside the first frame, as CPython writes it.
            var body = _frame.ToArray();
            var start = 0;
            if (_out.Length == 0 && body.Length >= 2 && body[0] == 0x80)
            {
                _out.Write(body, 0, 2);
                start = 2;
            }

            Span<byte> header = stackalloc byte[9];
            header[0] = 0x95;
            BinaryPrimitives.WriteUInt64LittleEndian(header[1..], (ulong)(body.Length - start));
            _out.Write(header);
            _out.Write(body, start, body.Length - start);
            _frame.SetLength(0);
        }
    }
}
