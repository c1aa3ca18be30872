using System.Globalization;
using System.Text;
using System.Text.Json;
using TrainGuard.Findings;
using TrainGuard.Server.Events;

namespace TrainGuard.Cli.Output;

/// <summary>
/// Text from the server (alerts, events, timelines) as people read it: every string is data an attacker may have
/// chosen (a user name, a process name, a key comment), so control characters, terminal escape sequences and
/// invisible formatting characters (bidirectional overrides, zero-width) are shown escaped, never passed to the
/// terminal; members are read defensively (a missing or mistyped member is shown as <c>-</c>, never a crash).
/// </summary>
internal static class DataText
{
    /// <summary>The text with control and formatting characters escaped (<c>\x1b</c>, <c>\u200f</c>), cut at <paramref name="maxLength"/>.</summary>
    public static string Safe(string? text, int maxLength = 300)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        StringBuilder? visible = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var hidden = CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format && !char.IsControl(c);
            if (hidden && visible is null)
            {
                visible = new StringBuilder(text.Length + 16).Append(text, 0, i);
            }

            if (hidden)
            {
                visible!.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                visible?.Append(c);
            }
        }

        return TextSanitizer.Escape(visible?.ToString() ?? text, maxLength);
    }

    /// <summary>A member as text: a string as it is, a number or boolean in its JSON form, anything else (null, missing) as null.</summary>
    public static string? Str(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? Scalar(value) : null;

    /// <summary>A nested member by dotted path (<c>user.audit.name</c>), or the flat dotted name when the event uses it.</summary>
    public static string? Path(JsonElement element, string dotted)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (element.TryGetProperty(dotted, out var flat))
        {
            return Scalar(flat);
        }

        var current = element;
        foreach (var part in dotted.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out current))
            {
                return null;
            }
        }

        return Scalar(current);
    }

    /// <summary>A member that is an object, or null.</summary>
    public static JsonElement? Obj(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object ? value : null;

    /// <summary>The elements of an array member (none when it is missing or not an array).</summary>
    public static IEnumerable<JsonElement> Items(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray()
            : [];

    /// <summary>The strings of an array member (scalars only), as given.</summary>
    public static List<string> Strings(JsonElement element, string name) =>
        [.. Items(element, name).Select(Scalar).OfType<string>()];

    /// <summary>A number member, or null.</summary>
    public static long? Number(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) ? n : null;

    /// <summary>An RFC 3339 time as <c>2026-12-07 01:11:43Z</c> (UTC, to the second); anything else escaped as given; <c>-</c> when absent.</summary>
    public static string Time(string? rfc3339, bool milliseconds = false)
    {
        if (string.IsNullOrEmpty(rfc3339))
        {
            return "-";
        }

        return Rfc3339.TryParse(rfc3339, out var at)
            ? at.UtcDateTime.ToString(milliseconds ? "yyyy-MM-dd HH:mm:ss.fff'Z'" : "yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : Safe(rfc3339, 40);
    }

    /// <summary><paramref name="value"/> or <c>-</c>, escaped.</summary>
    public static string OrDash(string? value, int maxLength = 300) => string.IsNullOrEmpty(value) ? "-" : Safe(value, maxLength);

    /// <summary>Rows as columns padded to their widest cell (cells already escaped); the last column is not padded.</summary>
    public static void WriteColumns(TextWriter output, IReadOnlyList<string[]> rows, string indent = "") =>
        Columns(rows, indent).ForEach(output.WriteLine);

    /// <summary>The lines <see cref="WriteColumns"/> writes.</summary>
    public static List<string> Columns(IReadOnlyList<string[]> rows, string indent = "")
    {
        var lines = new List<string>(rows.Count);
        if (rows.Count == 0)
        {
            return lines;
        }

        var widths = new int[rows.Max(r => r.Length)];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        foreach (var row in rows)
        {
            var line = new StringBuilder(indent);
            for (var i = 0; i < row.Length; i++)
            {
                line.Append(i == row.Length - 1 ? row[i] : row[i].PadRight(widths[i] + 2));
            }

            lines.Add(line.ToString().TrimEnd());
        }

        return lines;
    }

    private static string? Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => null,
    };
}
