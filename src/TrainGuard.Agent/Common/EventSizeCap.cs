using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TrainGuard.Events;

namespace TrainGuard.Agent.Common;

/// <summary>
/// Keeps every event the agent ships under a documented size, so one oversized field (an 11,000-byte key
/// comment, a long command line or path) cannot get a whole batch refused. A string longer than
/// <see cref="MaxFieldBytes"/> keeps its start followed by <c>…[truncated N bytes]</c>; an array longer than
/// <see cref="MaxArrayItems"/> keeps its first items followed by <c>…[truncated N items]</c>; if the event is
/// still over <see cref="MaxEventBytes"/> the largest strings are cut further. The dotted names of the cut
/// fields are listed in <c>trainguard.truncated</c>; the id, timestamp and <c>event.*</c> are never cut.
/// </summary>
public static partial class EventSizeCap
{
    /// <summary>Largest event the agent ships (its JSON line, UTF-8).</summary>
    public const int MaxEventBytes = 16 * 1024;

    /// <summary>Longest string field kept whole (UTF-8 bytes).</summary>
    public const int MaxFieldBytes = 4 * 1024;

    /// <summary>Most items kept in one array.</summary>
    public const int MaxArrayItems = 64;

    public const string TruncatedField = "trainguard.truncated";

    /// <summary>Strings are never cut below this many bytes while shrinking an event to <see cref="MaxEventBytes"/>.</summary>
    private const int MinFieldBytes = 64;

    private static readonly HashSet<string> Protected = new(StringComparer.Ordinal) { EventFields.Id, EventFields.Timestamp, "event", TruncatedField };

    /// <summary>Caps <paramref name="e"/> in place; returns the names of the fields that were cut (empty when none).</summary>
    public static IReadOnlyList<string> Apply(EventRecord e)
    {
        var cut = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var name in e.GetStrings(TruncatedField))
        {
            cut.Add(name);
        }

        var before = cut.Count;
        Visit(e.Root, string.Empty, cut);
        if (cut.Count > before)
        {
            e.Set(TruncatedField, cut);
        }

        var size = Encoding.UTF8.GetByteCount(e.ToJsonLine());
        while (size > MaxEventBytes && Largest(e.Root, string.Empty) is { } largest && Utf8Length(largest.Value) > MinFieldBytes)
        {
            // Cut the largest string by what is over (plus room for its mark and its name); the next round takes the next largest.
            var budget = Math.Max(MinFieldBytes, Utf8Length(largest.Value) - (size - MaxEventBytes) - 64 - largest.Name.Length);
            largest.Replace(Truncate(largest.Value, budget));
            cut.Add(largest.Name);
            e.Set(TruncatedField, cut);
            size = Encoding.UTF8.GetByteCount(e.ToJsonLine());
        }

        return cut.Count > before ? cut.ToList() : [];
    }

    /// <summary><paramref name="text"/> cut to at most <paramref name="maxBytes"/> UTF-8 bytes including the mark (never inside a character).</summary>
    public static string Truncate(string text, int maxBytes)
    {
        var total = Encoding.UTF8.GetByteCount(text);
        if (total <= maxBytes)
        {
            return text;
        }

        // Cut again: one mark with the sum, not two.
        var earlier = 0;
        var match = EarlierMark().Match(text);
        if (match.Success && int.TryParse(match.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out earlier))
        {
            text = text[..match.Index];
            total = Encoding.UTF8.GetByteCount(text) + earlier;
        }

        // The mark's own length depends on the number in it; reserve for the widest.
        var markReserve = Encoding.UTF8.GetByteCount(Mark(total));
        var keep = Math.Max(0, maxBytes - markReserve);
        var chars = 0;
        var bytes = 0;
        while (chars < text.Length)
        {
            var width = char.IsHighSurrogate(text[chars]) && chars + 1 < text.Length && char.IsLowSurrogate(text[chars + 1]) ? 2 : 1;
            var next = Encoding.UTF8.GetByteCount(text.AsSpan(chars, width));
            if (bytes + next > keep)
            {
                break;
            }

            bytes += next;
            chars += width;
        }

        return string.Concat(text.AsSpan(0, chars), Mark(total - bytes));
    }

    [GeneratedRegex(@"…\[truncated ([0-9]{1,9}) bytes\]$", RegexOptions.CultureInvariant)]
    private static partial Regex EarlierMark();

    private static string Mark(int removedBytes) => string.Create(CultureInfo.InvariantCulture, $"…[truncated {removedBytes} bytes]");

    private static int Utf8Length(string text) => Encoding.UTF8.GetByteCount(text);

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    private static void Visit(JsonNode? node, string path, SortedSet<string> cut)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, child) in obj.ToList())
                {
                    var childPath = Join(path, name);
                    if (path.Length == 0 && Protected.Contains(name))
                    {
                        continue;
                    }

                    if (IsLongString(child, out var text))
                    {
                        obj[name] = Truncate(text, MaxFieldBytes);
                        cut.Add(childPath);
                    }
                    else
                    {
                        Visit(child, childPath, cut);
                    }
                }

                break;
            case JsonArray array:
                if (array.Count > MaxArrayItems)
                {
                    var removed = array.Count - MaxArrayItems + 1;
                    while (array.Count > MaxArrayItems - 1)
                    {
                        array.RemoveAt(array.Count - 1);
                    }

                    array.Add(string.Create(CultureInfo.InvariantCulture, $"…[truncated {removed} items]"));
                    cut.Add(path);
                }

                for (var i = 0; i < array.Count; i++)
                {
                    if (IsLongString(array[i], out var text))
                    {
                        array[i] = Truncate(text, MaxFieldBytes);
                        cut.Add(path);
                    }
                    else
                    {
                        Visit(array[i], path, cut);
                    }
                }

                break;
        }
    }

    private static bool IsLongString(JsonNode? node, out string text)
    {
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            text = value.GetValue<string>();
            return text.Length > MaxFieldBytes / 3 && Utf8Length(text) > MaxFieldBytes;
        }

        text = string.Empty;
        return false;
    }

    /// <summary>A string leaf and how to replace it.</summary>
    private sealed record Leaf(string Name, string Value, Action<string> Replace);

    private static Leaf? Largest(JsonNode? node, string path)
    {
        Leaf? best = null;
        void Consider(Leaf leaf)
        {
            if (best is null || Utf8Length(leaf.Value) > Utf8Length(best.Value))
            {
                best = leaf;
            }
        }

        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, child) in obj.ToList())
                {
                    if (path.Length == 0 && Protected.Contains(name))
                    {
                        continue;
                    }

                    var childPath = Join(path, name);
                    if (childPath == TruncatedField)
                    {
                        continue;
                    }

                    if (child is JsonValue v && v.GetValueKind() == JsonValueKind.String)
                    {
                        Consider(new Leaf(childPath, v.GetValue<string>(), s => obj[name] = s));
                    }
                    else if (Largest(child, childPath) is { } inner)
                    {
                        Consider(inner);
                    }
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    var index = i;
                    if (array[i] is JsonValue v && v.GetValueKind() == JsonValueKind.String)
                    {
                        Consider(new Leaf(path, v.GetValue<string>(), s => array[index] = s));
                    }
                    else if (Largest(array[i], path) is { } inner)
                    {
                        Consider(inner);
                    }
                }

                break;
        }

        return best;
    }
}
