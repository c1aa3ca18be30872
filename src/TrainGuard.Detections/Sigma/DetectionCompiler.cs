using System.Text.RegularExpressions;
using TrainGuard.Detections.Matching;
using TrainGuard.Detections.Vocabulary;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Detections.Sigma;

/// <summary>A compiled detection (or filter) section: the matcher of its condition and the condition as parsed.</summary>
internal sealed record CompiledDetection(Matcher Matcher, IReadOnlyList<ConditionNode> Conditions);

/// <summary>
/// Compiles a Sigma <c>detection</c> section (or a filter's selection) into matchers: maps AND their fields, lists OR
/// their values, lists of texts are keyword searches; the condition joins the search identifiers. Every field is
/// checked against the vocabulary, every modifier and value against what it can mean, every placeholder against the
/// configuration: anything unknown refuses the rule with its file and line.
/// </summary>
internal sealed class DetectionCompiler(DetectionOptions options, FieldVocabulary vocabulary, FieldTable fields)
{
    private static readonly string[] ConditionKeywords = ["and", "or", "not", "of", "them", "all", "1", "any"];

    /// <summary>
    /// Every field test compiled so far by what it was compiled from (its key and values as written): the same test
    /// written in several rules is one matcher, with the number of places that use it.
    /// </summary>
    private readonly Dictionary<string, (Matcher Matcher, int Uses)> _fieldTests = new(StringComparer.Ordinal);

    /// <summary>True once a compiled rule searches keywords (the engine then collects every string of an event).</summary>
    public bool UsesKeywords { get; private set; }

    /// <summary>
    /// Gives every field test used in more than one place a slot of the per-event result cache (so it is evaluated
    /// once per event, whatever the number of rules that test it); returns the number of slots.
    /// </summary>
    public int AssignCacheIds()
    {
        var next = 0;
        foreach (var (matcher, uses) in _fieldTests.Values)
        {
            if (uses > 1)
            {
                matcher.CacheId = next++;
            }
        }

        return next;
    }

    /// <summary>
    /// Gives the string tests of a field that two or more tests search with <c>contains</c> one shared
    /// <see cref="InfixPrefilter"/>: an event value is then searched once for all of their values, and the tests whose
    /// values it does not hold (most, on most events) skip their own search.
    /// </summary>
    public void AssignPrefilters()
    {
        var bySlot = new Dictionary<int, List<StringTest>>();
        foreach (var (matcher, _) in _fieldTests.Values)
        {
            var (slot, tests) = matcher switch
            {
                FieldMatcher m => (m.Slot, new[] { m.Test }),
                FieldNotMatcher m => (m.Slot, new[] { m.Test }),
                FieldAllMatcher m => (m.Slot, m.Tests.ToArray()),
                _ => (-1, []),
            };
            foreach (var test in tests.OfType<StringTest>().Where(t => t.Infixes.Count > 0))
            {
                (bySlot.TryGetValue(slot, out var list) ? list : bySlot[slot] = []).Add(test);
            }
        }

        foreach (var tests in bySlot.Values.Where(t => t.Count > 1))
        {
            var prefilter = new InfixPrefilter(tests.SelectMany(t => t.Infixes));
            foreach (var test in tests)
            {
                test.Prefilter = prefilter;
            }
        }
    }

    /// <summary>Compiles a section whose keys are <c>condition</c> and search identifiers (plus <paramref name="otherKeys"/>, left to the caller).</summary>
    public CompiledDetection Compile(string source, YamlMappingNode section, string where, params string[] otherKeys)
    {
        var identifiers = new Dictionary<string, Matcher>(StringComparer.Ordinal);
        YamlEntry? condition = null;
        foreach (var entry in SigmaYaml.Entries(source, section))
        {
            if (otherKeys.Contains(entry.Key, StringComparer.Ordinal))
            {
                continue;
            }

            switch (entry.Key)
            {
                case "condition":
                    condition = entry;
                    break;
                case "timeframe":
                    throw DetectionErrors.Rule(source, entry.KeyNode, "'timeframe' (Sigma 1) is not supported: write a correlation document with a timespan");
                default:
                    CheckIdentifierName(source, entry);
                    identifiers.Add(entry.Key, SearchIdentifier(source, entry));
                    break;
            }
        }

        if (condition is not { } conditionEntry)
        {
            throw DetectionErrors.Rule(source, section, $"{where} needs a 'condition'");
        }

        if (identifiers.Count == 0)
        {
            throw DetectionErrors.Rule(source, section, $"{where} has no search identifier (such as 'selection') for its condition");
        }

        var texts = conditionEntry.Value switch
        {
            YamlScalarNode { Value: { } text } scalar when !SigmaYaml.IsNull(scalar) => [(text, (YamlNode)scalar)],
            YamlSequenceNode { Children.Count: > 0 } sequence => sequence.Children.Select(c => c is YamlScalarNode { Value: { } t } s && !SigmaYaml.IsNull(s)
                ? (t, c)
                : throw DetectionErrors.Rule(source, c, "every condition must be a text")).ToList(),
            _ => throw DetectionErrors.Rule(source, conditionEntry.Value, "'condition' must be a text or a list of texts"),
        };

        var nodes = new List<ConditionNode>();
        var matchers = new List<Matcher>();
        foreach (var (text, node) in texts)
        {
            var parsed = ConditionParser.Parse(text, out var problem)
                ?? throw DetectionErrors.Rule(source, node, $"condition '{text}': {problem}");
            nodes.Add(parsed);
            matchers.Add(Condition(source, node, parsed, identifiers));
        }

        return new CompiledDetection(matchers.Count == 1 ? matchers[0] : new OrMatcher([.. matchers]), nodes);
    }

    /// <summary>
    /// Checks a field name against the vocabulary and returns its slot. <paramref name="objectAllowed"/>: the name may be
    /// an object (for <c>exists</c> and <c>null</c>).
    /// </summary>
    public int FieldSlot(string source, YamlNode node, string field, bool objectAllowed)
    {
        switch (vocabulary.Classify(field))
        {
            case FieldKind.Value:
                return fields.Slot(field);
            case FieldKind.Object when objectAllowed:
                return fields.Slot(field);
            case FieldKind.Object:
                throw DetectionErrors.Rule(source, node, $"'{field}' is an object holding other fields: test one of its fields, or use '{field}|exists'");
            default:
                throw DetectionErrors.Rule(source, node, $"unknown field '{field}': not a field of TrainGuard events (docs/events.md); a site adds its own fields in the server configuration");
        }
    }

    private static void CheckIdentifierName(string source, YamlEntry entry)
    {
        var name = entry.Key;
        if (name.Length == 0 || name.Length > 128 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')
            || name.All(char.IsAsciiDigit) || ConditionKeywords.Contains(name, StringComparer.Ordinal))
        {
            throw DetectionErrors.Rule(source, entry.KeyNode, $"'{name}' cannot name a search identifier (letters, digits, _, - and . only; not a condition keyword)");
        }
    }

    private Matcher Condition(string source, YamlNode where, ConditionNode node, Dictionary<string, Matcher> identifiers) => node switch
    {
        IdentifierNode id => identifiers.TryGetValue(id.Name, out var matcher)
            ? matcher
            : throw DetectionErrors.Rule(source, where, $"the condition names '{id.Name}' (character {id.Position}), which is not a search identifier of this detection (known: {string.Join(", ", identifiers.Keys)})"),
        OfNode of => Of(source, where, of, identifiers),
        AndNode and => new AndMatcher(and.Parts.Select(p => Condition(source, where, p, identifiers)).ToArray()),
        OrNode or => new OrMatcher(or.Parts.Select(p => Condition(source, where, p, identifiers)).ToArray()),
        NotNode not => new NotMatcher(Condition(source, where, not.Inner, identifiers)),
        _ => throw new InvalidOperationException("unknown condition node"),
    };

    private static Matcher Of(string source, YamlNode where, OfNode of, Dictionary<string, Matcher> identifiers)
    {
        var selected = of.Pattern == "them"
            ? identifiers.Where(p => !p.Key.StartsWith('_')).Select(p => p.Value).ToArray()
            : identifiers.Where(p => Glob.Compile(SigmaValues.Pieces(of.Pattern.Replace("?", "\\?", StringComparison.Ordinal))) is var (shape, text, glob) && PatternMatches(shape, text, glob, p.Key)).Select(p => p.Value).ToArray();
        if (selected.Length == 0)
        {
            throw DetectionErrors.Rule(source, where, $"'{(of.All ? "all" : "1")} of {of.Pattern}' (character {of.Position}) matches no search identifier");
        }

        return of.All ? new AndMatcher(selected) : new OrMatcher(selected);
    }

    private static bool PatternMatches(PatternShape shape, string text, Glob? glob, string name) => shape switch
    {
        PatternShape.Exact => name.Equals(text, StringComparison.Ordinal),
        PatternShape.Prefix => name.StartsWith(text, StringComparison.Ordinal),
        PatternShape.Suffix => name.EndsWith(text, StringComparison.Ordinal),
        PatternShape.Infix => name.Contains(text, StringComparison.Ordinal),
        PatternShape.Any => true,
        _ => glob!.IsMatch(name, cased: true),
    };

    private Matcher SearchIdentifier(string source, YamlEntry entry)
    {
        switch (entry.Value)
        {
            case YamlMappingNode map:
                return Map(source, map);
            case YamlSequenceNode { Children.Count: 0 }:
                throw DetectionErrors.Rule(source, entry.Value, $"search identifier '{entry.Key}' is an empty list");
            case YamlSequenceNode list when list.Children.All(c => c is YamlScalarNode):
                return Keywords(source, list.Children.Cast<YamlScalarNode>().ToList(), all: false, cased: false);
            case YamlSequenceNode list when list.Children.All(c => c is YamlMappingNode):
                return new OrMatcher(list.Children.Select(c => Map(source, (YamlMappingNode)c)).ToArray());
            case YamlSequenceNode list:
                throw DetectionErrors.Rule(source, list, $"search identifier '{entry.Key}' mixes keywords and field maps: use one kind per identifier");
            case YamlScalarNode scalar when !SigmaYaml.IsNull(scalar):
                return Keywords(source, [scalar], all: false, cased: false);
            default:
                throw DetectionErrors.Rule(source, entry.Value, $"search identifier '{entry.Key}' must be a map of fields, a list of maps or a list of keywords");
        }
    }

    private Matcher Map(string source, YamlMappingNode map)
    {
        var entries = SigmaYaml.Entries(source, map);
        if (entries.Count == 0)
        {
            throw DetectionErrors.Rule(source, map, "an empty map matches every event: name at least one field");
        }

        if (entries.Any(e => e.Key.StartsWith('|')))
        {
            if (entries.Count != 1)
            {
                throw DetectionErrors.Rule(source, map, "a keyword map ('|all': [...]) holds that one key and no fields");
            }

            return KeywordMap(source, entries[0]);
        }

        var matchers = entries.Select(e => SharedField(source, e)).ToArray();
        return matchers.Length == 1 ? matchers[0] : new AndMatcher(matchers);
    }

    private Matcher KeywordMap(string source, YamlEntry entry)
    {
        var modifiers = entry.Key[1..].Split('|');
        if (modifiers.Any(m => m is not ("all" or "cased")) || modifiers.Distinct(StringComparer.Ordinal).Count() != modifiers.Length)
        {
            throw DetectionErrors.Rule(source, entry.KeyNode, $"keyword modifiers are 'all' and 'cased' ('{entry.Key}')");
        }

        var values = entry.Value switch
        {
            YamlSequenceNode sequence when sequence.Children.All(c => c is YamlScalarNode) => sequence.Children.Cast<YamlScalarNode>().ToList(),
            YamlScalarNode scalar => [scalar],
            _ => throw DetectionErrors.Rule(source, entry.Value, "keywords must be texts"),
        };
        var all = modifiers.Contains("all", StringComparer.Ordinal);
        if (all && values.Count < 2)
        {
            throw DetectionErrors.Rule(source, entry.Value, "'all' needs a list of at least two keywords");
        }

        return Keywords(source, values, all, modifiers.Contains("cased", StringComparer.Ordinal));
    }

    private Matcher Keywords(string source, List<YamlScalarNode> values, bool all, bool cased)
    {
        UsesKeywords = true;
        var patterns = new List<(PatternShape, string, Glob?)>();
        foreach (var value in values)
        {
            if (SigmaYaml.IsNull(value) || value.Value is not { Length: > 0 } text)
            {
                throw DetectionErrors.Rule(source, value, "a keyword must be a non-empty text");
            }

            // A keyword is found anywhere in a string value of the event.
            patterns.Add(Glob.Compile([PatternPiece.Star, .. SigmaValues.Pieces(text), PatternPiece.Star]));
        }

        return all
            ? new AndMatcher(patterns.Select(p => (Matcher)new KeywordMatcher(new StringTest([p], [], cased))).ToArray())
            : new KeywordMatcher(new StringTest(patterns, [], cased));
    }

    /// <summary>The matcher of a field test, compiled once for every place that writes the same test.</summary>
    private Matcher SharedField(string source, YamlEntry entry)
    {
        var key = TestKey(entry);
        if (key is null)
        {
            return Field(source, entry);
        }

        if (_fieldTests.TryGetValue(key, out var known))
        {
            _fieldTests[key] = (known.Matcher, known.Uses + 1);
            return known.Matcher;
        }

        var matcher = Field(source, entry);
        _fieldTests.Add(key, (matcher, 1));
        return matcher;
    }

    /// <summary>
    /// What a field test compiles from: the key with its modifiers and each value's text and whether it is plain (a
    /// plain scalar may be a number or null); null for a value that is not a scalar (left to <see cref="Field"/> to refuse).
    /// </summary>
    private static string? TestKey(YamlEntry entry)
    {
        var key = new System.Text.StringBuilder(entry.Key).Append('\0');
        IEnumerable<YamlNode> values = entry.Value is YamlSequenceNode sequence ? sequence.Children : [entry.Value];
        foreach (var value in values)
        {
            if (value is not YamlScalarNode scalar)
            {
                return null;
            }

            var text = scalar.Value ?? string.Empty;
            key.Append(scalar.Style == YamlDotNet.Core.ScalarStyle.Plain ? 'P' : 'Q').Append(scalar.Value is null ? 'N' : 'T')
                .Append(text.Length).Append(':').Append(text);
        }

        return key.Append(entry.Value is YamlSequenceNode ? 'L' : 'S').ToString();
    }

    private Matcher Field(string source, YamlEntry entry)
    {
        var spec = FieldSpec.Parse(entry.Key, out var problem) ?? throw DetectionErrors.Rule(source, entry.KeyNode, $"'{entry.Key}': {problem}");
        var values = entry.Value switch
        {
            YamlScalarNode scalar => [scalar],
            YamlSequenceNode { Children.Count: 0 } => throw DetectionErrors.Rule(source, entry.Value, $"'{entry.Key}' has an empty list of values"),
            YamlSequenceNode sequence => sequence.Children.Select(c => c as YamlScalarNode
                ?? throw DetectionErrors.Rule(source, c, $"every value of '{entry.Key}' must be a single value")).ToList(),
            _ => throw DetectionErrors.Rule(source, entry.Value, $"'{entry.Key}' must have a value or a list of values"),
        };

        if (values.Count > options.MaxValuesPerField)
        {
            throw DetectionErrors.Rule(source, entry.Value, $"'{entry.Key}' has more than {options.MaxValuesPerField:N0} values");
        }

        if (spec.All && values.Count < 2)
        {
            throw DetectionErrors.Rule(source, entry.Value, "'all' needs a list of at least two values");
        }

        var nulls = values.Count(SigmaYaml.IsNull);
        if (nulls > 0 && spec.Type != MatchType.Exists)
        {
            if (values.Count > 1)
            {
                throw DetectionErrors.Rule(source, entry.Value, "null cannot be part of a list (write a separate search identifier for it)");
            }

            if (spec.Type != MatchType.Equals || spec.Neq || spec.Expand || spec.Encoding != ValueEncoding.None || spec.Cased)
            {
                throw DetectionErrors.Rule(source, entry.Value, "null takes no modifiers (it means the field is absent or null; negate it in the condition)");
            }

            return new NullMatcher(FieldSlot(source, entry.KeyNode, spec.Field, objectAllowed: true));
        }

        if (spec.Type == MatchType.Exists)
        {
            if (values.Count != 1 || !SigmaYaml.TryBoolean(values[0], out var expected))
            {
                throw DetectionErrors.Rule(source, entry.Value, "'exists' takes true or false");
            }

            return new ExistsMatcher(FieldSlot(source, entry.KeyNode, spec.Field, objectAllowed: true), expected);
        }

        var slot = FieldSlot(source, entry.KeyNode, spec.Field, objectAllowed: false);
        if (spec.Type == MatchType.FieldRef)
        {
            var refs = values.Select(v => (Matcher)new FieldRefMatcher(
                slot,
                FieldSlot(source, v, Text(source, v, "fieldref takes a field name"), objectAllowed: false),
                spec.RefMode,
                spec.Cased,
                spec.Neq)).ToArray();
            return refs.Length == 1 ? refs[0] : spec.All || spec.Neq ? new AndMatcher(refs) : new OrMatcher(refs);
        }

        if (spec.All)
        {
            return new FieldAllMatcher(slot, values.Select(v => Test(source, spec, [v])).ToArray());
        }

        var test = Test(source, spec, values);
        return spec.Neq ? new FieldNotMatcher(slot, test) : new FieldMatcher(slot, test);
    }

    /// <summary>One test for values OR-ed together (one string set, one regex list, one network list).</summary>
    private ValueTest Test(string source, FieldSpec spec, List<YamlScalarNode> values) => spec.Type switch
    {
        MatchType.Lt or MatchType.Lte or MatchType.Gt or MatchType.Gte =>
            values.Count == 1 ? Number(source, spec, values[0]) : new AnyTest(values.Select(v => (ValueTest)Number(source, spec, v)).ToArray()),
        MatchType.Regex => new RegexTest(
            values.Select(v => Regex(source, spec, v)).ToArray(),
            values.Select(v => RegexLiteral.Required(v.Value!, spec.RegexOptions)).ToArray()),
        MatchType.Cidr => new CidrTest(values.Select(v => Cidr(source, v)).ToArray()),
        _ => Strings(source, spec, values),
    };

    private StringTest Strings(string source, FieldSpec spec, List<YamlScalarNode> values)
    {
        var patterns = new List<(PatternShape, string, Glob?)>();
        var numbers = new List<double>();
        foreach (var value in values)
        {
            var text = Text(source, value, "expected a text or number");
            if (spec.Type == MatchType.Equals && spec.Encoding == ValueEncoding.None && !spec.Expand && SigmaYaml.TryNumber(value, out var number))
            {
                numbers.Add(number);
            }

            IEnumerable<string> raw = [text];
            if (spec.Expand)
            {
                raw = SigmaValues.Expand(text, options.Placeholders, options.MaxValuesPerField, out var problem);
                if (problem is not null)
                {
                    throw DetectionErrors.Rule(source, value, problem);
                }
            }

            foreach (var item in raw)
            {
                foreach (var pieces in Encoded(source, spec, value, item))
                {
                    var wrapped = new List<PatternPiece>();
                    if (spec.Type is MatchType.Contains or MatchType.EndsWith)
                    {
                        wrapped.Add(PatternPiece.Star);
                    }

                    wrapped.AddRange(pieces);
                    if (spec.Type is MatchType.Contains or MatchType.StartsWith)
                    {
                        wrapped.Add(PatternPiece.Star);
                    }

                    patterns.Add(Glob.Compile(wrapped));
                    if (patterns.Count > options.MaxValuesPerField)
                    {
                        throw DetectionErrors.Rule(source, value, $"the values expand to more than {options.MaxValuesPerField:N0} patterns");
                    }
                }
            }
        }

        // base64 text is case-sensitive by nature: an encoded value is compared exactly.
        return new StringTest(patterns, numbers, spec.Cased || spec.Encoding != ValueEncoding.None);
    }

    private static IEnumerable<List<PatternPiece>> Encoded(string source, FieldSpec spec, YamlScalarNode node, string value)
    {
        if (spec.Encoding == ValueEncoding.None)
        {
            return [SigmaValues.Pieces(value)];
        }

        var plain = SigmaValues.PlainText(value)
            ?? throw DetectionErrors.Rule(source, node, $"'{value}': a base64 value cannot hold wildcards (escape them as \\* and \\?)");
        if (plain.Length == 0)
        {
            throw DetectionErrors.Rule(source, node, "a base64 value cannot be empty");
        }

        if (spec.Encoding == ValueEncoding.Base64)
        {
            return [[new PatternPiece(PatternPieceKind.Literal, SigmaValues.Base64(plain))]];
        }

        var forms = SigmaValues.Base64Offsets(plain)
            ?? throw DetectionErrors.Rule(source, node, $"'{value}' is too short for base64offset (an encoded form would be empty)");
        return forms.Select(f => new List<PatternPiece> { new(PatternPieceKind.Literal, f) });
    }

    private static NumberTest Number(string source, FieldSpec spec, YamlScalarNode value)
    {
        if (!SigmaYaml.TryNumber(value, out var threshold))
        {
            throw DetectionErrors.Rule(source, value, $"'{value.Value}' is not a number (lt, lte, gt and gte compare numbers)");
        }

        return new NumberTest(
            spec.Type switch { MatchType.Lt => NumberOperator.Lt, MatchType.Lte => NumberOperator.Lte, MatchType.Gt => NumberOperator.Gt, _ => NumberOperator.Gte },
            threshold);
    }

    private Regex Regex(string source, FieldSpec spec, YamlScalarNode value)
    {
        var pattern = Text(source, value, "'re' takes a regular expression");
        if (pattern.Length > options.MaxRegexLength)
        {
            throw DetectionErrors.Rule(source, value, $"the regular expression is longer than {options.MaxRegexLength:N0} characters");
        }

        if (RegexSubset.Check(pattern) is { } problem)
        {
            throw DetectionErrors.Rule(source, value, $"regular expression '{pattern}': {problem}");
        }

        var regexOptions = spec.RegexOptions | RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;
        try
        {
            return new Regex(pattern, regexOptions, options.RegexTimeout);
        }
        catch (ArgumentException ex)
        {
            throw DetectionErrors.Rule(source, value, $"regular expression '{pattern}' is not valid: {ex.Message}");
        }
        catch (NotSupportedException ex)
        {
            throw DetectionErrors.Rule(source, value, $"regular expression '{pattern}' uses a construct linear-time matching does not support: {ex.Message}");
        }
    }

    private static CidrBlock Cidr(string source, YamlScalarNode value)
    {
        var text = Text(source, value, "'cidr' takes a network such as 10.0.0.0/8");
        return CidrBlock.TryParse(text, out var block, out var problem)
            ? block!
            : throw DetectionErrors.Rule(source, value, problem!);
    }

    private static string Text(string source, YamlScalarNode value, string expected) =>
        value.Value is { } text && !SigmaYaml.IsNull(value) ? text : throw DetectionErrors.Rule(source, value, expected);
}
