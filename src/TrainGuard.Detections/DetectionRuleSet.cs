using TrainGuard.Detections.Sigma;
using TrainGuard.Parsing;
using TrainGuard.Rules;

namespace TrainGuard.Detections;

/// <summary>
/// A set of Sigma 2.1 documents (detection rules, correlations, filters; <c>taxonomy: ecs</c>) compiled once into
/// matchers and a rule index. Immutable and thread-safe; each <see cref="CreateEngine"/> gives an evaluator with
/// its own correlation state. Loading fails closed: an unknown modifier, field, placeholder, reference or key in a
/// section TrainGuard interprets refuses the whole set with a <see cref="MalformedInputException"/> naming the
/// file and line.
/// </summary>
public sealed class DetectionRuleSet
{
    private const string BuiltInPrefix = "TrainGuard.Detections.Rules.";

    private static readonly Lazy<IReadOnlyList<(string Name, string Yaml)>> BuiltInText = new(ReadBuiltIn, LazyThreadSafetyMode.ExecutionAndPublication);

    private static readonly Lazy<DetectionRuleSet> DefaultSet = new(() => BuiltIn(), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly Lazy<DetectionRuleFamily> _family;

    private DetectionRuleSet(RuleSetPlan plan, DetectionOptions options)
    {
        Plan = plan;
        Options = options;
        _family = new Lazy<DetectionRuleFamily>(() => new DetectionRuleFamily(this), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public DetectionOptions Options { get; }

    /// <summary>The rules that raise hits of their own (detection rules and correlations), in load order.</summary>
    public IReadOnlyList<DetectionRule> Rules => Plan.Definitions;

    /// <summary>The rules as the <c>detections</c> rule family (samples run through a fresh engine).</summary>
    public DetectionRuleFamily Family => _family.Value;

    /// <summary>Detection rules compiled (including those that only feed correlations).</summary>
    public int DetectionCount => Plan.Rules.Length;

    public int CorrelationCount => Plan.Correlations.Length;

    public int FilterCount => Plan.Filters;

    internal RuleSetPlan Plan { get; }

    /// <summary>
    /// The rule files TrainGuard ships (<c>src/TrainGuard.Detections/Rules/*.yaml</c>, embedded), as (resource name,
    /// text) in ordinal name order: load them together with a site's files with <see cref="Load"/>.
    /// </summary>
    public static IReadOnlyList<(string Name, string Yaml)> BuiltInFiles => BuiltInText.Value;

    /// <summary>The built-in rules loaded with the default options (placeholders included): the family every test runs.</summary>
    public static DetectionRuleSet Default => DefaultSet.Value;

    /// <summary>The built-in rules, loaded with <paramref name="options"/> (the server's placeholders and limits).</summary>
    /// <exception cref="MalformedInputException">The options leave out a placeholder the built-in rules use.</exception>
    public static DetectionRuleSet BuiltIn(DetectionOptions? options = null) => Load(BuiltInFiles, options);

    /// <summary>Loads rule files given as (name, text); the name is what errors cite.</summary>
    /// <exception cref="MalformedInputException">A document is not valid YAML or not a rule TrainGuard can evaluate.</exception>
    public static DetectionRuleSet Load(IEnumerable<(string Name, string Yaml)> files, DetectionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        options ??= DetectionOptions.Default;
        return new DetectionRuleSet(new SigmaLoader(options).Load(files), options);
    }

    /// <summary>Loads one rule file given as text.</summary>
    public static DetectionRuleSet Parse(string name, string yaml, DetectionOptions? options = null) => Load([(name, yaml)], options);

    /// <summary>Loads rule files from disk (in the order given).</summary>
    /// <exception cref="MalformedInputException">A file cannot be read, or holds a rule that cannot be loaded.</exception>
    public static DetectionRuleSet LoadFiles(IEnumerable<string> paths, DetectionOptions? options = null) => Load(ReadFiles(paths, options), options);

    /// <summary>
    /// Reads rule files from disk as (path, text), refusing one larger than <see cref="DetectionOptions.MaxRuleFileBytes"/>
    /// allows; load them with <see cref="Load"/>, e.g. after <see cref="BuiltInFiles"/> so they may name built-in rules.
    /// </summary>
    /// <exception cref="MalformedInputException">A file cannot be read or is too large.</exception>
    public static IReadOnlyList<(string Name, string Yaml)> ReadFiles(IEnumerable<string> paths, DetectionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        options ??= DetectionOptions.Default;
        var files = new List<(string, string)>();
        foreach (var path in paths)
        {
            try
            {
                var info = new FileInfo(path);
                if (info.Exists && info.Length > options.MaxRuleFileBytes * 4L)
                {
                    throw DetectionErrors.Rule(path, 0, 0, $"the rule file is larger than {options.MaxRuleFileBytes:N0} characters");
                }

                files.Add((path, File.ReadAllText(path)));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw DetectionErrors.Rule(path, 0, 0, $"cannot read the rule file: {ex.Message}");
            }
        }

        return files;
    }

    /// <summary>Loads every <c>*.yml</c> and <c>*.yaml</c> file under a folder (ordinal path order); a folder without rule files is an error.</summary>
    public static DetectionRuleSet LoadDirectory(string directory, DetectionOptions? options = null) => LoadFiles(RuleFilesIn(directory), options);

    /// <summary>Every <c>*.yml</c> and <c>*.yaml</c> file under a folder, in ordinal path order.</summary>
    /// <exception cref="MalformedInputException">The folder does not exist or holds no rule file.</exception>
    public static IReadOnlyList<string> RuleFilesIn(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw DetectionErrors.Rule(directory, 0, 0, "no such rule folder");
        }

        var paths = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(p => p.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || p.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (paths.Count == 0)
        {
            throw DetectionErrors.Rule(directory, 0, 0, "the folder holds no rule file (*.yml, *.yaml)");
        }

        return paths;
    }

    private static IReadOnlyList<(string Name, string Yaml)> ReadBuiltIn()
    {
        var assembly = typeof(DetectionRuleSet).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(BuiltInPrefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => (n, RuleYaml.ReadResource(assembly, n)))
            .ToArray();
    }

    /// <summary>A new evaluator with empty correlation state (not thread-safe; one per stream).</summary>
    public DetectionEngine CreateEngine() => new(this);

    /// <summary>
    /// Fuzz target for the rule parser: any text is loaded as a rule file; only <see cref="MalformedInputException"/> may
    /// escape.
    /// </summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        try
        {
            _ = Parse("fuzz.yml", System.Text.Encoding.UTF8.GetString(data));
        }
        catch (MalformedInputException)
        {
        }
    }
}
