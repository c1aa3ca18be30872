using System.Reflection;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Rules;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Scanning.Policy;

/// <summary>
/// The rule catalogue and the per-profile allowlists, loaded once from the YAML files embedded from
/// <c>src/TrainGuard.Scanning/Rules</c>. Immutable after construction; <see cref="Default"/> is built lazily.
/// </summary>
public sealed class RuleCatalog
{
    private const string ResourcePrefix = "TrainGuard.Scanning.Rules.";
    private const string AllowlistPrefix = ResourcePrefix + "allowlists.";

    /// <summary>The family name of the scanning rules (<see cref="RuleDefinition.Family"/>).</summary>
    public const string Family = "scan";

    /// <summary>What rule files add to the common shape: patterns, their kind, parser error kinds, and the attribute-path modules.</summary>
    private static readonly RuleYamlSchema Schema = new()
    {
        FileFields = ["attribute_path_modules"],
        RuleFields = ["kind", "errors", "patterns"],
        VerdictRequired = true,
    };

    private static readonly Lazy<RuleCatalog> LazyDefault = new(LoadEmbedded, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Error kinds as the rule files spell them: <see cref="InputErrorKind.OverLimit"/> is <c>over_limit</c>.</summary>
    private static readonly (string Name, InputErrorKind Kind)[] ErrorKindNames = SnakeCaseNames();

    private readonly Dictionary<string, Rule> _byId;
    private readonly Rule[] _globalRules;
    // Indexed by the enum's value (arrays rather than dictionaries keyed by an enum: each of those is a generic
    // instantiation the JIT compiles on every CLI run).
    private readonly Rule?[] _byErrorKind;
    private readonly Allowlist?[] _allowlists;

    private readonly HashSet<string> _attributePathModules;

    private RuleCatalog(IReadOnlyList<Rule> rules, IReadOnlyList<Allowlist> allowlists, IReadOnlyList<string> attributePathModules, DerivedCallables derived)
    {
        Derived = derived;
        All = rules;
        AttributePathModules = attributePathModules;
        _attributePathModules = attributePathModules.ToHashSet(StringComparer.Ordinal);
        _byId = rules.ToDictionary(r => r.Id, StringComparer.Ordinal);
        _globalRules = rules.Where(r => r.Kind == RuleKind.Global).ToArray();
        _byErrorKind = new Rule?[ErrorKindNames.Length];
        foreach (var rule in rules)
        {
            foreach (var kind in rule.ErrorKinds)
            {
                _byErrorKind[(int)kind] = _byErrorKind[(int)kind] is null ? rule : throw new ArgumentException($"error kind {kind} is mapped twice", nameof(rules));
            }
        }

        Descriptors = rules.Select(r => r.Descriptor).ToArray();
        _allowlists = new Allowlist?[Enum.GetValues<PolicyProfile>().Length];
        foreach (var list in allowlists)
        {
            _allowlists[(int)list.Profile] = list;
        }

        var concrete = new Allowlist[ProfileNames.Concrete.Count];
        for (var i = 0; i < concrete.Length; i++)
        {
            concrete[i] = GetAllowlist(ProfileNames.Concrete[i]);
        }

        _allowlists[(int)PolicyProfile.Default] = Allowlist.Union(PolicyProfile.Default, concrete);
    }

    /// <summary>The catalogue embedded in this assembly.</summary>
    public static RuleCatalog Default => LazyDefault.Value;

    /// <summary>Dangerous callables derived from the sources of the supported Python, torch and numpy versions (see <see cref="DerivedCallables"/>).</summary>
    public DerivedCallables Derived { get; }

    /// <summary>Every rule, in id order.</summary>
    public IReadOnlyList<Rule> All { get; }

    /// <summary>
    /// Modules whose dangerous names are also recognised when reached through another module's attribute
    /// (<c>posixpath.os.system</c> is <c>os.system</c>); see <see cref="MatchGlobal"/>.
    /// </summary>
    public IReadOnlyList<string> AttributePathModules { get; }

    /// <summary>Every rule as reports (SARIF <c>tool.driver.rules</c>) describe it.</summary>
    public IReadOnlyList<RuleDescriptor> Descriptors { get; }

    /// <summary>The rule with this id; an unknown id is a programming error.</summary>
    public Rule Get(string id) =>
        _byId.TryGetValue(id, out var rule) ? rule : throw new KeyNotFoundException($"no rule with id '{id}' in the catalogue");

    public bool TryGet(string id, out Rule rule) => _byId.TryGetValue(id, out rule!);

    /// <summary>The allowlist of a profile (<see cref="PolicyProfile.Default"/> is the union of the others).</summary>
    public Allowlist GetAllowlist(PolicyProfile profile) =>
        (uint)profile < (uint)_allowlists.Length && _allowlists[(int)profile] is { } list ? list : throw new KeyNotFoundException($"no allowlist for profile {profile}");

    /// <summary>
    /// The dangerous-global rule that matches a <c>module.name</c>, or null when none does. When several
    /// patterns match, the most specific wins (exact name, then <c>*.segment</c>, then the longest prefix),
    /// then the higher severity: <c>os.remove</c> is file-system tampering although <c>os.*</c> also matches.
    /// A name no rule matches directly and no built-in profile allows is also tried from each segment that
    /// names one of the <see cref="AttributePathModules"/>: <c>torch.serialization.os.system</c> is process execution.
    /// </summary>
    public Rule? MatchGlobal(string fullName) => MatchDangerous(GlobalName.Normalize(fullName))?.Rule;

    /// <summary><see cref="MatchGlobal"/> with the pattern that matched and, for attribute paths, the suffix that did.</summary>
    internal (Rule Rule, GlobalPattern Pattern, string? ViaSuffix)? MatchDangerous(string normalizedFullName)
    {
        if (MatchGlobalPattern(normalizedFullName) is { } direct)
        {
            return (direct.Rule, direct.Pattern, null);
        }

        if (GetAllowlist(PolicyProfile.Default).Allows(normalizedFullName))
        {
            return null;
        }

        var segments = normalizedFullName.Split('.');
        for (var i = 1; i < segments.Length - 1; i++)
        {
            if (!_attributePathModules.Contains(segments[i]))
            {
                continue;
            }

            var suffix = GlobalName.Normalize(string.Join('.', segments[i..]));
            if (MatchGlobalPattern(suffix) is { } reached)
            {
                return (reached.Rule, reached.Pattern, suffix);
            }
        }

        return null;
    }

    internal (Rule Rule, GlobalPattern Pattern)? MatchGlobalPattern(string normalizedFullName)
    {
        (Rule Rule, GlobalPattern Pattern)? best = null;
        foreach (var rule in _globalRules)
        {
            var pattern = rule.BestGlobalMatch(normalizedFullName);
            if (pattern is null)
            {
                continue;
            }

            if (best is not { } b
                || pattern.Specificity > b.Pattern.Specificity
                || (pattern.Specificity == b.Pattern.Specificity && rule.Severity > b.Rule.Severity))
            {
                best = (rule, pattern);
            }
        }

        return best;
    }

    /// <summary>
    /// The format rule a parser error belongs to: the rule whose <c>errors</c> list holds the error's
    /// <see cref="InputErrorKind"/>, set where the error was thrown. The message text plays no part, so
    /// rewording a message (or input text quoted in it) cannot change a rule or a verdict.
    /// </summary>
    public Rule ClassifyError(MalformedInputException error) => ClassifyError(error.Kind);

    /// <inheritdoc cref="ClassifyError(MalformedInputException)"/>
    public Rule ClassifyError(InputErrorKind kind) =>
        (uint)kind < (uint)_byErrorKind.Length && _byErrorKind[(int)kind] is { } rule ? rule : throw new KeyNotFoundException($"no rule for error kind {kind}");

    /// <summary>The name of an error kind in the rule files (<c>over_limit</c>).</summary>
    public static string ErrorKindName(InputErrorKind kind) => ErrorKindNames.First(n => n.Kind == kind).Name;

    /// <summary>Reads an error kind name of the rule files; false for anything else.</summary>
    public static bool TryParseErrorKind(string name, out InputErrorKind kind)
    {
        foreach (var (n, k) in ErrorKindNames)
        {
            if (n == name)
            {
                kind = k;
                return true;
            }
        }

        kind = default;
        return false;
    }

    /// <summary>The error kinds in snake case, as the rule files spell them (<c>OverLimit</c> is <c>over_limit</c>).</summary>
    private static (string Name, InputErrorKind Kind)[] SnakeCaseNames()
    {
        var kinds = Enum.GetValues<InputErrorKind>();
        var names = new (string, InputErrorKind)[kinds.Length];
        var text = new System.Text.StringBuilder();
        for (var k = 0; k < kinds.Length; k++)
        {
            text.Clear();
            foreach (var c in kinds[k].ToString())
            {
                if (text.Length > 0 && char.IsUpper(c))
                {
                    text.Append('_');
                }

                text.Append(char.ToLowerInvariant(c));
            }

            names[k] = (text.ToString(), kinds[k]);
        }

        return names;
    }

    /// <summary>
    /// Loads the catalogue embedded in this assembly (use <see cref="Default"/> unless you need a fresh copy): from its
    /// precomputed snapshot when that matches the embedded files (<see cref="CatalogSnapshot"/>), else from the files.
    /// </summary>
    public static RuleCatalog LoadEmbedded() => CatalogSnapshot.TryLoadEmbeddedCatalog(DerivedCallables.Default) ?? LoadEmbeddedFiles();

    /// <summary>Loads the catalogue from the embedded YAML files (and the derived callables from their JSON), never from the snapshot.</summary>
    internal static RuleCatalog LoadEmbeddedFiles(DerivedCallables? derived = null)
    {
        var assembly = typeof(RuleCatalog).Assembly;
        var names = assembly.GetManifestResourceNames().Where(n => n.EndsWith(".yaml", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        var ruleFiles = names.Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && !n.StartsWith(AllowlistPrefix, StringComparison.Ordinal))
            .Select(n => (n, RuleYaml.ReadResource(assembly, n))).ToArray();
        var allowlistFiles = names.Where(n => n.StartsWith(AllowlistPrefix, StringComparison.Ordinal))
            .Select(n => (n, RuleYaml.ReadResource(assembly, n))).ToArray();
        return FromYaml(ruleFiles, allowlistFiles, derived ?? DerivedCallables.Default);
    }

    /// <summary>
    /// Builds a catalogue from rule and allowlist YAML documents (name, text). Throws a
    /// <see cref="MalformedInputException"/> of kind <see cref="InputErrorKind.Config"/> naming the document,
    /// line and rule when the data is inconsistent.
    /// </summary>
    public static RuleCatalog FromYaml(IEnumerable<(string Name, string Yaml)> ruleFiles, IEnumerable<(string Name, string Yaml)> allowlistFiles, DerivedCallables? derived = null)
    {
        var rules = new List<Rule>();
        var attributePathModules = new List<string>();
        foreach (var file in RuleYaml.ReadAll(ruleFiles, Family, Schema))
        {
            foreach (var module in YamlFields.Strings(file.Fields, "attribute_path_modules", file.Name) ?? [])
            {
                if (!GlobalName.IsIdentifier(module))
                {
                    throw Invalid(file.Name, null, $"attribute_path_modules entry '{module}' must be one identifier");
                }

                attributePathModules.Add(module);
            }

            foreach (var entry in file.Rules)
            {
                rules.Add(BuildRule(entry));
            }
        }

        var allowlists = new List<Allowlist>();
        foreach (var (name, yaml) in allowlistFiles)
        {
            allowlists.Add(BuildAllowlist(name, AllowlistDocument.From(YamlFields.Parse(name, yaml), name)));
        }

        foreach (var profile in ProfileNames.Concrete)
        {
            if (allowlists.Count(a => a.Profile == profile) != 1)
            {
                throw MalformedInputException.Create(InputErrorKind.Config, $"expected exactly one allowlist for profile '{profile.ToName()}'");
            }
        }

        foreach (var id in typeof(RuleIds).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetRawConstantValue()!))
        {
            if (!rules.Any(r => r.Id == id))
            {
                throw MalformedInputException.Create(InputErrorKind.Config, $"rule {id} (RuleIds) has no definition in the rule files");
            }
        }

        foreach (var kind in Enum.GetValues<InputErrorKind>())
        {
            var mapped = rules.Where(r => r.ErrorKinds.Contains(kind)).Select(r => r.Id).ToArray();
            if (mapped.Length != 1)
            {
                throw MalformedInputException.Create(
                    InputErrorKind.Config,
                    $"error kind '{ErrorKindName(kind)}' must be in the 'errors' list of exactly one format rule, not {(mapped.Length == 0 ? "none" : string.Join(", ", mapped))}");
            }
        }

        derived ??= DerivedCallables.Empty;
        foreach (var callable in derived.All)
        {
            if (!rules.Any(r => r.Id == callable.RuleId))
            {
                throw MalformedInputException.Create(InputErrorKind.Config, $"derived callable {callable.Name} ({callable.Source}) names rule {callable.RuleId}, which is not in the catalogue");
            }
        }

        return new RuleCatalog(rules.OrderBy(r => r.Id, StringComparer.Ordinal).ToArray(), allowlists, attributePathModules.Distinct(StringComparer.Ordinal).ToArray(), derived);
    }

    /// <summary>A catalogue from parts already checked by <see cref="FromYaml"/> (the snapshot's): rules in id order, one allowlist per concrete profile.</summary>
    internal static RuleCatalog FromParts(IReadOnlyList<Rule> rules, IReadOnlyList<Allowlist> allowlists, IReadOnlyList<string> attributePathModules, DerivedCallables derived) =>
        new(rules, allowlists, attributePathModules, derived);

    private static Rule BuildRule(RuleYamlEntry entry)
    {
        var (file, where) = (entry.File, entry.Where);
        var kind = YamlFields.String(entry.Fields, "kind", file) switch
        {
            "global" => RuleKind.Global,
            "pickle" => RuleKind.Pickle,
            "format" => RuleKind.Format,
            _ => throw Invalid(file, null, $"{where}: kind must be global, pickle or format"),
        };
        var patterns = YamlFields.Strings(entry.Fields, "patterns", file) ?? [];
        foreach (var pattern in patterns)
        {
            if (kind == RuleKind.Global && GlobalPattern.TryParse(pattern, out var problem) is null)
            {
                throw Invalid(file, null, $"{where}: bad pattern {problem}");
            }
        }

        var errors = ErrorKinds(entry.Fields, file);
        if (kind == RuleKind.Format && patterns.Count > 0)
        {
            throw Invalid(file, null, $"{where}: a format rule has no patterns; parser errors are mapped by kind ('errors')");
        }

        if (kind != RuleKind.Format && errors.Length > 0)
        {
            throw Invalid(file, null, $"{where}: only format rules map parser error kinds ('errors')");
        }

        if (kind == RuleKind.Global && patterns.Count == 0)
        {
            throw Invalid(file, null, $"{where}: a global rule needs patterns");
        }

        return new Rule(entry.Definition, kind, patterns.ToArray(), errors);
    }

    private static InputErrorKind[] ErrorKinds(IReadOnlyDictionary<string, YamlNode> fields, string file) =>
        !fields.TryGetValue("errors", out var node) ? []
        : YamlFields.Items(node, file, "errors").Select(item => item is YamlScalarNode { Value: { } name } && TryParseErrorKind(name, out var kind)
            ? kind
            : throw Invalid(file, item.Start.Line, $"unknown error kind '{(item as YamlScalarNode)?.Value}' in 'errors' (expected one of {string.Join(", ", ErrorKindNames.Select(n => n.Name))})")).ToArray();

    private static Allowlist BuildAllowlist(string file, AllowlistDocument doc)
    {
        if (!ProfileNames.TryParse(doc.Profile, out var profile) || profile == PolicyProfile.Default)
        {
            throw Invalid(file, null, $"profile must be one of {string.Join(", ", ProfileNames.Concrete.Select(p => p.ToName()))}");
        }

        var patterns = new List<GlobalPattern>();
        foreach (var entry in doc.Allow ?? [])
        {
            var pattern = GlobalPattern.TryParse(entry, out var problem) ?? throw Invalid(file, null, $"bad allow entry {problem}");
            if (pattern.Kind is not (GlobalPatternKind.Exact or GlobalPatternKind.Module))
            {
                throw Invalid(file, null, $"allow entry '{entry}' must be module.name or module.*");
            }

            patterns.Add(pattern);
        }

        var targets = (doc.GetattrTargets ?? []).Select(GlobalName.Normalize).ToArray();
        var list = new Allowlist(profile, Required(doc.Description, file, null, "description"), Required(doc.Source, file, null, "source"), patterns, targets);
        foreach (var target in targets)
        {
            if (!list.Allows(target))
            {
                throw Invalid(file, null, $"getattr target '{target}' must itself be allowed");
            }
        }

        return list;
    }

    private static string Required(string? value, string file, string? where, string field) =>
        string.IsNullOrWhiteSpace(value) ? throw Invalid(file, null, where is null ? $"'{field}' is required" : $"{where}: '{field}' is required") : value;

    private static MalformedInputException Invalid(string file, long? line, string problem) =>
        MalformedInputException.CreateAt(InputErrorKind.Config, problem, file, line is { } l ? (int)l : null);

    // YAML shapes, read field by field; an unknown field is an error naming its line.
    private sealed class AllowlistDocument
    {
        public string? Profile { get; private init; }
        public string? Description { get; private init; }
        public string? Source { get; private init; }
        public List<string>? Allow { get; private init; }
        public List<string>? GetattrTargets { get; private init; }

        public static AllowlistDocument From(YamlMappingNode node, string where)
        {
            var fields = YamlFields.Read(node, where, ["profile", "description", "source", "allow", "getattr_targets"]);
            return new AllowlistDocument
            {
                Profile = YamlFields.String(fields, "profile", where),
                Description = YamlFields.String(fields, "description", where),
                Source = YamlFields.String(fields, "source", where),
                Allow = YamlFields.Strings(fields, "allow", where),
                GetattrTargets = YamlFields.Strings(fields, "getattr_targets", where),
            };
        }
    }
}
