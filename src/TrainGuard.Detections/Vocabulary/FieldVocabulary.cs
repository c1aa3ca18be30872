using TrainGuard.Rules;

namespace TrainGuard.Detections.Vocabulary;

/// <summary>What the vocabulary says about a field name.</summary>
public enum FieldKind
{
    /// <summary>Not a field TrainGuard events carry: a rule naming it is refused.</summary>
    Unknown,

    /// <summary>A field with a value (a string, number, boolean or list of them).</summary>
    Value,

    /// <summary>An object holding other fields (a proper prefix of a known field): testable with <c>exists</c> or <c>null</c> only.</summary>
    Object,
}

/// <summary>
/// The field names detection rules may use: the ECS and TrainGuard fields of <c>docs/events.md</c>
/// (<c>Vocabulary/fields.txt</c>) plus a site's own (<see cref="DetectionOptions.ExtraFields"/>). A rule naming any
/// other field is refused when it loads, so a misspelt field cannot make a rule that silently never matches.
/// </summary>
public sealed class FieldVocabulary
{
    private const string ResourceName = "TrainGuard.Detections.Vocabulary.fields.txt";

    private static readonly Lazy<IReadOnlyList<string>> BuiltIn = new(
        () => Parse(RuleYaml.ReadResource(typeof(FieldVocabulary).Assembly, ResourceName)),
        LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly HashSet<string> _fields = new(StringComparer.Ordinal);
    private readonly HashSet<string> _objects = new(StringComparer.Ordinal);
    private readonly List<string> _openPrefixes = [];

    public FieldVocabulary(IEnumerable<string> fields)
    {
        foreach (var raw in fields)
        {
            var field = raw.Trim();
            if (field.EndsWith(".*", StringComparison.Ordinal))
            {
                var prefix = field[..^2];
                _openPrefixes.Add(prefix + ".");
                AddObjects(prefix + ".x");
                _objects.Add(prefix);
                continue;
            }

            _fields.Add(field);
            AddObjects(field);
        }
    }

    /// <summary>The fields of <c>docs/events.md</c> (entries ending in <c>.*</c> admit every field below them).</summary>
    public static IReadOnlyList<string> BuiltInFields => BuiltIn.Value;

    /// <summary>The built-in vocabulary plus <paramref name="extra"/>.</summary>
    public static FieldVocabulary Create(IEnumerable<string>? extra = null) => new(BuiltIn.Value.Concat(extra ?? []));

    public FieldKind Classify(string field)
    {
        if (_fields.Contains(field))
        {
            return FieldKind.Value;
        }

        foreach (var prefix in _openPrefixes)
        {
            if (field.Length > prefix.Length && field.StartsWith(prefix, StringComparison.Ordinal))
            {
                return FieldKind.Value;
            }
        }

        return _objects.Contains(field) ? FieldKind.Object : FieldKind.Unknown;
    }

    /// <summary>Reads the vocabulary file format: one field a line, <c>#</c> comments, blank lines ignored.</summary>
    public static IReadOnlyList<string> Parse(string text) =>
        text.Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .ToArray();

    private void AddObjects(string field)
    {
        for (var dot = field.LastIndexOf('.'); dot > 0; dot = field.LastIndexOf('.', dot - 1))
        {
            _objects.Add(field[..dot]);
        }
    }
}
