using System.Text;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Opcodes;
using TrainGuard.Pickle.Tests.Support;

namespace TrainGuard.Pickle.Tests.Opcodes;

public class PickleOpcodeReaderTests
{
    /// <summary>Decodes every opcode of <paramref name="data"/>: (opcode, offset, value, argument) per opcode.</summary>
    private static List<(byte Opcode, int Offset, long Value, byte[] Argument)> DecodeAll(byte[] data, int maxArgumentBytes = int.MaxValue)
    {
        var decoded = new List<(byte, int, long, byte[])>();
        var reader = new PickleOpcodeReader(data, 0, maxArgumentBytes);
        while (reader.Position < data.Length)
        {
            var ins = reader.Read();
            decoded.Add((ins.Opcode, ins.Offset, ins.Value, ins.Argument.ToArray()));
        }

        return decoded;
    }

    private static MalformedInputException Fails(byte[] data, int maxArgumentBytes = int.MaxValue) =>
        Assert.Throws<MalformedInputException>(() => DecodeAll(data, maxArgumentBytes));

    [Fact]
    public void The_table_lists_the_68_opcodes_of_protocols_0_to_5_each_once_under_its_pickletools_name()
    {
        Assert.Equal(68, PickleOpcodes.All.Count);
        Assert.Equal(68, PickleOpcodes.All.Select(o => o.Name).Distinct().Count());
        Assert.All(PickleOpcodes.All, o => Assert.Same(o, PickleOpcodes.Lookup(o.Code)));
        Assert.All(PickleOpcodes.All, o => Assert.InRange(o.Protocol, 0, PickleOp.HighestProtocol));
        Assert.Equal("SHORT_BINUNICODE", PickleOp.Name(PickleOp.ShortBinUnicode));
        Assert.Equal("0xff", PickleOp.Name(0xff));
        Assert.Null(PickleOpcodes.Lookup(0));
        Assert.Equal(PickleArgument.SignedCounted4, PickleOpcodes.Lookup(PickleOp.BinString)!.Argument);
        Assert.Equal(PickleArgument.NamePair, PickleOpcodes.Lookup(PickleOp.Inst)!.Argument);
        Assert.Equal(PickleStackEffect.PopToMarkIntoCollection, PickleOpcodes.Lookup(PickleOp.SetItems)!.Stack);
    }

    [Fact]
    public void The_decoders_constant_layouts_are_the_ones_the_opcode_table_gives() =>
        Assert.True(PickleOpcodeReader.LayoutsMatchTable());

    public static TheoryData<byte[], long, string> Instructions => new()
    {
        { [(byte)'N'], 0, string.Empty },
        { [(byte)'K', 200], 200, "c8" },
        { [(byte)'M', 0x34, 0x12], 0x1234, "3412" },
        { [(byte)'J', 0xfe, 0xff, 0xff, 0xff], -2, "feffffff" },
        { [(byte)'j', 7, 0, 0, 0], 7, "07000000" },
        { [(byte)'G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], 0xf83f, "3ff8000000000000" },
        { [0x80, 4], 4, "04" },
        { [0x84, 5, 0, 0, 0], 5, "05000000" },
        { [0x95, 0, 0, 0, 0, 0, 0, 0, 0], 0, "0000000000000000" },
        { [0x8c, 3, (byte)'a', (byte)'b', (byte)'c'], 3, "616263" },
        { [(byte)'X', 2, 0, 0, 0, (byte)'h', (byte)'i'], 2, "6869" },
        { [0x8d, 1, 0, 0, 0, 0, 0, 0, 0, (byte)'z'], 1, "7a" },
        { [(byte)'T', 1, 0, 0, 0, (byte)'b'], 1, "62" },
        { [0x8b, 1, 0, 0, 0, 0xff], 1, "ff" },
        { "I-42\n"u8.ToArray(), 3, "2d3432" },
        { "g 12 \n"u8.ToArray(), 12, "20313220" },
        { "cos\nsystem\n"u8.ToArray(), 2, "6f730a73797374656d" },
    };

    [Theory]
    [MemberData(nameof(Instructions))]
    public void Every_argument_shape_decodes_alike_as_the_last_bytes_and_followed_by_more(byte[] instruction, long value, string argumentHex)
    {
        foreach (var data in new[] { instruction, [.. instruction, .. Enumerable.Repeat((byte)'N', 9)] })
        {
            var (opcode, offset, decodedValue, argument) = DecodeAll(data)[0];
            Assert.Equal(instruction[0], opcode);
            Assert.Equal(0, offset);
            Assert.Equal(value, decodedValue);
            Assert.Equal(argumentHex, Convert.ToHexStringLower(argument));
        }
    }

    /// <summary>Reads <paramref name="data"/>'s first opcode with the typed read its table entry calls for; null when none applies.</summary>
    private static (long Value, byte[] Payload, int Position)? TypedRead(byte[] data)
    {
        var reader = new PickleOpcodeReader(data);
        var code = reader.Peek();
        if (code is PickleOp.Proto or PickleOp.Ext1 or PickleOp.Ext2 or PickleOp.Ext4)
        {
            return null;
        }

        (long, byte[]) read = PickleOpcodes.Lookup(code)!.Argument switch
        {
            PickleArgument.None => Skip(ref reader),
            PickleArgument.UInt1 => (reader.ReadUInt1(), []),
            PickleArgument.UInt2 => (reader.ReadUInt2(), []),
            PickleArgument.Int4 => (reader.ReadInt4(), []),
            PickleArgument.UInt4 => (reader.ReadUInt4(), []),
            PickleArgument.UInt8 => (reader.ReadUInt8(), []),
            PickleArgument.Float8 => (reader.ReadFloat8(), []),
            PickleArgument.Counted1 => Payload(reader.ReadCounted1()),
            PickleArgument.Counted4 => Payload(reader.ReadCounted4()),
            PickleArgument.Counted8 => Payload(reader.ReadCounted8()),
            _ => (long.MinValue, []),
        };
        return read.Item1 == long.MinValue ? null : (read.Item1, read.Item2, reader.Position);

        static (long, byte[]) Skip(ref PickleOpcodeReader reader)
        {
            reader.ReadNoArgument();
            return (0, []);
        }

        static (long, byte[]) Payload(ReadOnlySpan<byte> payload) => (payload.Length, payload.ToArray());
    }

    [Theory]
    [MemberData(nameof(Instructions))]
    public void The_typed_reads_agree_with_the_general_read_and_fail_alike_when_cut(byte[] instruction, long value, string argumentHex)
    {
        _ = argumentHex;
        foreach (var data in new[] { instruction, [.. instruction, .. Enumerable.Repeat((byte)'N', 9)] })
        {
            if (TypedRead(data) is not { } typed)
            {
                return;
            }

            var general = new PickleOpcodeReader(data);
            var ins = general.Read();
            Assert.Equal(value, typed.Value);
            Assert.Equal(general.Position, typed.Position);
            if (PickleOpcodes.Lookup(instruction[0])!.IsCounted)
            {
                Assert.Equal(ins.Argument.ToArray(), typed.Payload);
            }
        }

        if (instruction.Length > 1)
        {
            var cut = instruction[..^1];
            var expected = Fails(cut).Message;
            Assert.Equal(expected, Assert.Throws<MalformedInputException>(() => TypedRead(cut)).Message);
        }
    }

    [Fact]
    public void Name_pairs_split_into_their_module_and_name_lines()
    {
        var data = "ctorch._utils\n_rebuild_tensor_v2\n"u8.ToArray();
        var reader = new PickleOpcodeReader(data);
        var ins = reader.Read();
        Assert.Equal("torch._utils", Encoding.ASCII.GetString(ins.FirstLine));
        Assert.Equal("_rebuild_tensor_v2", Encoding.ASCII.GetString(ins.SecondLine));
        Assert.Equal(data.Length, reader.Position);
    }

    [Fact]
    public void A_huge_declared_length_is_a_truncation_at_the_opcode_and_allocates_nothing()
    {
        var data = PickleBuilder.Create(4).Raw(0x8d).U64(ulong.MaxValue).Raw(1, 2, 3).ToArray();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Fails(data);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 100_000);
        Assert.StartsWith("truncated: BINUNICODE8 declares", e.Message, StringComparison.Ordinal);
        Assert.Equal(InputErrorKind.Truncated, e.Kind);
        Assert.Equal(2, e.Offset);
    }

    [Fact]
    public void An_argument_longer_than_the_limit_is_a_limit_error_when_the_input_holds_it()
    {
        var counted = Fails(PickleBuilder.Create(4).BinUnicode("abcdef").Stop().ToArray(), maxArgumentBytes: 4);
        Assert.True(counted.LimitExceeded);
        Assert.Contains("BINUNICODE value size (6 bytes)", counted.Message, StringComparison.Ordinal);

        var line = Fails("Vabcdef\n."u8.ToArray(), maxArgumentBytes: 4);
        Assert.Equal(InputErrorKind.OverLimit, line.Kind);
        Assert.Equal(0, line.Offset);

        Assert.Equal(2, DecodeAll("Vabcd\n."u8.ToArray(), maxArgumentBytes: 4).Count);
    }

    [Theory]
    [InlineData(new byte[] { 0xff }, "unknown opcode 0xff", 0)]
    [InlineData(new byte[] { (byte)'N', 0x00 }, "unknown opcode 0x00", 1)]
    [InlineData(new byte[] { 0x80, 0x06 }, "unsupported pickle protocol: 6", 0)]
    [InlineData(new byte[] { 0x82, 0x00 }, "EXT specifies code <= 0", 0)]
    [InlineData(new byte[] { 0x84, 0xff, 0xff, 0xff, 0xff }, "EXT specifies code <= 0", 0)]
    [InlineData(new byte[] { (byte)'T', 0xff, 0xff, 0xff, 0xff }, "BINSTRING pickle has negative byte count", 0)]
    [InlineData(new byte[] { 0x8b, 0xff, 0xff, 0xff, 0xff }, "LONG pickle has negative byte count", 0)]
    [InlineData(new byte[] { 0x95, 9, 0, 0, 0, 0, 0, 0, 0, (byte)'N' }, "truncated: FRAME declares 9 bytes but only 1 remain", 0)]
    [InlineData(new byte[] { (byte)'K' }, "truncated: BININT1 needs 1 bytes but only 0 remain", 0)]
    [InlineData(new byte[] { (byte)'c', (byte)'o', (byte)'s', (byte)'\n', (byte)'x' }, "no terminating newline", 0)]
    [InlineData(new byte[] { (byte)'g', (byte)'x', (byte)'\n' }, "GET argument is not a memo index", 0)]
    [InlineData(new byte[] { (byte)'p', (byte)'-', (byte)'1', (byte)'\n' }, "negative PUT argument", 0)]
    public void Malformed_arguments_are_errors_at_the_opcode(byte[] data, string message, long offset)
    {
        var e = Fails(data);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal(offset, e.Offset);
    }

    [Fact]
    public void Running_out_of_opcodes_says_whether_the_pickle_was_empty()
    {
        var empty = Assert.Throws<MalformedInputException>(() => new PickleOpcodeReader([]).Read());
        Assert.Contains("an empty pickle", empty.Message, StringComparison.Ordinal);

        var noStop = Assert.Throws<MalformedInputException>(() =>
        {
            var reader = new PickleOpcodeReader("N"u8);
            reader.Read();
            reader.Read();
        });
        Assert.Contains("no STOP opcode before the end", noStop.Message, StringComparison.Ordinal);
        Assert.Equal(1, noStop.Offset);
    }

    [Fact]
    public void Position_steps_over_bytes_a_loader_reads_itself()
    {
        byte[] data = [(byte)'K', 1, 0xff, 0xff, (byte)'N'];
        var reader = new PickleOpcodeReader(data);
        Assert.Equal(PickleOp.BinInt1, reader.Read().Opcode);
        reader.Position += 2;
        Assert.Equal(PickleOp.None, reader.Read().Opcode);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PickleOpcodeReader(data) { Position = data.Length + 1 });
    }

    [Fact]
    public void The_decoder_fuzz_target_only_throws_malformed_input_on_random_and_mutated_pickles()
    {
        var seeds = new[]
        {
            PickleBuilder.Create(4).Frame(20).Global("os", "system").BinUnicode8("x").Tuple1().Reduce().Stop().ToArray(),
            "(dp0\nS'a'\np1\nI1\nsVh\\u00e9\np3\nL12345678901234567890L\ns."u8.ToArray(),
            PickleBuilder.Create(5).NextBuffer().ReadOnlyBuffer().ByteArray8([1, 2]).Raw(0x8b).I32(1).Raw(0x80).Stop().ToArray(),
        };
        Assert.Equal(10_000, FuzzHarness.Run(PickleOpcodeReader.Fuzz, seeds, 10_000, seed: 777, alphabet: FuzzInputs.Opcodes, maxLength: FuzzInputs.SoupLength));
    }
}
