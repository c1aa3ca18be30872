using System.Globalization;
using System.Text;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Tiles;

/// <summary>
/// C2SP tlog-tiles paths. The tile index is written in three-digit groups, every group but the last prefixed
/// with <c>x</c> (index 1234067 is <c>x001/x234/067</c>); levels and widths are decimal without leading zeroes.
/// Parsing accepts only the canonical form, so each resource has exactly one path.
/// </summary>
public static class TilePath
{
    private const string Prefix = "tile/";
    private const string EntriesSegment = "entries/";
    private const string PartialMarker = ".p/";
    private const int MaxPathLength = 128;

    /// <summary>Formats the path of <paramref name="address"/>.</summary>
    public static string Format(TileAddress address)
    {
        var builder = new StringBuilder(Prefix);
        if (address.IsEntryBundle)
        {
            builder.Append(EntriesSegment);
        }
        else
        {
            builder.Append(address.Level.ToString(CultureInfo.InvariantCulture)).Append('/');
        }

        AppendIndex(builder, address.Index);
        if (address.IsPartial)
        {
            builder.Append(PartialMarker).Append(address.Width.ToString(CultureInfo.InvariantCulture));
        }

        return builder.ToString();
    }

    /// <summary>Parses a tile path (without the log prefix); non-canonical or malformed paths throw <see cref="MalformedInputException"/>.</summary>
    public static TileAddress Parse(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length > MaxPathLength)
        {
            MalformedInputException.ThrowLimit("tile path length", MaxPathLength, MaxPathLength);
        }

        if (!path.StartsWith(Prefix, StringComparison.Ordinal))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "tile path must start with tile/", 0);
        }

        var position = Prefix.Length;
        var isEntries = path.AsSpan(position).StartsWith(EntriesSegment, StringComparison.Ordinal);
        var level = 0;
        if (isEntries)
        {
            position += EntriesSegment.Length;
        }
        else
        {
            var slash = path.IndexOf('/', position);
            if (slash < 0)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "tile path: missing tile index after the level", path.Length);
            }

            level = (int)ParseDecimal(path.AsSpan(position, slash - position), position, TileAddress.MaxLevel, allowZero: true);
            position = slash + 1;
        }

        var width = TileAddress.FullWidth;
        var indexText = path.AsSpan(position);
        var partial = indexText.IndexOf(PartialMarker, StringComparison.Ordinal);
        if (partial >= 0)
        {
            width = (int)ParseDecimal(indexText[(partial + PartialMarker.Length)..], position + partial + PartialMarker.Length, TileAddress.FullWidth - 1, allowZero: false);
            indexText = indexText[..partial];
        }

        var index = ParseIndex(indexText, position);
        return new TileAddress(isEntries, level, index, width);
    }

    /// <summary>Fuzz target: must never throw anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        var address = Parse(Encoding.Latin1.GetString(data));
        if (Parse(address.ToPath()) != address)
        {
            throw new InvalidOperationException("tile path does not round-trip");
        }
    }

    private static void AppendIndex(StringBuilder builder, long index)
    {
        var groups = new List<int>();
        do
        {
            groups.Add((int)(index % 1000));
            index /= 1000;
        }
        while (index > 0);

        for (var i = groups.Count - 1; i >= 0; i--)
        {
            if (i > 0)
            {
                builder.Append('x');
            }

            builder.Append(groups[i].ToString("000", CultureInfo.InvariantCulture));
            if (i > 0)
            {
                builder.Append('/');
            }
        }
    }

    private static long ParseIndex(ReadOnlySpan<char> text, int offset)
    {
        long index = 0;
        var first = true;
        while (true)
        {
            var slash = text.IndexOf('/');
            var group = slash < 0 ? text : text[..slash];
            var last = slash < 0;
            if (last == group.StartsWith("x"))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "tile path: every index group but the last starts with x", offset);
            }

            var digits = last ? group : group[1..];
            if (digits.Length != 3 || !IsDigits(digits))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "tile path: index groups are three decimal digits", offset);
            }

            var value = (digits[0] - '0') * 100 + (digits[1] - '0') * 10 + (digits[2] - '0');
            if (first && !last && value == 0)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "tile path: the index has a leading x000 group", offset);
            }

            if (index > (long.MaxValue - value) / 1000)
            {
                MalformedInputException.ThrowLimit("tile index", long.MaxValue, offset);
            }

            index = (index * 1000) + value;
            if (last)
            {
                return index;
            }

            first = false;
            offset += slash + 1;
            text = text[(slash + 1)..];
        }
    }

    private static long ParseDecimal(ReadOnlySpan<char> text, int offset, long max, bool allowZero)
    {
        if (text.Length == 0 || !IsDigits(text) || (text.Length > 1 && text[0] == '0') || text.Length > 4)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "tile path: expected a decimal number without leading zeroes", offset);
        }

        var value = long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
        if (value > max || (!allowZero && value == 0))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"tile path: {value} is outside {(allowZero ? 0 : 1)}..{max}", offset);
        }

        return value;
    }

    private static bool IsDigits(ReadOnlySpan<char> text)
    {
        foreach (var ch in text)
        {
            if (ch is < '0' or > '9')
            {
                return false;
            }
        }

        return true;
    }
}
