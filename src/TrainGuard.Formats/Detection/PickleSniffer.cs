using TrainGuard.Pickle.Opcodes;

namespace TrainGuard.Formats.Detection;

/// <summary>
/// Decides whether bytes look like the start of a pickle without a <c>PROTO</c> opcode (protocols 0 and 1),
/// by walking the first opcodes: each must be a real opcode, its argument must have the shape the pickle opcode
/// table (<see cref="PickleOpcodes"/>) gives it, and a loose model of the stack and marks must never underflow. Precise enough that text, JSON and random
/// binaries are not taken for pickles; a stream of valid opcodes that is merely truncated still counts.
/// </summary>
public static class PickleSniffer
{
    /// <summary>How many bytes of opcodes are walked before deciding.</summary>
    public const int WalkBytes = 64;

    /// <summary>Longest newline-terminated argument accepted (GLOBAL module names, decimal literals).</summary>
    public const int MaxLineArgument = 256;

    private const int MaxMarks = WalkBytes;

    /// <summary>True when <paramref name="head"/> starts like a pickle. The whole length of the input is unknown.</summary>
    public static bool LooksLikePickle(ReadOnlySpan<byte> head) => LooksLikePickle(head, long.MaxValue);

    /// <summary>True when <paramref name="head"/> (the first bytes of an input of <paramref name="totalLength"/> bytes) starts like a pickle.</summary>
    public static bool LooksLikePickle(ReadOnlySpan<byte> head, long totalLength)
    {
        if (head.IsEmpty)
        {
            return false;
        }

        if (head[0] == PickleOp.Proto)
        {
            return head.Length >= 2 && head[1] is >= 2 and <= PickleOp.HighestProtocol;
        }

        Span<int> marks = stackalloc int[MaxMarks];
        var markCount = 0;
        var depth = 0;
        var opcodes = 0;
        var pos = 0;
        while (pos < head.Length && pos < WalkBytes)
        {
            if (PickleOpcodes.Lookup(head[pos]) is not { } known)
            {
                return false;
            }

            var argStart = pos + 1;
            var argEnd = ArgumentEnd(head, argStart, known, totalLength);
            if (argEnd == Invalid)
            {
                return false;
            }

            var floor = markCount > 0 ? marks[markCount - 1] : 0;
            switch (known.Stack)
            {
                case PickleStackEffect.Plain:
                    if (depth - floor < known.Pops)
                    {
                        return false;
                    }

                    depth = depth - known.Pops + known.Pushes;
                    break;
                case PickleStackEffect.PushMark:
                    if (markCount == MaxMarks)
                    {
                        return false;
                    }

                    marks[markCount++] = depth;
                    break;
                case PickleStackEffect.PopToMark:
                    if (markCount == 0 || (known.Code == PickleOp.Obj && depth == floor))
                    {
                        return false;
                    }

                    depth = floor + known.Pushes;
                    markCount--;
                    break;
                case PickleStackEffect.PopToMarkIntoCollection:
                    if (markCount == 0 || floor < 1)
                    {
                        return false;
                    }

                    depth = floor;
                    markCount--;
                    break;
                case PickleStackEffect.NeedsOne:
                    if (depth - floor < 1)
                    {
                        return false;
                    }

                    break;
                case PickleStackEffect.Stop:
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
        head.Length >= 2 && head[0] is PickleOp.String or PickleOp.Global && head[1] is (byte)'\'' or (byte)'"' or (>= (byte)'a' and <= (byte)'z');

    private static int ArgumentEnd(ReadOnlySpan<byte> head, int start, PickleOpcodeInfo opcode, long totalLength)
    {
        if (opcode.Code == PickleOp.Proto)
        {
            return start < head.Length && head[start] <= PickleOp.HighestProtocol ? start + 1 : Invalid;
        }

        if (opcode.IsLine)
        {
            return LineArgument(head, start, opcode.Argument);
        }

        var width = opcode.Width;
        if (!opcode.IsCounted)
        {
            return Fixed(head, start, width, totalLength);
        }

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

    private static int Fixed(ReadOnlySpan<byte> head, int start, int width, long totalLength)
    {
        if (start + width <= head.Length)
        {
            return start + width;
        }

        return start + width > totalLength ? Invalid : RunsPastHead;
    }

    private static int LineArgument(ReadOnlySpan<byte> head, int start, PickleArgument arg)
    {
        var window = head[start..Math.Min(head.Length, start + MaxLineArgument)];
        var newline = window.IndexOf((byte)'\n');
        if (newline < 0)
        {
            return window.Length < MaxLineArgument && start + window.Length == head.Length && PrefixPlausible(window, arg) ? RunsPastHead : Invalid;
        }

        var line = window[..newline];
        if (arg == PickleArgument.NamePair)
        {
            if (!IsName(line))
            {
                return Invalid;
            }

            var second = LineArgument(head, start + newline + 1, PickleArgument.AsciiLine);
            if (second == RunsPastHead)
            {
                return RunsPastHead;
            }

            return second == Invalid || !IsName(head[(start + newline + 1)..(second - 1)]) ? Invalid : second;
        }

        return IsValidLine(line, arg) ? start + newline + 1 : Invalid;
    }

    private static bool PrefixPlausible(ReadOnlySpan<byte> partial, PickleArgument arg) => arg switch
    {
        PickleArgument.QuotedLine => partial.IsEmpty || partial[0] is (byte)'\'' or (byte)'"',
        PickleArgument.NamePair => partial.IndexOfAnyExcept(NameBytes) < 0 || IsNameThenPartial(partial),
        PickleArgument.IntLine or PickleArgument.LongLine or PickleArgument.MemoIndexLine => partial.IndexOfAnyExcept("-+0123456789"u8) < 0,
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

    private static bool IsValidLine(ReadOnlySpan<byte> line, PickleArgument arg)
    {
        switch (arg)
        {
            case PickleArgument.IntLine:
                return IsDecimal(line, allowSign: true);
            case PickleArgument.LongLine:
                return IsDecimal(line.EndsWith("L"u8) ? line[..^1] : line, allowSign: true);
            case PickleArgument.MemoIndexLine:
                return IsDecimal(line, allowSign: false);
            case PickleArgument.FloatLine:
                return !line.IsEmpty && (line.IndexOfAnyExcept("+-.0123456789eE"u8) < 0 || line.SequenceEqual("nan"u8) || line.SequenceEqual("inf"u8) || line.SequenceEqual("-inf"u8));
            case PickleArgument.QuotedLine:
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
}
