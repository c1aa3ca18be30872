using System.Globalization;

namespace TrainGuard.Server.Dashboard;

/// <summary>How the pages write times, spans and numbers (UTC, invariant culture). Everything they return is text: the pages encode it.</summary>
public static class Show
{
    /// <summary>A value for a URL's path segment or query (percent-encoded; the page then HTML-encodes the attribute).</summary>
    public static string Q(string? value) => Uri.EscapeDataString(value ?? string.Empty);

    public static string Time(DateTimeOffset? value) =>
        value is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "-";

    public static string Micros(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>The value for an <c>&lt;input type="datetime-local"&gt;</c> (UTC).</summary>
    public static string Input(long? micros) =>
        micros is { } m ? DateTimeOffset.UnixEpoch.AddTicks(m * 10).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) : string.Empty;

    public static string Span(TimeSpan span) => span.TotalSeconds switch
    {
        < 0 => "0 s",
        < 120 => string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds:0} s"),
        < 7200 => string.Create(CultureInfo.InvariantCulture, $"{span.TotalMinutes:0} min"),
        < 172800 => string.Create(CultureInfo.InvariantCulture, $"{span.TotalHours:0.#} h"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{span.TotalDays:0.#} days"),
    };

    public static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>Unix seconds with milliseconds, for chart data and the timeline's zoom.</summary>
    public static string Seconds(DateTimeOffset value) => (value.ToUnixTimeMilliseconds() / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>The first 16 hex digits of a hash, for tables (the full value is in the title).</summary>
    public static string Short(string hex) => hex.Length > 16 ? hex[..16] + "…" : hex;
}
