using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TrainGuard.Parsing;

namespace TrainGuard.Pickle.Opcodes;

/// <summary>
/// One decoded opcode: its byte, where it starts and its argument, checked against the input and the limit
/// the <see cref="PickleOpcodeReader"/> was given.
/// </summary>
public readonly ref struct PickleInstruction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal PickleInstruction(byte opcode, int offset, long value, ReadOnlySpan<byte> argument, int end)
    {
        Opcode = opcode;
        Offset = offset;
        Value = value;
        Argument = argument;
        End = end;
    }

    public byte Opcode { get; }

    /// <summary>Offset of the opcode byte in the data the reader was given.</summary>
    public int Offset { get; }

    /// <summary>
    /// The value of a fixed-width integer argument (sign-extended for <see cref="PickleArgument.Int4"/>; the raw
    /// little-endian bits for <see cref="PickleArgument.Float8"/>), the byte count of a counted argument, the length
    /// of a line argument (the memo index, for <see cref="PickleArgument.MemoIndexLine"/>), or for
    /// <see cref="PickleArgument.NamePair"/> the length of the first line.
    /// </summary>
    public long Value { get; }

    /// <summary>
    /// The argument's bytes: the fixed-width bytes, the payload after a count, or a line without its newline
    /// (both lines, joined by their newline, for <see cref="PickleArgument.NamePair"/>).
    /// </summary>
    public ReadOnlySpan<byte> Argument { get; }

    /// <summary>Offset just past the opcode and its argument: where the next opcode starts.</summary>
    public int End { get; }

    /// <summary>Offset of <see cref="Argument"/> in the data the reader was given.</summary>
    public int ArgumentOffset => Offset + 1 + (PickleOpcodes.Lookup(Opcode) is { IsCounted: true } info ? info.Width : 0);

    /// <summary>The module line of a <see cref="PickleArgument.NamePair"/> (<c>GLOBAL</c>, <c>INST</c>).</summary>
    public ReadOnlySpan<byte> FirstLine => Argument[..(int)Value];

    /// <summary>The name line of a <see cref="PickleArgument.NamePair"/>.</summary>
    public ReadOnlySpan<byte> SecondLine => Argument[((int)Value + 1)..];
}

/// <summary>
/// The one pickle opcode decoder: walks opcodes from a start offset and yields each with its offset and its
/// argument as <see cref="PickleOpcodes"/> describes it. Every width and declared length is checked against what
/// remains of the input (a huge declared length is a truncation error, never an allocation) and against
/// <c>maxArgumentBytes</c>; negative counts, unknown opcodes, unsupported protocols, extension codes &lt;= 0 and
/// FRAMEs running past the end are errors. Errors are <see cref="MalformedInputException"/>s at the opcode's offset.
/// Decoding allocates nothing; what the opcodes mean (stack, memo, values) is the caller's.
/// </summary>
public ref struct PickleOpcodeReader
{
    // Layout of each opcode byte for the decoder: the form in the high nibble, the width of the fixed argument
    // or of the count in the low nibble (0xff: no opcode). Derived from PickleOpcodes (LayoutsFromTable; a test
    // checks that the two agree) and kept as constant data, so the decoder needs no static initialisation and
    // indexes it without a bounds check.
    private const byte FormFixed = 0x00;
    private const byte FormSigned = 0x10;
    private const byte FormCounted = 0x20;
    private const byte FormSignedCounted = 0x30;
    private const byte FormChecked = 0x40;
    private const byte FormLine = 0x50;
    private const byte FormNamePair = 0x60;
    private const byte FormMask = 0xf0;
    private const byte WidthMask = 0x0f;
    private const byte Unknown = 0xff;

    private readonly ReadOnlySpan<byte> _data;
    private readonly int _start;
    private readonly int _maxArgument;
    private int _pos;

    /// <summary>A reader over <paramref name="data"/> starting at <paramref name="start"/>.</summary>
    /// <param name="data">The input; offsets are relative to it.</param>
    /// <param name="start">Where the pickle starts.</param>
    /// <param name="maxArgumentBytes">Longest counted or line argument accepted (a longer one fits in the input but is a limit error).</param>
    public PickleOpcodeReader(ReadOnlySpan<byte> data, int start = 0, int maxArgumentBytes = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)start, (uint)data.Length, nameof(start));
        ArgumentOutOfRangeException.ThrowIfNegative(maxArgumentBytes);
        _data = data;
        _start = start;
        _pos = start;
        _maxArgument = maxArgumentBytes;
    }

    /// <summary>Offset of the next opcode. Set it to step over bytes a loader reads from the stream itself (joblib arrays).</summary>
    public int Position
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly get => _pos;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        set
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)value, (uint)_data.Length, nameof(value));
            _pos = value;
        }
    }

    private static ReadOnlySpan<byte> Layouts =>
    [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0x00
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0x10
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, // 0x20
        0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0x30
        0xff, 0xff, 0x24, 0x21, 0xff, 0xff, 0x50, 0x08, 0xff, 0x50, 0x14, 0x01, 0x50, 0x02, 0x00, 0xff, // 0x40
        0x50, 0x00, 0x00, 0x50, 0x34, 0x21, 0x50, 0xff, 0x24, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, // 0x50
        0xff, 0x00, 0x00, 0x60, 0x00, 0x00, 0xff, 0x50, 0x01, 0x60, 0x04, 0xff, 0x00, 0xff, 0xff, 0x00, // 0x60
        0x50, 0x01, 0x04, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, // 0x70
        0x41, 0x00, 0x41, 0x42, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x34, 0x21, 0x28, 0x28, 0x00, // 0x80
        0x00, 0x00, 0x00, 0x00, 0x00, 0x48, 0x28, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0x90
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0xa0
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0xb0
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0xc0
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0xd0
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0xe0
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0xf0
    ];

    /// <summary>
    /// The opcode byte at <see cref="Position"/>, not yet decoded: for a machine that dispatches on it first and then
    /// reads it with the read its argument needs (<see cref="ReadNoArgument"/>, <see cref="ReadUInt1"/>...), each a
    /// small inlined specialisation of <see cref="Read"/> for one argument shape of the opcode table.
    /// </summary>
    /// <exception cref="MalformedInputException">The input ends before another opcode.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly byte Peek()
    {
        var pos = _pos;
        if ((uint)pos >= (uint)_data.Length)
        {
            ThrowEndOfInput(pos, _start);
        }

        return _data[pos];
    }

    /// <summary>Decodes the opcode at <see cref="Position"/>, whatever it is, and moves past it and its argument.</summary>
    /// <exception cref="MalformedInputException">The input ends first, the byte is no opcode, or the argument is malformed or over the limit.</exception>
    public PickleInstruction Read()
    {
        var opcode = Peek();
        var pos = _pos;
        var layout = Layouts[opcode];
        switch (layout)
        {
            case FormFixed:
                _pos = pos + 1;
                return new PickleInstruction(opcode, pos, 0, default, pos + 1);
            case FormFixed | 1:
                return Instruction(opcode, pos, Fixed(1, signed: false));
            case FormFixed | 2:
                return Instruction(opcode, pos, Fixed(2, signed: false));
            case FormFixed | 4:
                return Instruction(opcode, pos, Fixed(4, signed: false));
            case FormFixed | 8:
                return Instruction(opcode, pos, Fixed(8, signed: false));
            case FormSigned | 4:
                return Instruction(opcode, pos, Fixed(4, signed: true));
            case FormCounted | 1:
            case FormCounted | 4:
            case FormCounted | 8:
            case FormSignedCounted | 4:
                {
                    var payload = Counted(layout & WidthMask, layout == (FormSignedCounted | 4));
                    return new PickleInstruction(opcode, pos, payload.Length, payload, _pos);
                }

            default:
                return Slow(pos);
        }
    }

    /// <summary>Moves past the opcode at <see cref="Position"/>, one that takes no argument (<see cref="PickleArgument.None"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ReadNoArgument()
    {
        AssertLayout(FormFixed);
        _pos++;
    }

    /// <summary>Reads the opcode at <see cref="Position"/>, one with a <see cref="PickleArgument.UInt1"/> argument (not PROTO or EXT1), and returns the argument.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ReadUInt1()
    {
        AssertLayout(FormFixed | 1);
        return Fixed(1, signed: false);
    }

    /// <summary>Reads the opcode at <see cref="Position"/>, one with a <see cref="PickleArgument.UInt2"/> argument (not EXT2), and returns the argument.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ReadUInt2()
    {
        AssertLayout(FormFixed | 2);
        return Fixed(2, signed: false);
    }

    /// <summary>Reads the opcode at <see cref="Position"/>, one with an <see cref="PickleArgument.Int4"/> argument (not EXT4), and returns the argument.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ReadInt4()
    {
        AssertLayout(FormSigned | 4);
        return Fixed(4, signed: true);
    }

    /// <summary>Reads the opcode at <see cref="Position"/>, one with a <see cref="PickleArgument.UInt4"/> argument, and returns the argument.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ReadUInt4()
    {
        AssertLayout(FormFixed | 4);
        return Fixed(4, signed: false);
    }

    /// <summary>
    /// Reads the opcode at <see cref="Position"/>, one with a <see cref="PickleArgument.UInt8"/> argument (FRAME, whose
    /// frame must lie inside the input), and returns the argument.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ReadUInt8()
    {
        AssertLayout(FormChecked | 8);
        var data = _data;
        var arg = _pos + 1;
        if (data.Length - arg >= sizeof(ulong))
        {
            var frame = BinaryPrimitives.ReadUInt64LittleEndian(Unchecked(data, arg, sizeof(ulong)));
            if (frame <= (ulong)(data.Length - arg - sizeof(ulong)))
            {
                _pos = arg + sizeof(ulong);
                return (long)frame;
            }
        }

        return Slow(_pos).Value;
    }

    /// <summary>Reads the opcode at <see cref="Position"/>, one with a <see cref="PickleArgument.Float8"/> argument, and returns its raw little-endian bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ReadFloat8()
    {
        AssertLayout(FormFixed | 8);
        return Fixed(8, signed: false);
    }

    /// <summary>Reads the opcode at <see cref="Position"/>, one with a <see cref="PickleArgument.Counted1"/> argument, and returns the payload.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> ReadCounted1()
    {
        AssertLayout(FormCounted | 1);
        return Counted(1, signed: false);
    }

    /// <summary>Reads the opcode at <see cref="Position"/>, one with a <see cref="PickleArgument.Counted4"/> argument, and returns the payload.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> ReadCounted4()
    {
        AssertLayout(FormCounted | 4);
        return Counted(4, signed: false);
    }

    /// <summary>Reads the opcode at <see cref="Position"/>, one with a <see cref="PickleArgument.Counted8"/> argument, and returns the payload.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> ReadCounted8()
    {
        AssertLayout(FormCounted | 8);
        return Counted(8, signed: false);
    }

    /// <summary>
    /// Fuzz target: decodes every opcode of arbitrary bytes with and without an argument limit; only
    /// <see cref="MalformedInputException"/> may escape.
    /// </summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        foreach (var limit in (ReadOnlySpan<int>)[int.MaxValue, 16])
        {
            var reader = new PickleOpcodeReader(data, 0, limit);
            try
            {
                while (reader.Read().Opcode != PickleOp.Stop)
                {
                }
            }
            catch (MalformedInputException)
            {
                // Decoding stops at the first opcode that cannot be read.
            }
        }
    }

    // ---------------------------------------------------------------- the fast paths

    /// <summary>
    /// A fixed-width argument of <paramref name="width"/> bytes (a constant where inlined, so this folds to one
    /// bounds check and one read); the input's last bytes and every error go to <see cref="Decode"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Fixed(int width, bool signed)
    {
        var data = _data;
        var arg = _pos + 1;
        if (data.Length - arg < width)
        {
            return Slow(_pos).Value;
        }

        var bytes = Unchecked(data, arg, width);
        ulong raw = width switch
        {
            1 => bytes[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        };
        _pos = arg + width;
        return signed ? (int)(uint)raw : (long)raw;
    }

    /// <summary>
    /// A count of <paramref name="width"/> bytes and the payload it declares, checked against the input and the
    /// limit; the input's last bytes and every error go to <see cref="Decode"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<byte> Counted(int width, bool signed)
    {
        var data = _data;
        var arg = _pos + 1;
        var payload = arg + width;
        if (data.Length - arg >= width)
        {
            var count = Unchecked(data, arg, width);
            ulong raw = width switch
            {
                1 => count[0],
                4 => BinaryPrimitives.ReadUInt32LittleEndian(count),
                _ => BinaryPrimitives.ReadUInt64LittleEndian(count),
            };
            if (raw <= (ulong)(data.Length - payload) && raw <= (ulong)_maxArgument && (!signed || (int)(uint)raw >= 0))
            {
                _pos = payload + (int)raw;
                return Unchecked(data, payload, (int)raw);
            }
        }

        return Slow(_pos).Argument;
    }

    /// <summary>The fixed-width instruction <see cref="Fixed"/> just read.</summary>
    private readonly PickleInstruction Instruction(byte opcode, int pos, long value) =>
        new(opcode, pos, value, _data[(pos + 1).._pos], _pos);

    /// <summary>Everything the fast paths leave: the input's last bytes, lines, checked arguments, errors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private PickleInstruction Slow(int pos)
    {
        var instruction = Decode(_data, pos, _maxArgument);
        _pos = instruction.End;
        return instruction;
    }

    [Conditional("DEBUG")]
    private readonly void AssertLayout(byte layout) =>
        Debug.Assert(
            _pos < _data.Length && Layouts[_data[_pos]] == layout,
            $"the opcode at {_pos} is not one whose argument this read decodes");

    // ---------------------------------------------------------------- the slow path

    /// <summary>A span over bytes already checked to lie inside <paramref name="data"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ReadOnlySpan<byte> Unchecked(ReadOnlySpan<byte> data, int start, int length) =>
        MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref MemoryMarshal.GetReference(data), start), length);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PickleInstruction Decode(ReadOnlySpan<byte> data, int pos, int maxArgument)
    {
        var code = data[pos];
        var layout = Layouts[code];
        if (layout == Unknown)
        {
            Fail(UnknownOpcodeMessage(code), pos);
        }

        var arg = pos + 1;
        var rest = data.Length - arg;
        var form = layout & FormMask;
        var width = layout & WidthMask;
        if (form >= FormLine)
        {
            var end = LineEnd(data, arg, maxArgument, code, pos);
            var first = end - arg;
            if (form == FormNamePair)
            {
                end = LineEnd(data, end + 1, maxArgument, code, pos);
            }

            var line = data[arg..end];
            return new PickleInstruction(code, pos, code is PickleOp.Get or PickleOp.Put ? MemoIndex(line, code, pos) : first, line, end + 1);
        }

        if (width > rest)
        {
            Fail($"truncated: {PickleOp.Name(code)} needs {width:N0} bytes but only {Math.Max(rest, 0):N0} remain", pos, InputErrorKind.Truncated);
        }

        var raw = ReadLittleEndian(data.Slice(arg, width));
        switch (form)
        {
            case FormFixed:
                return new PickleInstruction(code, pos, (long)raw, data.Slice(arg, width), arg + width);
            case FormSigned:
                return new PickleInstruction(code, pos, (int)(uint)raw, data.Slice(arg, width), arg + width);
            case FormChecked:
                return new PickleInstruction(code, pos, CheckedValue(code, raw, rest - width, pos), data.Slice(arg, width), arg + width);
            default:
                {
                    var payload = arg + width;
                    var n = CountedLength(code, raw, form == FormSignedCounted, data.Length - payload, maxArgument, pos);
                    return new PickleInstruction(code, pos, n, data.Slice(payload, n), payload + n);
                }
        }
    }

    /// <summary>The memo index a GET or PUT line spells (decimal, blanks around it allowed, never negative).</summary>
    private static long MemoIndex(ReadOnlySpan<byte> line, byte code, int pos)
    {
        if (!Machine.TextCodecs.TryParseDecimal(line, out var index))
        {
            Fail($"{PickleOp.Name(code)} argument is not a memo index", pos);
        }

        if (index < 0)
        {
            Fail($"negative {PickleOp.Name(code)} argument", pos);
        }

        return index;
    }

    /// <summary>PROTO, EXT1/2/4 and FRAME: arguments whose value alone can be wrong.</summary>
    private static long CheckedValue(byte code, ulong raw, int after, int pos)
    {
        switch (code)
        {
            case PickleOp.Proto:
                if (raw > PickleOp.HighestProtocol)
                {
                    Fail($"unsupported pickle protocol: {raw}", pos, InputErrorKind.Unsupported);
                }

                return (long)raw;
            case PickleOp.Frame:
                if (raw > (ulong)after)
                {
                    Fail($"truncated: FRAME declares {raw:N0} bytes but only {after:N0} remain", pos, InputErrorKind.Truncated);
                }

                return (long)raw;
            default:
                var ext = code == PickleOp.Ext4 ? (int)(uint)raw : (long)raw;
                if (ext <= 0)
                {
                    Fail("EXT specifies code <= 0", pos);
                }

                return ext;
        }
    }

    private static int CountedLength(byte code, ulong raw, bool signed, int left, int maxArgument, int pos)
    {
        if (signed && (int)(uint)raw < 0)
        {
            Fail($"{(code == PickleOp.Long4 ? "LONG" : PickleOp.Name(code))} pickle has negative byte count", pos);
        }

        if (raw > (ulong)left)
        {
            Fail($"truncated: {PickleOp.Name(code)} declares {raw:N0} bytes but only {left:N0} remain", pos, InputErrorKind.Truncated);
        }

        if (raw > (ulong)maxArgument)
        {
            ThrowArgumentLimit(code, (long)raw, maxArgument, pos);
        }

        return (int)raw;
    }

    /// <summary>Index of the newline ending the line at <paramref name="start"/>, looking no further than the limit allows.</summary>
    private static int LineEnd(ReadOnlySpan<byte> data, int start, int maxArgument, byte code, int pos)
    {
        var rest = data.Length - start;
        var window = data.Slice(start, Math.Min(rest, maxArgument == int.MaxValue ? rest : maxArgument + 1));
        var newline = window.IndexOf((byte)'\n');
        if (newline < 0)
        {
            if (window.Length < rest)
            {
                ThrowArgumentLimit(code, window.Length, maxArgument, pos);
            }

            Fail($"truncated: the text argument of {PickleOp.Name(code)} has no terminating newline", pos, InputErrorKind.Truncated);
        }

        return start + newline;
    }

    private static ulong ReadLittleEndian(ReadOnlySpan<byte> bytes)
    {
        ulong value = 0;
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            value = (value << 8) | bytes[i];
        }

        return value;
    }

    private static string UnknownOpcodeMessage(byte code) =>
        code is >= 0x20 and < 0x7f
            ? $"unknown opcode 0x{code:x2} ('{(char)code}'): not a pickle opcode of protocols 0-5"
            : $"unknown opcode 0x{code:x2}: not a pickle opcode of protocols 0-5";

    /// <summary><see cref="Layouts"/> as the opcode table gives it (the constant copy must equal this).</summary>
    internal static byte[] LayoutsFromTable()
    {
        var layouts = new byte[256];
        Array.Fill(layouts, Unknown);
        foreach (var info in PickleOpcodes.All)
        {
            var form = info.Code is PickleOp.Proto or PickleOp.Ext1 or PickleOp.Ext2 or PickleOp.Ext4 or PickleOp.Frame
                ? FormChecked
                : info.Argument switch
                {
                    PickleArgument.Int4 => FormSigned,
                    PickleArgument.Counted1 or PickleArgument.Counted4 or PickleArgument.Counted8 => FormCounted,
                    PickleArgument.SignedCounted4 => FormSignedCounted,
                    PickleArgument.NamePair => FormNamePair,
                    _ when info.IsLine => FormLine,
                    _ => FormFixed,
                };
            layouts[info.Code] = (byte)(form | info.Width);
        }

        return layouts;
    }

    /// <summary>True when the constant layouts the decoder uses are the ones the opcode table gives.</summary>
    internal static bool LayoutsMatchTable() => Layouts.SequenceEqual(LayoutsFromTable());

    [DoesNotReturn]
    private static void ThrowEndOfInput(int pos, int start) =>
        MalformedInputException.ThrowTruncated(pos == start ? "an empty pickle (no opcodes)" : "the pickle (no STOP opcode before the end)", pos);

    [DoesNotReturn]
    private static void ThrowArgumentLimit(byte code, long length, int maxArgument, int pos) =>
        MalformedInputException.ThrowLimit($"{PickleOp.Name(code)} value size ({length:N0} bytes)", maxArgument, pos);

    [DoesNotReturn]
    private static void Fail(string message, int pos, InputErrorKind kind = InputErrorKind.Syntax) => MalformedInputException.Throw(kind, message, pos);
}
