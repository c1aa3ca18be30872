namespace TrainGuard.Formats.Detection;

/// <summary>
/// Decides whether bytes look like the start of a pickle without a <c>PROTO</c> opcode (protocols 0 and 1),
/// by walking the first opcodes: each must be a real opcode, its argument must have the right shape, and a
/// loose model of the stack and marks must never underflow. Precise enough that text, JSON and random
/// binaries are not taken for pickles; a stream of valid opcodes that is merely truncated still counts.
/// </summary>
public static class PickleSniffer
{
    /// <summary>How many bytes of opcodes are walked before deciding.</summary>
    public const int WalkBytes = 64;

    /// <summary>Longest newline-terminated argument accepted (GLOBAL module names, decimal literals).</summary>
    public const int MaxLineArgument = 256;

    private const int MaxMarks = WalkBytes;

    private enum Arg : byte
    {
        None,
        Fixed1,
        Fixed2,
        Fixed4,
        Fixed8,
        Len1,
        Len4,
        Len8,
        IntLine,
        LongLine,
        DecimalLine,
        FloatLine,
        QuotedLine,
        AnyLine,
        TwoNames,
        Proto,
    }

    private enum Stack : byte
    {
        /// <summary>Pops <c>Pop</c> items then pushes <c>Push</c>.</summary>
        Plain,

        /// <summary>Pushes a mark.</summary>
        PushMark,

        /// <summary>Pops everything down to the top mark, then pushes <c>Push</c>.</summary>
        PopToMark,

        /// <summary>Pops down to the top mark and needs one item (the collection) below it.</summary>
        PopToMarkIntoCollection,

        /// <summary>Needs at least one item; changes nothing (PUT, MEMOIZE).</summary>
        NeedsOne,

        /// <summary>End of the pickle.</summary>
        Stop,
    }

    private readonly record struct Op(Arg Arg, Stack Stack, byte Pop, byte Push);

    /// <summary>True when <paramref name="head"/> starts like a pickle. The whole length of the input is unknown.</summary>
    public static bool LooksLikePickle(ReadOnlySpan<byte> head) => LooksLikePickle(head, long.MaxValue);

    /// <summary>True when <paramref name="head"/> (the first bytes of an input of <paramref name="totalLength"/> bytes) starts like a pickle.</summary>
    public static bool LooksLikePickle(ReadOnlySpan<byte> head, long totalLength)
    {
        if (head.IsEmpty)
        {
            return false;
        }

        if (head[0] == 0x80)
        {
            return head.Length >= 2 && head[1] is >= 2 and <= 5;
        }

        Span<int> marks = stackalloc int[MaxMarks];
        var markCount = 0;
        var depth = 0;
        var opcodes = 0;
        var pos = 0;
        while (pos < head.Length && pos < WalkBytes)
        {
            var op = Lookup(head[pos]);
            if (op is not { } known)
            {
                return false;
            }

            var argStart = pos + 1;
            var argEnd = ArgumentEnd(head, argStart, known.Arg, totalLength);
            if (argEnd == Invalid)
            {
                return false;
            }

            var floor = markCount > 0 ? marks[markCount - 1] : 0;
            switch (known.Stack)
            {
                case Stack.Plain:
                    if (depth - floor < known.Pop)
                    {
                        return false;
                    }

                    depth = depth - known.Pop + known.Push;
                    break;
                case Stack.PushMark:
                    if (markCount == MaxMarks)
                    {
                        return false;
                    }

                    marks[markCount++] = depth;
                    break;
                case Stack.PopToMark:
                    if (markCount == 0 || (head[pos] == (byte)'o' && depth == floor))
                    {
                        return false;
                    }

                    depth = floor + known.Push;
                    markCount--;
                    break;
                case Stack.PopToMarkIntoCollection:
                    if (markCount == 0 || floor < 1)
                    {
                        return false;
                    }

                    depth = floor;
                    markCount--;
                    break;
                case Stack.NeedsOne:
                    if (depth - floor < 1)
                    {
                        return false;
                    }

                    break;
                case Stack.Stop:
                    return opcodes >= 1 && depth >= 1 && markCount == 0;
            }

            opcodes++;
            if (argEnd == RunsPastHead)
            {
                // The argument continues beyond what we were given: everything so far was valid.
                return opcodes >= 2 || IsDistinctiveOpening(head);
            }

            pos = argEnd;
        }

        return opcodes >= 2;
    }

    private const int Invalid = -1;
    private const int RunsPastHead = -2;

    private static bool IsDistinctiveOpening(ReadOnlySpan<byte> head) =>
        head.Length >= 2 && head[0] is (byte)'S' or (byte)'c' && head[1] is (byte)'\'' or (byte)'"' or (>= (byte)'a' and <= (byte)'z');

    private static int ArgumentEnd(ReadOnlySpan<byte> head, int start, Arg arg, long totalLength)
    {
        switch (arg)
        {
            case Arg.None:
                return start;
            case Arg.Fixed1:
                return Fixed(head, start, 1, totalLength);
            case Arg.Fixed2:
                return Fixed(head, start, 2, totalLength);
            case Arg.Fixed4:
                return Fixed(head, start, 4, totalLength);
            case Arg.Fixed8:
                return Fixed(head, start, 8, totalLength);
            case Arg.Proto:
                return start < head.Length && head[start] <= 5 ? start + 1 : Invalid;
            case Arg.Len1:
            case Arg.Len4:
            case Arg.Len8:
            {
                var width = arg switch { Arg.Len1 => 1, Arg.Len4 => 4, _ => 8 };
                if (start + width > head.Length)
                {
                    return start + width > totalLength ? Invalid : RunsPastHead;
                }

                ulong length = 0;
                for (var i = width - 1; i >= 0; i--)
                {
                    length = (length << 8) | head[start + i];
                }

                var dataStart = start + width;
                if (length > (ulong)Math.Max(0, totalLength - dataStart))
                {
                    return Invalid;
                }

                return length > (ulong)(head.Length - dataStart) ? RunsPastHead : dataStart + (int)length;
            }

            default:
                return LineArgument(head, start, arg);
        }
    }

    private static int Fixed(ReadOnlySpan<byte> head, int start, int width, long totalLength)
    {
        if (start + width <= head.Length)
        {
            return start + width;
        }

        return start + width > totalLength ? Invalid : RunsPastHead;
    }

    private static int LineArgument(ReadOnlySpan<byte> head, int start, Arg arg)
    {
        var window = head[start..Math.Min(head.Length, start + MaxLineArgument)];
        var newline = window.IndexOf((byte)'\n');
        if (newline < 0)
        {
            return window.Length < MaxLineArgument && start + window.Length == head.Length && PrefixPlausible(window, arg) ? RunsPastHead : Invalid;
        }

        var line = window[..newline];
        if (arg == Arg.TwoNames)
        {
            if (!IsName(line))
            {
                return Invalid;
            }

            var second = LineArgument(head, start + newline + 1, Arg.AnyLine);
            if (second == RunsPastHead)
            {
                return RunsPastHead;
            }

            return second == Invalid || !IsName(head[(start + newline + 1)..(second - 1)]) ? Invalid : second;
        }

        return IsValidLine(line, arg) ? start + newline + 1 : Invalid;
    }

    private static bool PrefixPlausible(ReadOnlySpan<byte> partial, Arg arg) => arg switch
    {
        Arg.QuotedLine => partial.IsEmpty || partial[0] is (byte)'\'' or (byte)'"',
        Arg.TwoNames => partial.IndexOfAnyExcept(NameBytes) < 0 || IsNameThenPartial(partial),
        Arg.IntLine or Arg.LongLine or Arg.DecimalLine => partial.IndexOfAnyExcept("-+0123456789"u8) < 0,
        _ => true,
    };

    private static bool IsNameThenPartial(ReadOnlySpan<byte> partial)
    {
        var newline = partial.IndexOf((byte)'\n');
        return newline > 0 && IsName(partial[..newline]) && partial[(newline + 1)..].IndexOfAnyExcept(NameBytes) < 0;
    }

    private static ReadOnlySpan<byte> NameBytes => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."u8;

    private static bool IsName(ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty || text[0] is >= (byte)'0' and <= (byte)'9' || text[0] == (byte)'.')
        {
            return false;
        }

        foreach (var b in text)
        {
            if (b < 0x80 && NameBytes.IndexOf(b) < 0)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsValidLine(ReadOnlySpan<byte> line, Arg arg)
    {
        switch (arg)
        {
            case Arg.IntLine:
                return IsDecimal(line, allowSign: true);
            case Arg.LongLine:
                return IsDecimal(line.EndsWith("L"u8) ? line[..^1] : line, allowSign: true);
            case Arg.DecimalLine:
                return IsDecimal(line, allowSign: false);
            case Arg.FloatLine:
                return !line.IsEmpty && (line.IndexOfAnyExcept("+-.0123456789eE"u8) < 0 || line.SequenceEqual("nan"u8) || line.SequenceEqual("inf"u8) || line.SequenceEqual("-inf"u8));
            case Arg.QuotedLine:
                return line.Length >= 2 && line[0] is (byte)'\'' or (byte)'"' && line[^1] == line[0];
            default:
                foreach (var b in line)
                {
                    if (b < 0x20 && b != (byte)'\t')
                    {
                        return false;
                    }
                }

                return true;
        }
    }

    private static bool IsDecimal(ReadOnlySpan<byte> text, bool allowSign)
    {
        if (allowSign && !text.IsEmpty && text[0] is (byte)'-' or (byte)'+')
        {
            text = text[1..];
        }

        return !text.IsEmpty && text.IndexOfAnyExcept("0123456789"u8) < 0;
    }

    private static Op? Lookup(byte opcode) => opcode switch
    {
        (byte)'(' => new Op(Arg.None, Stack.PushMark, 0, 0),
        (byte)'.' => new Op(Arg.None, Stack.Stop, 0, 0),
        (byte)'0' => new Op(Arg.None, Stack.Plain, 1, 0),
        (byte)'1' => new Op(Arg.None, Stack.PopToMark, 0, 0),
        (byte)'2' => new Op(Arg.None, Stack.Plain, 1, 2),
        (byte)'F' => new Op(Arg.FloatLine, Stack.Plain, 0, 1),
        (byte)'I' => new Op(Arg.IntLine, Stack.Plain, 0, 1),
        (byte)'J' => new Op(Arg.Fixed4, Stack.Plain, 0, 1),
        (byte)'K' => new Op(Arg.Fixed1, Stack.Plain, 0, 1),
        (byte)'L' => new Op(Arg.LongLine, Stack.Plain, 0, 1),
        (byte)'M' => new Op(Arg.Fixed2, Stack.Plain, 0, 1),
        (byte)'N' => new Op(Arg.None, Stack.Plain, 0, 1),
        (byte)'P' => new Op(Arg.AnyLine, Stack.Plain, 0, 1),
        (byte)'Q' => new Op(Arg.None, Stack.Plain, 1, 1),
        (byte)'R' => new Op(Arg.None, Stack.Plain, 2, 1),
        (byte)'S' => new Op(Arg.QuotedLine, Stack.Plain, 0, 1),
        (byte)'T' => new Op(Arg.Len4, Stack.Plain, 0, 1),
        (byte)'U' => new Op(Arg.Len1, Stack.Plain, 0, 1),
        (byte)'V' => new Op(Arg.AnyLine, Stack.Plain, 0, 1),
        (byte)'X' => new Op(Arg.Len4, Stack.Plain, 0, 1),
        (byte)'a' => new Op(Arg.None, Stack.Plain, 2, 1),
        (byte)'b' => new Op(Arg.None, Stack.Plain, 2, 1),
        (byte)'c' => new Op(Arg.TwoNames, Stack.Plain, 0, 1),
        (byte)'d' => new Op(Arg.None, Stack.PopToMark, 0, 1),
        (byte)'}' => new Op(Arg.None, Stack.Plain, 0, 1),
        (byte)'e' => new Op(Arg.None, Stack.PopToMarkIntoCollection, 0, 0),
        (byte)'g' => new Op(Arg.DecimalLine, Stack.Plain, 0, 1),
        (byte)'h' => new Op(Arg.Fixed1, Stack.Plain, 0, 1),
        (byte)'i' => new Op(Arg.TwoNames, Stack.PopToMark, 0, 1),
        (byte)'j' => new Op(Arg.Fixed4, Stack.Plain, 0, 1),
        (byte)'l' => new Op(Arg.None, Stack.PopToMark, 0, 1),
        (byte)']' => new Op(Arg.None, Stack.Plain, 0, 1),
        (byte)'o' => new Op(Arg.None, Stack.PopToMark, 0, 1),
        (byte)'p' => new Op(Arg.DecimalLine, Stack.NeedsOne, 0, 0),
        (byte)'q' => new Op(Arg.Fixed1, Stack.NeedsOne, 0, 0),
        (byte)'r' => new Op(Arg.Fixed4, Stack.NeedsOne, 0, 0),
        (byte)'s' => new Op(Arg.None, Stack.Plain, 3, 1),
        (byte)'t' => new Op(Arg.None, Stack.PopToMark, 0, 1),
        (byte)')' => new Op(Arg.None, Stack.Plain, 0, 1),
        (byte)'u' => new Op(Arg.None, Stack.PopToMarkIntoCollection, 0, 0),
        (byte)'G' => new Op(Arg.Fixed8, Stack.Plain, 0, 1),
        (byte)'B' => new Op(Arg.Len4, Stack.Plain, 0, 1),
        (byte)'C' => new Op(Arg.Len1, Stack.Plain, 0, 1),
        0x80 => new Op(Arg.Proto, Stack.Plain, 0, 0),
        0x81 => new Op(Arg.None, Stack.Plain, 2, 1),
        0x82 => new Op(Arg.Fixed1, Stack.Plain, 0, 1),
        0x83 => new Op(Arg.Fixed2, Stack.Plain, 0, 1),
        0x84 => new Op(Arg.Fixed4, Stack.Plain, 0, 1),
        0x85 => new Op(Arg.None, Stack.Plain, 1, 1),
        0x86 => new Op(Arg.None, Stack.Plain, 2, 1),
        0x87 => new Op(Arg.None, Stack.Plain, 3, 1),
        0x88 => new Op(Arg.None, Stack.Plain, 0, 1),
        0x89 => new Op(Arg.None, Stack.Plain, 0, 1),
        0x8a => new Op(Arg.Len1, Stack.Plain, 0, 1),
        0x8b => new Op(Arg.Len4, Stack.Plain, 0, 1),
        0x8c => new Op(Arg.Len1, Stack.Plain, 0, 1),
        0x8d => new Op(Arg.Len8, Stack.Plain, 0, 1),
        0x8e => new Op(Arg.Len8, Stack.Plain, 0, 1),
        0x8f => new Op(Arg.None, Stack.Plain, 0, 1),
        0x90 => new Op(Arg.None, Stack.PopToMarkIntoCollection, 0, 0),
        0x91 => new Op(Arg.None, Stack.PopToMark, 0, 1),
        0x92 => new Op(Arg.None, Stack.Plain, 3, 1),
        0x93 => new Op(Arg.None, Stack.Plain, 2, 1),
        0x94 => new Op(Arg.None, Stack.NeedsOne, 0, 0),
        0x95 => new Op(Arg.Fixed8, Stack.Plain, 0, 0),
        0x96 => new Op(Arg.Len8, Stack.Plain, 0, 1),
        0x97 => new Op(Arg.None, Stack.Plain, 0, 1),
        0x98 => new Op(Arg.None, Stack.Plain, 1, 1),
        _ => null,
    };
}
