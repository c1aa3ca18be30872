using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace TrainGuard.Detections.Matching;

/// <summary>A test of one value of a field (the values of a Sigma list, combined with OR).</summary>
internal abstract class ValueTest
{
    public abstract bool Test(EventView view, int index);

    /// <summary>A rough relative cost of <see cref="Test"/> (see <see cref="Matcher.Cost"/>).</summary>
    public abstract int Cost { get; }
}

/// <summary>
/// Sigma string values (exact, <c>startswith</c>, <c>endswith</c>, <c>contains</c>, wildcards), case-insensitive
/// unless <c>cased</c>, grouped by shape so a long list costs one hash lookup or one multi-string search.
/// A number in the rule also equals a JSON number written differently in the event (<c>1</c> and <c>1.0</c>);
/// against a string it compares as text.
/// </summary>
internal sealed class StringTest : ValueTest
{
    private const int SetThreshold = 4;

    private readonly StringComparison _comparison;
    private readonly bool _cased;
    private readonly bool _any;
    private readonly string[] _exact;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>>? _exactSet;
    private readonly string[] _prefixes;
    private readonly string[] _suffixes;
    private readonly SearchValues<string>? _infixSet;
    private readonly string[] _infixes;
    private readonly Glob[] _globs;
    private readonly double[] _numbers;

    public StringTest(IEnumerable<(PatternShape Shape, string Text, Glob? Glob)> patterns, IEnumerable<double> numbers, bool cased)
    {
        _cased = cased;
        _comparison = cased ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        var list = patterns.ToList();
        _any = list.Any(p => p.Shape == PatternShape.Any);
        _exact = Distinct(list, PatternShape.Exact);
        _prefixes = Distinct(list, PatternShape.Prefix);
        _suffixes = Distinct(list, PatternShape.Suffix);
        var infixes = _infixes = Distinct(list, PatternShape.Infix);
        _globs = list.Where(p => p.Shape == PatternShape.Glob).Select(p => p.Glob!).ToArray();
        _numbers = numbers.Distinct().ToArray();
        if (_exact.Length > SetThreshold)
        {
            _exactSet = new HashSet<string>(_exact, cased ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase).GetAlternateLookup<ReadOnlySpan<char>>();
        }

        if (infixes.Length > 0)
        {
            // Also for one value: with invariant globalization, IndexOf(OrdinalIgnoreCase) takes a scalar path.
            _infixSet = SearchValues.Create(infixes, _comparison);
        }
    }

    /// <summary>Values are compared exactly (else case-insensitively).</summary>
    public bool Cased => _cased;

    /// <summary>The <c>contains</c> values.</summary>
    public IReadOnlyList<string> Infixes => _infixes;

    /// <summary>
    /// The search for every <c>contains</c> value of every test of this test's field, or null: a field value in which it
    /// finds none cannot contain one of this test's either, so the engine searches once per value for all the rules.
    /// </summary>
    public InfixPrefilter? Prefilter { get; set; }

    /// <summary>The exact values, when every pattern is exact (the rule index keys rules on them).</summary>
    public IReadOnlyList<string>? ExactOnly =>
        !_any && _infixSet is null && _prefixes.Length + _suffixes.Length + _globs.Length + _numbers.Length == 0 ? _exact : null;

    public override int Cost => _any ? 1 : 2 + (_exactSet is null ? _exact.Length : 1) + (2 * (_prefixes.Length + _suffixes.Length)) + (_infixSet is null ? 0 : 6) + (8 * _globs.Length) + _numbers.Length;

    public override bool Test(EventView view, int index)
    {
        ref readonly var value = ref view.Value(index);
        if (!value.IsScalar)
        {
            return false;
        }

        if (_any)
        {
            return true;
        }

        var kind = value.Kind;
        var text = view.Text(index);
        return TestText(text, Prefilter is not { } prefilter || view.MayContain(index, prefilter)) || (_numbers.Length > 0 && kind == ValueKind.Number && Numbers.TryGet(text, kind, out var number) && TestNumber(number));
    }

    public bool TestText(ReadOnlySpan<char> text) => TestText(text, mayContain: true);

    /// <summary>The test on a text; <paramref name="mayContain"/> false when it is known to hold no <c>contains</c> value.</summary>
    private bool TestText(ReadOnlySpan<char> text, bool mayContain)
    {
        if (_exactSet is { } set)
        {
            if (set.Contains(text))
            {
                return true;
            }
        }
        else
        {
            foreach (var exact in _exact)
            {
                if (text.Equals(exact, _comparison))
                {
                    return true;
                }
            }
        }

        foreach (var prefix in _prefixes)
        {
            if (text.StartsWith(prefix, _comparison))
            {
                return true;
            }
        }

        foreach (var suffix in _suffixes)
        {
            if (text.EndsWith(suffix, _comparison))
            {
                return true;
            }
        }

        if (_infixSet is not null && mayContain && text.ContainsAny(_infixSet))
        {
            return true;
        }

        foreach (var glob in _globs)
        {
            if (glob.IsMatch(text, _cased))
            {
                return true;
            }
        }

        return false;
    }

    private bool TestNumber(double number)
    {
        foreach (var n in _numbers)
        {
            if (n == number)
            {
                return true;
            }
        }

        return false;
    }

    private string[] Distinct(List<(PatternShape Shape, string Text, Glob? Glob)> list, PatternShape shape) =>
        list.Where(p => p.Shape == shape).Select(p => p.Text).Distinct(_cased ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase).ToArray();
}

/// <summary>
/// Every <c>contains</c> value of the string tests of one field, searched for at once (case-insensitively, so it also
/// stands for the cased tests): <see cref="EventView.MayContain"/> runs it at most once per value and event.
/// </summary>
internal sealed class InfixPrefilter(IEnumerable<string> infixes)
{
    private readonly SearchValues<string> _all = SearchValues.Create([.. infixes.Distinct(StringComparer.OrdinalIgnoreCase)], StringComparison.OrdinalIgnoreCase);

    public bool MayContain(ReadOnlySpan<char> text) => text.ContainsAny(_all);
}

/// <summary>Several tests OR-ed (a list of thresholds).</summary>
internal sealed class AnyTest(ValueTest[] tests) : ValueTest
{
    public override int Cost => tests.Sum(t => t.Cost);

    public override bool Test(EventView view, int index)
    {
        foreach (var test in tests)
        {
            if (test.Test(view, index))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary><c>lt</c>, <c>lte</c>, <c>gt</c>, <c>gte</c>: a number in the event (or a string that reads as one) against the rule's.</summary>
internal sealed class NumberTest(NumberOperator op, double threshold) : ValueTest
{
    public override int Cost => 4;

    public override bool Test(EventView view, int index)
    {
        var kind = view.Value(index).Kind;
        if (kind is not (ValueKind.Number or ValueKind.String) || !Numbers.TryGet(view.Text(index), kind, out var n))
        {
            return false;
        }

        return op switch
        {
            NumberOperator.Lt => n < threshold,
            NumberOperator.Lte => n <= threshold,
            NumberOperator.Gt => n > threshold,
            _ => n >= threshold,
        };
    }
}

internal enum NumberOperator
{
    Lt,
    Lte,
    Gt,
    Gte,
}

internal static class Numbers
{
    /// <summary>Most digits of an integer read without <see cref="double.TryParse(ReadOnlySpan{char}, NumberStyles, IFormatProvider?, out double)"/> (every such integer is exact in a double).</summary>
    private const int MaxFastDigits = 15;

    /// <summary>
    /// The number a JSON number or a string holds (numbers are parsed when a test needs them, not when read). Plain
    /// integers (an optional minus and up to 15 digits, the common case: pids, uids, ports, counts) are read directly,
    /// to the same value the general parser gives; everything else goes to it.
    /// </summary>
    public static bool TryGet(ReadOnlySpan<char> text, ValueKind kind, out double number)
    {
        number = 0;
        if (kind is not (ValueKind.Number or ValueKind.String))
        {
            return false;
        }

        if (TryGetInteger(text, out var integer))
        {
            number = integer;
            return true;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out number) && double.IsFinite(number);
    }

    /// <summary><c>-?[0-9]{1,15}</c> as a long, else false.</summary>
    public static bool TryGetInteger(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        var negative = text.Length > 0 && text[0] == '-';
        var digits = negative ? text[1..] : text;
        if (digits.Length is 0 or > MaxFastDigits)
        {
            return false;
        }

        foreach (var c in digits)
        {
            var d = c - '0';
            if ((uint)d > 9)
            {
                return false;
            }

            value = (value * 10) + d;
        }

        if (negative)
        {
            value = -value;
        }

        return true;
    }
}

/// <summary>
/// <c>re</c>: .NET regular expressions built with <see cref="RegexOptions.NonBacktracking"/> (matching time linear in
/// the text) and a match timeout as a second bound. A timeout counts as no match and is counted
/// (<see cref="EventView.RegexTimeouts"/>).
/// </summary>
internal sealed class RegexTest(Regex[] expressions, string?[] required) : ValueTest
{
    public override int Cost => 20 * expressions.Length;

    public override bool Test(EventView view, int index)
    {
        if (!view.Value(index).IsScalar)
        {
            return false;
        }

        var text = view.Text(index);
        for (var i = 0; i < expressions.Length; i++)
        {
            // A text without the literal every match of the expression contains cannot match (RegexLiteral).
            if (required[i] is { } literal && !text.Contains(literal, StringComparison.Ordinal))
            {
                continue;
            }

            try
            {
                if (expressions[i].IsMatch(text))
                {
                    return true;
                }
            }
            catch (RegexMatchTimeoutException)
            {
                view.RegexTimeouts++;
            }
        }

        return false;
    }
}

/// <summary><c>cidr</c>: an IPv4 or IPv6 address in the event inside one of the rule's networks (IPv4-mapped IPv6 counts as IPv4).</summary>
internal sealed class CidrTest(CidrBlock[] blocks) : ValueTest
{
    public override int Cost => 6 + blocks.Length;

    public override bool Test(EventView view, int index)
    {
        if (view.Value(index).Kind != ValueKind.String)
        {
            return false;
        }

        Span<byte> address = stackalloc byte[16];
        if (!CidrBlock.TryParseAddress(view.Text(index), address, out var length))
        {
            return false;
        }

        foreach (var block in blocks)
        {
            if (block.Contains(address[..length]))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>A network (address and prefix length) of a <c>cidr</c> value.</summary>
internal sealed class CidrBlock
{
    private readonly byte[] _network;
    private readonly int _prefix;

    private CidrBlock(byte[] network, int prefix)
    {
        _network = network;
        _prefix = prefix;
    }

    /// <summary>Reads <c>10.0.0.0/8</c> or <c>fd00::/8</c>; host bits must be zero (a typo otherwise widens or narrows the rule).</summary>
    public static bool TryParse(string text, out CidrBlock? block, out string? problem)
    {
        block = null;
        problem = null;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var prefix))
        {
            problem = $"'{text}' is not a CIDR range such as 10.0.0.0/8 or fd00::/8";
            return false;
        }

        Span<byte> address = stackalloc byte[16];
        if (!TryParseAddress(text.AsSpan(0, slash), address, out var length))
        {
            problem = $"'{text}' does not start with an IP address";
            return false;
        }

        if (prefix > length * 8)
        {
            problem = $"'{text}': the prefix length is longer than the address";
            return false;
        }

        var network = address[..length].ToArray();
        if (!HostBitsZero(network, prefix))
        {
            problem = $"'{text}' has host bits set after /{prefix}";
            return false;
        }

        block = new CidrBlock(network, prefix);
        return true;
    }

    /// <summary>Parses an IPv4 or IPv6 address into <paramref name="destination"/> (4 or 16 bytes; IPv4-mapped IPv6 gives 4).</summary>
    public static bool TryParseAddress(ReadOnlySpan<char> text, Span<byte> destination, out int length)
    {
        length = 0;
        if (TryParseIPv4(text, destination))
        {
            length = 4;
            return true;
        }

        if (text.IndexOf(':') < 0 || !IPAddress.TryParse(text, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        if (parsed.IsIPv4MappedToIPv6)
        {
            parsed.MapToIPv4().TryWriteBytes(destination, out length);
            return true;
        }

        return parsed.TryWriteBytes(destination, out length);
    }

    public bool Contains(ReadOnlySpan<byte> address)
    {
        if (address.Length != _network.Length)
        {
            return false;
        }

        var full = _prefix / 8;
        if (!address[..full].SequenceEqual(_network.AsSpan(0, full)))
        {
            return false;
        }

        var rest = _prefix % 8;
        if (rest == 0)
        {
            return true;
        }

        var mask = (byte)(0xFF << (8 - rest));
        return (address[full] & mask) == _network[full];
    }

    /// <summary>Dotted-quad IPv4 only (no octal, hex or short forms, which <see cref="IPAddress.TryParse(string?, out IPAddress?)"/> accepts).</summary>
    private static bool TryParseIPv4(ReadOnlySpan<char> text, Span<byte> destination)
    {
        uint result = 0;
        var parts = 0;
        var value = -1;
        foreach (var c in text)
        {
            if (c is >= '0' and <= '9')
            {
                value = value < 0 ? c - '0' : (value * 10) + (c - '0');
                if (value > 255)
                {
                    return false;
                }
            }
            else if (c == '.' && value >= 0 && parts < 3)
            {
                result = (result << 8) | (uint)value;
                parts++;
                value = -1;
            }
            else
            {
                return false;
            }
        }

        if (value < 0 || parts != 3)
        {
            return false;
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination, (result << 8) | (uint)value);
        return true;
    }

    private static bool HostBitsZero(byte[] network, int prefix)
    {
        for (var bit = prefix; bit < network.Length * 8; bit++)
        {
            if ((network[bit / 8] & (0x80 >> (bit % 8))) != 0)
            {
                return false;
            }
        }

        return true;
    }
}
