using System.Text;
using TrainGuard.Parsing;

namespace TrainGuard.Server.Events;

/// <summary>Strict RFC 3339 <c>date-time</c> parsing (section 5.6): full date, <c>T</c>, full time, <c>Z</c> or a numeric offset.</summary>
public static class Rfc3339
{
    private const int MaxFractionDigits = 9;

    /// <summary>
    /// Parses the value of <paramref name="field"/> (a query parameter, an event field); anything that is not an
    /// RFC 3339 date-time is a <see cref="MalformedInputException"/> naming the field.
    /// </summary>
    public static DateTimeOffset Parse(ReadOnlySpan<char> text, string field) =>
        TryParse(text, out var value)
            ? value
            : MalformedInputException.Throw<DateTimeOffset>(InputErrorKind.Syntax, $"{field}: not an RFC 3339 date-time (e.g. 2026-11-23T10:00:00Z)", field: field);

    /// <summary>Fuzz target: bytes as UTF-8 text; throws nothing but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var value = Parse(Encoding.UTF8.GetString(data), "fuzz");
        _ = ToUnixMicroseconds(value);
    }

    /// <summary>Parses <paramref name="text"/>; false for anything that is not an RFC 3339 date-time.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out DateTimeOffset value)
    {
        value = default;

        // yyyy-MM-ddTHH:mm:ss[.f+](Z|+hh:mm|-hh:mm)
        if (text.Length < 20 || text.Length > 35)
        {
            return false;
        }

        if (!Digits(text, 0, 4, out var year) || text[4] != '-' || !Digits(text, 5, 2, out var month) || text[7] != '-' ||
            !Digits(text, 8, 2, out var day) || (text[10] is not ('T' or 't' or ' ')) ||
            !Digits(text, 11, 2, out var hour) || text[13] != ':' || !Digits(text, 14, 2, out var minute) || text[16] != ':' ||
            !Digits(text, 17, 2, out var second))
        {
            return false;
        }

        var position = 19;
        long fractionTicks = 0;
        if (text[position] == '.')
        {
            position++;
            var start = position;
            while (position < text.Length && char.IsAsciiDigit(text[position]))
            {
                if (position - start < 7)
                {
                    fractionTicks = (fractionTicks * 10) + (text[position] - '0');
                }

                position++;
            }

            var digits = position - start;
            if (digits == 0 || digits > MaxFractionDigits)
            {
                return false;
            }

            for (var i = digits; i < 7; i++)
            {
                fractionTicks *= 10;
            }
        }

        if (position >= text.Length)
        {
            return false;
        }

        TimeSpan offset;
        var zone = text[position..];
        if (zone is "Z" or "z")
        {
            offset = TimeSpan.Zero;
        }
        else if (zone.Length == 6 && zone[0] is '+' or '-' && Digits(zone, 1, 2, out var oh) && zone[3] == ':' && Digits(zone, 4, 2, out var om) && oh <= 23 && om <= 59)
        {
            offset = new TimeSpan(oh, om, 0);
            if (zone[0] == '-')
            {
                offset = -offset;
            }
        }
        else
        {
            return false;
        }

        if (year < 1 || month is < 1 or > 12 || hour > 23 || minute > 59 || second > 59 ||
            day < 1 || day > DateTime.DaysInMonth(year, month))
        {
            return false;
        }

        try
        {
            value = new DateTimeOffset(year, month, day, hour, minute, second, offset).AddTicks(fractionTicks);
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>Microseconds since the Unix epoch (the query index's time key).</summary>
    public static long ToUnixMicroseconds(DateTimeOffset value) => (value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    private static bool Digits(ReadOnlySpan<char> text, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            var c = text[i];
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return true;
    }
}
