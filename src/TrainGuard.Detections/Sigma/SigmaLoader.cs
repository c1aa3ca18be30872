using System.Globalization;
using System.Text.RegularExpressions;
using TrainGuard.Detections.Correlation;
using TrainGuard.Detections.Matching;
using TrainGuard.Detections.Vocabulary;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Detections.Sigma;

/// <summary>A rule that an event value satisfies one anchor of (see <see cref="RuleSetPlan.ByValue"/>).</summary>
internal readonly record struct ValueRef(int Rule, int Anchor);

/// <summary>
/// The rules an exact value of one field selects, by value (case-insensitive), and a bitmap of every rule anchored on the
/// field (the engine skips the lookup when none of them can be a candidate any more).
/// </summary>
internal sealed record ValueIndex(int Slot, Dictionary<string, ValueRef[]> Rules, ulong[] Anchored);

/// <summary>Everything the engine needs, compiled once from the rule files.</summary>
internal sealed class RuleSetPlan
{
    public required FieldTable Fields { get; init; }

    public required bool CollectStrings { get; init; }

    public required RulePlan[] Rules { get; init; }

    public required CorrelationPlan[] Correlations { get; init; }

    /// <summary>Rules by the <c>event.action</c> values they require (case-insensitive).</summary>
    public required Dictionary<string, int[]> ByAction { get; init; }

    /// <summary>
    /// Rules by the values of other fields they require (<c>user.name: [a, b]</c> in the rule's top-level <c>and</c>):
    /// per field, each value with the rules and anchor numbers (1 to <see cref="Anchors"/> - 1) it satisfies.
    /// </summary>
    public required ValueIndex[] ByValue { get; init; }

    /// <summary>Anchor numbers: 0 is <c>event.action</c>, the others are <see cref="ByValue"/> anchors.</summary>
    public required int Anchors { get; init; }

    /// <summary>
    /// For each anchor number, a bitmap of the rules that have that anchor (words of 64 rules, anchor after anchor): a
    /// rule with anchors is evaluated only on events that satisfy all of them.
    /// </summary>
    public required ulong[] Required { get; init; }

    /// <summary>Rules that require a field to be present, by its slot (rules with no action or value anchor).</summary>
    public required (int Slot, int[] Rules)[] ByField { get; init; }

    /// <summary>Rules evaluated on every event.</summary>
    public required int[] Always { get; init; }

    /// <summary>Slots of the per-event result cache of matchers several rules share (<see cref="Matcher.CacheId"/>).</summary>
    public required int CachedMatchers { get; init; }

    public required IReadOnlyList<DetectionRule> Definitions { get; init; }

    public required int Filters { get; init; }
}

/// <summary>
/// Loads Sigma documents and links them: references by id or name, correlation chains (no cycles), filters applied
/// to the rules they name, which documents raise hits of their own (a rule referenced by a correlation does only when
/// one of them says <c>generate: true</c>), and the rule index the engine uses to skip rules an event cannot match.
/// </summary>
internal sealed partial class SigmaLoader
{
    /// <summary>Exact tests of fields other than <c>event.action</c> a rule is indexed on, at most.</summary>
    private const int MaxValueAnchors = 2;

    private static readonly string[] CorrelationFields = ["type", "rules", "group-by", "timespan", "condition", "aliases", "generate"];
    private static readonly string[] ConditionFields = ["gt", "gte", "lt", "lte", "eq", "neq", "field"];

    private readonly DetectionOptions _options;
    private readonly FieldVocabulary _vocabulary;
    private readonly FieldTable _fields = new();
    private readonly DetectionCompiler _compiler;
    private readonly List<SigmaDocument> _documents = [];
    private readonly Dictionary<string, SigmaDocument> _byReference = new(StringComparer.Ordinal);

    public SigmaLoader(DetectionOptions options)
    {
        _options = options;
        _vocabulary = FieldVocabulary.Create(options.ExtraFields);
        _compiler = new DetectionCompiler(options, _vocabulary, _fields);
    }

    public RuleSetPlan Load(IEnumerable<(string Name, string Yaml)> files)
    {
        var any = false;
        foreach (var (name, yaml) in files)
        {
            any = true;
            var documents = SigmaYaml.Documents(name, yaml, _options);
            if (documents.Count == 0)
            {
                throw DetectionErrors.Rule(name, 0, 0, "the rule file holds no Sigma document");
            }

            foreach (var root in documents)
            {
                Add(SigmaDocument.Read(name, root, _vocabulary));
            }
        }

        if (!any)
        {
            throw DetectionErrors.Rule("(rules)", 0, 0, "no rule file was given");
        }

        var correlations = _documents.Where(d => d.Kind == DocumentKind.Correlation).ToList();
        var headers = correlations.ToDictionary(d => d, ReadCorrelationHeader);
        CheckCycles(headers);
        var generates = new Dictionary<SigmaDocument, bool>();
        foreach (var (correlation, header) in headers)
        {
            foreach (var (target, _) in header.Rules)
            {
                generates[target] = (generates.TryGetValue(target, out var g) && g) || header.Generate;
            }
        }

        bool Emits(SigmaDocument d) => d.Kind != DocumentKind.Filter && (!generates.TryGetValue(d, out var generated) || generated);

        // Detection rules.
        var rules = new List<RulePlan>();
        var ruleIndex = new Dictionary<SigmaDocument, int>();
        var ruleSources = new Dictionary<SigmaDocument, LogSource>();
        foreach (var document in _documents.Where(d => d.Kind == DocumentKind.Rule))
        {
            var compiled = _compiler.Compile(document.Source, document.Section, $"the detection of rule {document.Label}");
            ruleIndex[document] = rules.Count;
            ruleSources[document] = document.LogSource!;
            rules.Add(new RulePlan(rules.Count, document.Label, compiled.Matcher, Emits(document) ? Definition(document, null) : null));
        }

        // Filters: the rule's condition AND the filter's.
        var filters = 0;
        foreach (var document in _documents.Where(d => d.Kind == DocumentKind.Filter))
        {
            ApplyFilter(document, rules, ruleIndex, ruleSources);
            filters++;
        }

        // Correlations.
        var correlationIndex = correlations.Select((d, i) => (d, i)).ToDictionary(p => p.d, p => p.i);
        var plans = new List<CorrelationPlan>();
        foreach (var document in correlations)
        {
            plans.Add(CompileCorrelation(document, headers[document], headers, ruleIndex, correlationIndex, Emits(document)));
        }

        foreach (var plan in plans)
        {
            for (var position = 0; position < plan.Sources.Length; position++)
            {
                var source = plan.Sources[position];
                (source.FromCorrelation ? plans[source.Index].Feeds : rules[source.Index].Feeds).Add(new Feed(plan.Index, position));
            }
        }

        var cachedMatchers = _compiler.AssignCacheIds();
        _compiler.AssignPrefilters();
        var (byAction, byValue, required, byField, always) = Index(rules);
        var definitions = rules.Select(r => r.Definition).Concat(plans.Select(p => p.Definition)).OfType<DetectionRule>().ToList();
        return new RuleSetPlan
        {
            Fields = _fields,
            CollectStrings = _compiler.UsesKeywords,
            Rules = [.. rules],
            Correlations = [.. plans],
            ByAction = byAction,
            ByValue = byValue,
            Anchors = 1 + MaxValueAnchors,
            Required = required,
            ByField = byField,
            Always = always,
            CachedMatchers = cachedMatchers,
            Definitions = definitions,
            Filters = filters,
        };
    }

    private void Add(SigmaDocument document)
    {
        foreach (var (key, field) in new[] { (document.Id, "id"), (document.Name, "name") })
        {
            if (key is null)
            {
                continue;
            }

            if (_byReference.TryGetValue(key, out var other))
            {
                throw DetectionErrors.Rule(document.Source, document.Fields[field].Value, $"{field} '{key}' is already used by {other.Label} ({other.Source}:{other.Line})");
            }

            _byReference.Add(key, document);
        }

        _documents.Add(document);
    }

    /// <summary>The rule model of a document that raises hits: it needs what every TrainGuard rule has.</summary>
    private static DetectionRule Definition(SigmaDocument d, CorrelationHeader? correlation)
    {
        string Need(string? value, string what) => string.IsNullOrWhiteSpace(value)
            ? throw DetectionErrors.Rule(d.Source, d.Root, $"{d.Label} raises alerts on its own, so it needs {what}")
            : value;
        var id = Need(d.Id, "an 'id' (TG-DET-001 or a UUID)");
        var level = d.Level ?? throw DetectionErrors.Rule(d.Source, d.Root, $"{d.Label} raises alerts on its own, so it needs a 'level' (informational, low, medium, high, critical)");
        return new DetectionRule
        {
            Id = id,
            Family = DetectionRuleFamily.FamilyName,
            Name = d.ModelName(),
            Title = d.Title,
            Severity = level,
            Why = Whitespace().Replace(Need(d.Description, "a 'description' (why it matters)"), " ").Trim(),
            Guidance = Need(d.Guidance, $"guidance ('{SigmaDocument.ExtensionKey}: {{guidance: ...}}', what a responder does)"),
            MustMatch = d.MustMatch,
            MustNotMatch = d.MustNotMatch,
            Source = d.Source,
            Line = d.Line,
            SigmaName = d.Name,
            Tags = d.Tags,
            CorrelationType = correlation?.Type,
            GroupBy = correlation?.GroupBy.Select(g => g.Name).ToArray() ?? [],
            Timespan = correlation is null ? null : TimeSpan.FromTicks(correlation.SpanTicks),
            AccountOfFirstEvent = d.AccountOfFirstEvent,
        };
    }

    private SigmaDocument Resolve(SigmaDocument owner, string reference, YamlNode node) =>
        _byReference.TryGetValue(reference, out var target)
            ? target
            : throw DetectionErrors.Rule(owner.Source, node, $"{owner.Label} refers to '{reference}', which is no rule's id or name");

    private void ApplyFilter(SigmaDocument filter, List<RulePlan> rules, Dictionary<SigmaDocument, int> ruleIndex, Dictionary<SigmaDocument, LogSource> logSources)
    {
        var fields = SigmaYaml.Fields(filter.Source, filter.Section);
        var references = SigmaYaml.OptionalTexts(filter.Source, fields, "rules");
        if (references is not { Count: > 0 })
        {
            throw DetectionErrors.Rule(filter.Source, filter.Section, $"filter {filter.Label} needs 'rules': the ids or names of the rules it tunes");
        }

        var compiled = _compiler.Compile(filter.Source, filter.Section, $"filter {filter.Label}", "rules");
        if (!compiled.Conditions.All(IsExclusion))
        {
            throw DetectionErrors.Rule(filter.Source, fields["condition"].Value,
                "a filter's condition is joined to the rule's with 'and' (as pySigma does), so it must drop events: write it as 'not selection' (or 'not a and not b')");
        }

        foreach (var (reference, node) in references)
        {
            var target = Resolve(filter, reference, node);
            if (target.Kind != DocumentKind.Rule)
            {
                throw DetectionErrors.Rule(filter.Source, node, $"filter {filter.Label} can only tune detection rules, and {target.Label} is a {target.Kind.ToString().ToLowerInvariant()}");
            }

            if (!filter.LogSource!.Contains(logSources[target]))
            {
                throw DetectionErrors.Rule(filter.Source, node, $"filter {filter.Label} (logsource {filter.LogSource}) does not apply to {target.Label} (logsource {logSources[target]})");
            }

            var rule = rules[ruleIndex[target]];
            rule.Matcher = new AndMatcher([rule.Matcher, compiled.Matcher]);
        }
    }

    private static bool IsExclusion(ConditionNode node) => node switch
    {
        NotNode => true,
        AndNode and => and.Parts.All(IsExclusion),
        _ => false,
    };

    private sealed record GroupField(string Name, YamlNode Node);

    private sealed record CorrelationHeader(
        CorrelationType Type,
        IReadOnlyList<(SigmaDocument Target, YamlNode Node)> Rules,
        IReadOnlyList<GroupField> GroupBy,
        long SpanTicks,
        CountCondition Condition,
        (string Name, YamlNode Node)? ValueField,
        Dictionary<string, Dictionary<SigmaDocument, (string Field, YamlNode Node)>> Aliases,
        bool Generate);

    private CorrelationHeader ReadCorrelationHeader(SigmaDocument d)
    {
        var source = d.Source;
        var fields = SigmaYaml.Fields(source, d.Section);
        SigmaYaml.CheckKnown(source, fields, "correlation", CorrelationFields);
        var typeText = SigmaYaml.RequiredText(source, d.Section, fields, "type", $"correlation {d.Label}");
        var type = typeText switch
        {
            "event_count" => CorrelationType.EventCount,
            "value_count" => CorrelationType.ValueCount,
            "temporal" => CorrelationType.Temporal,
            "temporal_ordered" => CorrelationType.TemporalOrdered,
            "value_sum" or "value_avg" or "value_percentile" or "value_median" =>
                throw DetectionErrors.Rule(source, fields["type"].Value, $"correlation type '{typeText}' is not supported (event_count, value_count, temporal and temporal_ordered are)"),
            _ => throw DetectionErrors.Rule(source, fields["type"].Value, $"unknown correlation type '{typeText}' (event_count, value_count, temporal, temporal_ordered)"),
        };

        var references = SigmaYaml.OptionalTexts(source, fields, "rules");
        if (references is not { Count: > 0 })
        {
            throw DetectionErrors.Rule(source, d.Section, $"correlation {d.Label} needs 'rules': the ids or names of the rules it correlates");
        }

        var targets = new List<(SigmaDocument, YamlNode)>();
        foreach (var (reference, node) in references)
        {
            var target = Resolve(d, reference, node);
            if (target.Kind == DocumentKind.Filter)
            {
                throw DetectionErrors.Rule(source, node, $"'{reference}' is a filter; a correlation refers to rules or correlations");
            }

            if (target == d)
            {
                throw DetectionErrors.Rule(source, node, $"correlation {d.Label} refers to itself");
            }

            if (targets.Any(t => t.Item1 == target))
            {
                throw DetectionErrors.Rule(source, node, $"'{reference}' is referred to twice");
            }

            targets.Add((target, node));
        }

        if (type is CorrelationType.Temporal or CorrelationType.TemporalOrdered && targets.Count < 2)
        {
            throw DetectionErrors.Rule(source, fields["rules"].Value, $"a {typeText} correlation relates at least two rules");
        }

        if (!fields.TryGetValue("group-by", out var groupEntry))
        {
            throw DetectionErrors.Rule(source, d.Section, $"correlation {d.Label} needs 'group-by' (the fields that must be equal, e.g. user.audit.id; [] for one group)");
        }

        var groupBy = groupEntry.Value is YamlSequenceNode { Children.Count: 0 }
            ? []
            : SigmaYaml.OptionalTexts(source, fields, "group-by")!.Select(g => new GroupField(g.Text, g.Node)).ToList();
        if (groupBy.GroupBy(g => g.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } repeated)
        {
            throw DetectionErrors.Rule(source, groupEntry.Value, $"'{repeated.Key}' is listed twice in group-by");
        }

        var span = ReadTimespan(d, fields);
        var (condition, valueField) = ReadCondition(d, fields, type, targets.Count);
        var aliases = ReadAliases(d, fields, targets);
        var generate = ReadBoolean(source, fields, "generate");
        if (generate is not null && d.Generate is not null && generate != d.Generate)
        {
            throw DetectionErrors.Rule(source, fields["generate"].Value, "'generate' is given twice with different values");
        }

        return new CorrelationHeader(type, targets, groupBy, span, condition, valueField, aliases, generate ?? d.Generate ?? false);
    }

    private long ReadTimespan(SigmaDocument d, IReadOnlyDictionary<string, YamlEntry> fields)
    {
        var text = SigmaYaml.RequiredText(d.Source, d.Section, fields, "timespan", $"correlation {d.Label}");
        var match = TimespanPattern().Match(text);
        if (!match.Success)
        {
            throw DetectionErrors.Rule(d.Source, fields["timespan"].Value, $"timespan '{text}' must be a number and one of s, m, h, d (e.g. 15m)");
        }

        var amount = long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var unit = match.Groups[2].Value switch { "s" => TimeSpan.TicksPerSecond, "m" => TimeSpan.TicksPerMinute, "h" => TimeSpan.TicksPerHour, _ => TimeSpan.TicksPerDay };
        if (amount > _options.MaxTimespan.Ticks / unit)
        {
            throw DetectionErrors.Rule(d.Source, fields["timespan"].Value, $"timespan '{text}' is longer than the limit of {_options.MaxTimespan.TotalDays:0.#} days");
        }

        return amount * unit;
    }

    private (CountCondition Condition, (string Name, YamlNode Node)? ValueField) ReadCondition(SigmaDocument d, IReadOnlyDictionary<string, YamlEntry> fields, CorrelationType type, int rules)
    {
        var source = d.Source;
        if (!fields.TryGetValue("condition", out var entry))
        {
            return type switch
            {
                CorrelationType.Temporal or CorrelationType.TemporalOrdered => (new CountCondition(Gte: rules), null),
                _ => throw DetectionErrors.Rule(source, d.Section, $"correlation {d.Label} needs a 'condition' such as gte: 5"),
            };
        }

        if (type == CorrelationType.TemporalOrdered)
        {
            throw DetectionErrors.Rule(source, entry.KeyNode, "a temporal_ordered correlation has no condition: every rule must match, in order");
        }

        if (entry.Value is not YamlMappingNode mapping)
        {
            throw DetectionErrors.Rule(source, entry.Value, "'condition' must be a mapping such as {gte: 5}");
        }

        var bounds = SigmaYaml.Fields(source, mapping);
        SigmaYaml.CheckKnown(source, bounds, "condition", ConditionFields);
        long? Bound(string key)
        {
            if (!bounds.TryGetValue(key, out var b))
            {
                return null;
            }

            return b.Value is YamlScalarNode scalar && SigmaYaml.TryCount(scalar, out var n) && n <= _options.MaxWindowEntries * 10L
                ? n
                : throw DetectionErrors.Rule(source, b.Value, $"condition '{key}' takes a whole number from 0 to {_options.MaxWindowEntries * 10L:N0}");
        }

        var condition = new CountCondition(Bound("gt"), Bound("gte"), Bound("lt"), Bound("lte"), Bound("eq"), Bound("neq"));
        if (!condition.HasLowerBound)
        {
            throw DetectionErrors.Rule(source, mapping, "the condition needs a lower bound (gt, gte or eq of at least 1): an upper bound alone describes absence, which an event stream cannot show");
        }

        if (condition.Capacity > _options.MaxWindowEntries)
        {
            throw DetectionErrors.Rule(source, mapping, $"the condition needs more than {_options.MaxWindowEntries:N0} events per group in memory (the window limit)");
        }

        if (type == CorrelationType.Temporal && ((condition.Gte ?? 0) > rules || (condition.Gt ?? -1) >= rules || (condition.Eq ?? 0) > rules))
        {
            throw DetectionErrors.Rule(source, mapping, $"a temporal condition counts the referenced rules that matched, and there are {rules}");
        }

        (string, YamlNode)? valueField = null;
        if (bounds.TryGetValue("field", out var fieldEntry))
        {
            if (type != CorrelationType.ValueCount)
            {
                throw DetectionErrors.Rule(source, fieldEntry.KeyNode, "'field' belongs to value_count conditions");
            }

            valueField = (SigmaYaml.OptionalText(source, bounds, "field") ?? throw DetectionErrors.Rule(source, fieldEntry.Value, "'field' names the field whose distinct values are counted"), fieldEntry.Value);
        }
        else if (type == CorrelationType.ValueCount)
        {
            throw DetectionErrors.Rule(source, mapping, "a value_count condition needs 'field': the field whose distinct values are counted");
        }

        return (condition, valueField);
    }

    private Dictionary<string, Dictionary<SigmaDocument, (string, YamlNode)>> ReadAliases(SigmaDocument d, IReadOnlyDictionary<string, YamlEntry> fields, List<(SigmaDocument Target, YamlNode Node)> targets)
    {
        var aliases = new Dictionary<string, Dictionary<SigmaDocument, (string, YamlNode)>>(StringComparer.Ordinal);
        if (!fields.TryGetValue("aliases", out var entry))
        {
            return aliases;
        }

        if (entry.Value is not YamlMappingNode mapping)
        {
            throw DetectionErrors.Rule(d.Source, entry.Value, "'aliases' must map each alias to {rule name: field}");
        }

        foreach (var alias in SigmaYaml.Entries(d.Source, mapping))
        {
            if (alias.Value is not YamlMappingNode perRule)
            {
                throw DetectionErrors.Rule(d.Source, alias.Value, $"alias '{alias.Key}' must map rule names to fields");
            }

            var map = new Dictionary<SigmaDocument, (string, YamlNode)>();
            foreach (var item in SigmaYaml.Entries(d.Source, perRule))
            {
                var target = Resolve(d, item.Key, item.KeyNode);
                if (!targets.Any(t => t.Target == target))
                {
                    throw DetectionErrors.Rule(d.Source, item.KeyNode, $"alias '{alias.Key}' names '{item.Key}', which this correlation does not refer to");
                }

                map[target] = (item.Value is YamlScalarNode { Value: { Length: > 0 } field } ? field : throw DetectionErrors.Rule(d.Source, item.Value, "an alias maps a rule to a field name"), item.Value);
            }

            aliases[alias.Key] = map;
        }

        return aliases;
    }

    private static bool? ReadBoolean(string source, IReadOnlyDictionary<string, YamlEntry> fields, string key) =>
        !fields.TryGetValue(key, out var entry) ? null
        : entry.Value is YamlScalarNode scalar && SigmaYaml.TryBoolean(scalar, out var value) ? value
        : throw DetectionErrors.Rule(source, entry.Value, $"'{key}' must be true or false");

    private static void CheckCycles(Dictionary<SigmaDocument, CorrelationHeader> headers)
    {
        var state = new Dictionary<SigmaDocument, int>();
        foreach (var start in headers.Keys)
        {
            // Iterative depth-first search: 1 = on the path, 2 = done.
            var stack = new Stack<(SigmaDocument Node, int Next)>();
            if (state.GetValueOrDefault(start) == 2)
            {
                continue;
            }

            stack.Push((start, 0));
            state[start] = 1;
            while (stack.Count > 0)
            {
                var (node, next) = stack.Pop();
                var children = headers[node].Rules;
                if (next < children.Count)
                {
                    stack.Push((node, next + 1));
                    var (child, childNode) = children[next];
                    if (!headers.ContainsKey(child))
                    {
                        continue;
                    }

                    switch (state.GetValueOrDefault(child))
                    {
                        case 1:
                            throw DetectionErrors.Rule(node.Source, childNode, $"correlation {node.Label} refers back to itself through {child.Label} (a cycle)");
                        case 0:
                            state[child] = 1;
                            stack.Push((child, 0));
                            break;
                    }
                }
                else
                {
                    state[node] = 2;
                }
            }
        }
    }

    private CorrelationPlan CompileCorrelation(
        SigmaDocument d,
        CorrelationHeader header,
        Dictionary<SigmaDocument, CorrelationHeader> headers,
        Dictionary<SigmaDocument, int> ruleIndex,
        Dictionary<SigmaDocument, int> correlationIndex,
        bool emits)
    {
        var sources = new List<SourcePlan>();
        foreach (var (target, node) in header.Rules)
        {
            (string Name, YamlNode Node) Resolved(string name, YamlNode at) =>
                header.Aliases.TryGetValue(name, out var perRule)
                    ? perRule.TryGetValue(target, out var field)
                        ? field
                        : throw DetectionErrors.Rule(d.Source, at, $"alias '{name}' does not say which field of {target.Label} it stands for")
                    : (name, at);

            if (target.Kind == DocumentKind.Rule)
            {
                var groupSlots = header.GroupBy.Select(g => Resolved(g.Name, g.Node)).Select(f => _compiler.FieldSlot(d.Source, f.Node, f.Name, objectAllowed: false)).ToArray();
                var valueSlot = -1;
                if (header.ValueField is { } v)
                {
                    var (name, at) = Resolved(v.Name, v.Node);
                    valueSlot = _compiler.FieldSlot(d.Source, at, name, objectAllowed: false);
                }

                sources.Add(new SourcePlan(false, ruleIndex[target], groupSlots, valueSlot));
            }
            else
            {
                var inner = headers[target].GroupBy.Select(g => g.Name).ToList();
                int Position((string Name, YamlNode Node) f) => inner.IndexOf(f.Name) is var i and >= 0
                    ? i
                    : throw DetectionErrors.Rule(d.Source, f.Node, $"'{f.Name}' is not in the group-by of correlation {target.Label} ({string.Join(", ", inner)}), so its hits do not carry it");
                var groupIndexes = header.GroupBy.Select(g => Position(Resolved(g.Name, g.Node))).ToArray();
                var valueIndex = header.ValueField is { } v ? Position(Resolved(v.Name, v.Node)) : -1;
                sources.Add(new SourcePlan(true, correlationIndex[target], groupIndexes, valueIndex));
            }
        }

        return new CorrelationPlan
        {
            Index = correlationIndex[d],
            Label = d.Label,
            Type = header.Type,
            SpanTicks = header.SpanTicks,
            Condition = header.Condition,
            GroupBy = header.GroupBy.Select(g => g.Name).ToArray(),
            Sources = [.. sources],
            Definition = emits ? Definition(d, header) : null,
        };
    }

    /// <summary>
    /// The rule index: each rule is anchored on the <c>event.action</c> values it requires and on up to
    /// <see cref="MaxValueAnchors"/> exact tests of other fields in its top-level <c>and</c> (those with the fewest
    /// values), else on a field it requires to be present, else on nothing (evaluated on every event). What an anchor
    /// tests is left out of what the engine evaluates, as the index has made that test.
    /// </summary>
    private (Dictionary<string, int[]> ByAction, ValueIndex[] ByValue, ulong[] Required, (int Slot, int[] Rules)[] ByField, int[] Always) Index(List<RulePlan> rules)
    {
        var byAction = new Dictionary<string, List<int>>(StringComparer.OrdinalIgnoreCase);
        var byValue = new SortedDictionary<int, Dictionary<string, List<ValueRef>>>();
        var byField = new SortedDictionary<int, List<int>>();
        var always = new List<int>();
        var words = (rules.Count + 63) / 64;
        var required = new ulong[(1 + MaxValueAnchors) * words];
        foreach (var rule in rules)
        {
            var anchor = rule.Matcher.Anchor(_fields.Action);
            var parts = rule.Matcher is AndMatcher and ? and.Parts : [rule.Matcher];
            var valueTests = parts.OfType<FieldMatcher>()
                .Where(f => f.Slot != _fields.Action && IsIndexable(f))
                .OrderBy(f => ((StringTest)f.Test).ExactOnly!.Count)
                .Take(MaxValueAnchors)
                .ToList();
            rule.Evaluated = rule.Matcher;
            if (anchor.Kind == AnchorKind.Actions)
            {
                rule.Evaluated = WithoutActionTest(rule.Matcher, anchor);
                required[rule.Index >> 6] |= 1UL << (rule.Index & 63);
                foreach (var action in anchor.Actions!)
                {
                    (byAction.TryGetValue(action, out var list) ? list : byAction[action] = []).Add(rule.Index);
                }
            }

            for (var k = 0; k < valueTests.Count; k++)
            {
                var test = valueTests[k];
                var number = 1 + k;
                required[(number * words) + (rule.Index >> 6)] |= 1UL << (rule.Index & 63);
                var values = byValue.TryGetValue(test.Slot, out var known) ? known : byValue[test.Slot] = new(StringComparer.OrdinalIgnoreCase);
                foreach (var value in ((StringTest)test.Test).ExactOnly!)
                {
                    (values.TryGetValue(value, out var list) ? list : values[value] = []).Add(new ValueRef(rule.Index, number));
                }

                rule.Evaluated = Without(rule.Evaluated, test);
            }

            if (anchor.Kind == AnchorKind.Actions || valueTests.Count > 0)
            {
                continue;
            }

            if (anchor.Kind == AnchorKind.Field)
            {
                (byField.TryGetValue(anchor.Slot, out var fieldList) ? fieldList : byField[anchor.Slot] = []).Add(rule.Index);
            }
            else
            {
                always.Add(rule.Index);
            }
        }

        return (
            byAction.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.OrdinalIgnoreCase),
            byValue.Select(p => new ValueIndex(p.Key, p.Value.ToDictionary(v => v.Key, v => v.Value.ToArray(), StringComparer.OrdinalIgnoreCase), Bitmap(words, p.Value.Values.SelectMany(v => v).Select(r => r.Rule)))).ToArray(),
            required,
            byField.Select(p => (p.Key, p.Value.ToArray())).ToArray(),
            [.. always]);
    }

    private static ulong[] Bitmap(int words, IEnumerable<int> rules)
    {
        var bitmap = new ulong[words];
        foreach (var rule in rules)
        {
            bitmap[rule >> 6] |= 1UL << (rule & 63);
        }

        return bitmap;
    }

    /// <summary>An exact, case-insensitive test of strings only (no number, no pattern): what a hash lookup decides alike.</summary>
    private static bool IsIndexable(FieldMatcher field) => field.Test is StringTest { Cased: false, ExactOnly.Count: > 0 };

    /// <summary><paramref name="matcher"/> less <paramref name="test"/>, when it is the matcher or a part of its <c>and</c>.</summary>
    private static Matcher Without(Matcher matcher, Matcher test)
    {
        if (ReferenceEquals(matcher, test))
        {
            return TrueMatcher.Instance;
        }

        if (matcher is AndMatcher and && and.Parts.Any(p => ReferenceEquals(p, test)))
        {
            var rest = and.Parts.Where(p => !ReferenceEquals(p, test)).ToArray();
            return rest.Length == 1 ? rest[0] : new AndMatcher(rest);
        }

        return matcher;
    }

    /// <summary>
    /// What the engine evaluates of a rule the index selects by action: the rule without the <c>event.action</c> test
    /// its anchor came from, when that test is a part of the rule's top-level <c>and</c> (or the whole rule) and
    /// compares exactly as the index does (case-insensitive, the same values): every event the index selects the rule
    /// for passes that test, so evaluating it again changes nothing.
    /// </summary>
    private Matcher WithoutActionTest(Matcher matcher, Anchor anchor)
    {
        bool IsAnchorTest(Matcher part) =>
            part is FieldMatcher { Test: StringTest { Cased: false, ExactOnly: { } exact } } field
            && field.Slot == _fields.Action
            && exact.Count == anchor.Actions!.Count
            && exact.All(anchor.Actions.Contains);

        if (IsAnchorTest(matcher))
        {
            return TrueMatcher.Instance;
        }

        if (matcher is AndMatcher and && and.Parts.FirstOrDefault(IsAnchorTest) is { } test)
        {
            return Without(matcher, test);
        }

        return matcher;
    }

    [GeneratedRegex("^([1-9][0-9]{0,9})([smhd])$")]
    private static partial Regex TimespanPattern();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
