using System.Globalization;

namespace TrainGuard.Agent.Sshd;

/// <summary>
/// Timestamps of syslog lines. RFC 3164 (<c>Mar  5 14:02:11</c>) has neither year nor zone: the
/// time is read in <c>zone</c> and given the latest year that does not put it more than a day after
/// the reference time (the file's last write for replay, the clock for a live tail). A file
/// spanning New Year therefore gets December in the old year and January in the new one.
/// RFC 3339 / ISO 8601 (<c>2026-11-22T08:12:04.235+01:00</c>, journalctl's <c>+0100</c>) is exact.
/// </summary>
public static class SyslogTimestamp
{
    private static readonly string[] Months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    /// <summary>Parses a leading RFC 3164 timestamp (15 characters); <paramref name="length"/> is what it used.</summary>
    public static bool TryParseRfc3164(ReadOnlySpan<char> text, DateTimeOffset reference, TimeZoneInfo zone, out DateTimeOffset value, out int length)
    {
        value = default;
        length = 0;
        if (text.Length < 15 || text[3] != ' ' || text[6] != ' ' || text[9] != ':' || text[12] != ':')
        {
            return false;
        }

        var month = Array.IndexOf(Months, text[..3].ToString()) + 1;
        if (month == 0
            || !int.TryParse(text.Slice(4, 2).Trim(' '), NumberStyles.None, CultureInfo.InvariantCulture, out var day)
            || !int.TryParse(text.Slice(7, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var hour)
            || !int.TryParse(text.Slice(10, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var minute)
            || !int.TryParse(text.Slice(13, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var second)
            || day is < 1 or > 31 || hour > 23 || minute > 59 || second > 60)
        {
            return false;
        }

        second = Math.Min(second, 59);
        var limit = reference.AddDays(1);
        var year = TimeZoneInfo.ConvertTime(reference, zone).Year;
        for (var attempt = 0; attempt < 8; attempt++, year--)
        {
            if (year < 1 || day > DateTime.DaysInMonth(year, month))
            {
                continue;
            }

            var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified);
            var candidate = new DateTimeOffset(local, zone.GetUtcOffset(local));
            if (candidate <= limit)
            {
                value = candidate.ToUniversalTime();
                length = 15;
                return true;
            }
        }

        return false;
    }

    /// <summary>Parses a leading RFC 3339 timestamp up to the first space.</summary>
    public static bool TryParseRfc3339(ReadOnlySpan<char> text, out DateTimeOffset value, out int length)
    {
        value = default;
        length = text.IndexOf(' ');
        if (length < 19 || !char.IsAsciiDigit(text[0]) || text[4] != '-' || text[10] != 'T')
        {
            return false;
        }

        var token = text[..length].ToString();

        // journalctl -o short-iso writes the offset as +0100; insert the colon .NET expects.
        if (token.Length > 5 && token[^5] is '+' or '-' && char.IsAsciiDigit(token[^4]) && char.IsAsciiDigit(token[^1]) && token[^3] != ':')
        {
            token = token[..^2] + ":" + token[^2..];
        }

        if (!DateTimeOffset.TryParse(token, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value))
        {
            return false;
        }

        value = value.ToUniversalTime();
        return true;
    }
}
