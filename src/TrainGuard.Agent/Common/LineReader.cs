using System.Buffers;

namespace TrainGuard.Agent.Common;

/// <summary>Receives one line (without its line feed or a trailing carriage return).</summary>
/// <param name="line">The bytes of the line; only valid during the call.</param>
/// <param name="number">1-based line number.</param>
/// <param name="terminated">False for a last line that has no line feed (possibly cut short).</param>
public delegate void LineHandler(ReadOnlySpan<byte> line, long number, bool terminated);

/// <summary>
/// Splits a stream into lines without trusting it: a line longer than the limit is reported as
/// <see cref="OverlongHandler"/> and skipped up to its line feed, so memory stays bounded.
/// </summary>
public sealed class LineReader
{
    public const int DefaultMaxLineLength = 64 * 1024;

    private readonly int _maxLineLength;

    public LineReader(int maxLineLength = DefaultMaxLineLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineLength, 16);
        _maxLineLength = maxLineLength;
    }

    /// <summary>Called for a line over the limit (with its number); the line is not passed to the line handler.</summary>
    public Action<long>? OverlongHandler { get; set; }

    /// <summary>Reads <paramref name="stream"/> to its end; returns the number of lines.</summary>
    public long Read(Stream stream, LineHandler handler)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(_maxLineLength + 1, 64 * 1024));
        try
        {
            var filled = 0;
            long number = 0;
            var skipping = false;
            while (true)
            {
                var read = stream.Read(buffer, filled, buffer.Length - filled);
                var eof = read == 0;
                filled += read;
                var start = 0;
                while (true)
                {
                    var span = buffer.AsSpan(start, filled - start);
                    var nl = span.IndexOf((byte)'\n');
                    if (nl < 0)
                    {
                        break;
                    }

                    number++;
                    if (skipping)
                    {
                        skipping = false;
                    }
                    else if (nl > _maxLineLength)
                    {
                        OverlongHandler?.Invoke(number);
                    }
                    else
                    {
                        handler(TrimCr(span[..nl]), number, terminated: true);
                    }

                    start += nl + 1;
                }

                var rest = filled - start;
                if (rest > _maxLineLength)
                {
                    if (!skipping)
                    {
                        OverlongHandler?.Invoke(number + 1);
                        skipping = true;
                    }

                    rest = 0;
                    start = filled;
                }

                if (rest > 0 && start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, rest);
                }

                filled = rest;
                if (eof)
                {
                    if (skipping)
                    {
                        number++;
                    }
                    else if (filled > 0)
                    {
                        number++;
                        handler(TrimCr(buffer.AsSpan(0, filled)), number, terminated: false);
                    }

                    return number;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> line) =>
        line.Length > 0 && line[^1] == (byte)'\r' ? line[..^1] : line;
}
