using System.Reflection;
using System.Text.RegularExpressions;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using YamlDotNet.Core;
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

    private static readonly Lazy<RuleCatalog> LazyDefault = new(LoadEmbedded, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Error kinds as the rule files spell them: <see cref="InputErrorKind.OverLimit"/> is <c>over_limit</c>.</summary>
    private static readonly (string Name, InputErrorKind Kind)[] ErrorKindNames = Enum.GetValues<InputErrorKind>()
        .Select(k => (string.Concat(k.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString())), k))
        .ToArray();

    private readonly Dictionary<string, Rule> _byId;
    private readonly Rule[] _globalRules;
    private readonly Dictionary<InputErrorKind, Rule> _byErrorKind;
    private readonly Dictionary<PolicyProfile, Allowlist> _allowlists;

    private readonly HashSet<string> _attributePathModules;

    private RuleCatalog(IReadOnlyList<Rule> rules, IReadOnlyList<Allowlist> allowlists, IReadOnlyList<string> attributePathModules)
    {
        All = rules;
        AttributePathModules = attributePathModules;
        _attributePathModules = attributePathModules.ToHashSet(StringComparer.Ordinal);
        _byId = rules.ToDictionary(r => r.Id, StringComparer.Ordinal);
        _globalRules = rules.Where(r => r.Kind == RuleKind.Global).ToArray();
        _byErrorKind = rules.SelectMany(r => r.ErrorKinds.Select(k => (Kind: k, Rule: r))).ToDictionary(x => x.Kind, x => x.Rule);
        Descriptors = rules.Select(r => r.ToDescriptor()).ToArray();
        _allowlists = allowlists.ToDictionary(a => a.Profile);
        _allowlists[PolicyProfile.Default] = Allowlist.Union(PolicyProfile.Default, ProfileNames.Concrete.Select(p => _allowlists[p]).ToArray());
    }

    /// <summary>The catalogue embedded in this assembly.</summary>
    public static RuleCatalog Default => LazyDefault.Value;

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
    public Allowlist GetAllowlist(PolicyProfile profile) => _allowlists[profile];

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

        if (_allowlists[PolicyProfile.Default].Allows(normalizedFullName))
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
    public Rule ClassifyError(InputErrorKind kind) => _byErrorKind[kind];

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

    /// <summary>Loads the catalogue embedded in this assembly (use <see cref="Default"/> unless you need a fresh copy).</summary>
    public static RuleCatalog LoadEmbedded()
    {
        var assembly = typeof(RuleCatalog).Assembly;
        var names = assembly.GetManifestResourceNames().Where(n => n.EndsWith(".yaml", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        var ruleFiles = names.Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && !n.StartsWith(AllowlistPrefix, StringComparison.Ordinal))
            .Select(n => (n, ReadResource(assembly, n))).ToArray();
        var allowlistFiles = names.Where(n => n.StartsWith(AllowlistPrefix, StringComparison.Ordinal))
            .Select(n => (n, ReadResource(assembly, n))).ToArray();
        return FromYaml(ruleFiles, allowlistFiles);
    }

    /// <summary>
    /// Builds a catalogue from rule and allowlist YAML documents (name, text). Throws a
    /// <see cref="MalformedInputException"/> of kind <see cref="InputErrorKind.Config"/> naming the document,
    /// line and rule when the data is inconsistent.
    /// </summary>
    public static RuleCatalog FromYaml(IEnumerable<(string Name, string Yaml)> ruleFiles, IEnumerable<(string Name, string Yaml)> allowlistFiles)
    {
        var rules = new List<Rule>();
        var attributePathModules = new List<string>();
        foreach (var (name, yaml) in ruleFiles)
        {
            var file = RuleFileDocument.From(Parse(name, yaml), name);
            foreach (var module in file.AttributePathModules ?? [])
            {
                if (!GlobalName.IsIdentifier(module))
                {
                    throw Invalid(name, null, $"attribute_path_modules entry '{module}' must be one identifier");
                }

                attributePathModules.Add(module);
            }

            foreach (var doc in file.Rules ?? [])
            {
                rules.Add(BuildRule(name, doc));
            }
        }

        var duplicate = rules.GroupBy(r => r.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw MalformedInputException.Create(InputErrorKind.Config, $"rule id {duplicate.Key} is defined more than once");
        }

        var allowlists = new List<Allowlist>();
        foreach (var (name, yaml) in allowlistFiles)
        {
            allowlists.Add(BuildAllowlist(name, AllowlistDocument.From(Parse(name, yaml), name)));
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

        return new RuleCatalog(rules.OrderBy(r => r.Id, StringComparer.Ordinal).ToArray(), allowlists, attributePathModules.Distinct(StringComparer.Ordinal).ToArray());
    }

    private static string ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name) ?? throw Invalid(name, null, "embedded resource is missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Reads one document with YamlDotNet's representation model (the reflection-based deserializer costs
    /// about 0.2 s of start-up on every CLI run; this costs a few milliseconds).
    /// </summary>
    private static YamlMappingNode Parse(string name, string yaml)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Config, ex.Message, name, (int)ex.Start.Line, inner: ex);
        }

        return stream.Documents.Count == 1 && stream.Documents[0].RootNode is YamlMappingNode root
            ? root
            : throw Invalid(name, null, "expected one YAML document holding a mapping");
    }

    private static Rule BuildRule(string file, RuleDocument doc)
    {
        var where = $"rule {doc.Id ?? "(no id)"}";
        if (string.IsNullOrWhiteSpace(doc.Id) || !Regex.IsMatch(doc.Id, "^TG-[A-Z]{3}-[0-9]{3}$", RegexOptions.None, TimeSpan.FromSeconds(1)))
        {
            throw Invalid(file, null, $"{where}: id must look like TG-PKL-001");
        }

        var kind = doc.Kind switch
        {
            "global" => RuleKind.Global,
            "pickle" => RuleKind.Pickle,
            "format" => RuleKind.Format,
            _ => throw Invalid(file, null, $"{where}: kind must be global, pickle or format"),
        };
        if (doc.Severity is null || !SeverityExtensions.TryParse(doc.Severity, out var severity))
        {
            throw Invalid(file, null, $"{where}: severity must be info, low, medium, high or critical");
        }

        var verdict = doc.Verdict switch
        {
            "malicious" => Verdict.Malicious,
            "suspicious" => Verdict.Suspicious,
            "error" => Verdict.Error,
            "clean" => Verdict.Clean,
            _ => throw Invalid(file, null, $"{where}: verdict must be malicious, suspicious, error or clean"),
        };
        var patterns = doc.Patterns ?? [];
        foreach (var pattern in patterns)
        {
            if (kind == RuleKind.Global && GlobalPattern.TryParse(pattern, out var problem) is null)
            {
                throw Invalid(file, null, $"{where}: bad pattern {problem}");
            }
        }

        if (kind == RuleKind.Format && patterns.Count > 0)
        {
            throw Invalid(file, null, $"{where}: a format rule has no patterns; parser errors are mapped by kind ('errors')");
        }

        if (kind != RuleKind.Format && doc.Errors.Count > 0)
        {
            throw Invalid(file, null, $"{where}: only format rules map parser error kinds ('errors')");
        }

        if (kind == RuleKind.Global && patterns.Count == 0)
        {
            throw Invalid(file, null, $"{where}: a global rule needs patterns");
        }

        return new Rule(
            doc.Id,
            Required(doc.Name, file, where, "name"),
            kind,
            severity,
            verdict,
            Required(doc.Why, file, where, "why").Trim(),
            Required(doc.Guidance, file, where, "guidance").Trim(),
            patterns.ToArray(),
            (doc.MustMatch ?? []).ToArray(),
            (doc.MustNotMatch ?? []).ToArray(),
            doc.Errors);
    }

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
    private sealed class RuleFileDocument
    {
        public List<RuleDocument>? Rules { get; private init; }

        public List<string>? AttributePathModules { get; private init; }

        public static RuleFileDocument From(YamlMappingNode node, string where)
        {
            var fields = Yaml.Fields(node, where, "rules", "attribute_path_modules");
            return new RuleFileDocument
            {
                Rules = fields.TryGetValue("rules", out var rules) ? Yaml.Items(rules, where, "rules").Select(r => RuleDocument.From(r, where)).ToList() : null,
                AttributePathModules = Yaml.Strings(fields, "attribute_path_modules", where),
            };
        }
    }

    private sealed class RuleDocument
    {
        public string? Id { get; private init; }
        public string? Name { get; private init; }
        public string? Kind { get; private init; }
        public string? Severity { get; private init; }
        public string? Verdict { get; private init; }
        public string? Why { get; private init; }
        public string? Guidance { get; private init; }
        public IReadOnlyList<InputErrorKind> Errors { get; private init; } = [];
        public List<string>? Patterns { get; private init; }
        public List<string>? MustMatch { get; private init; }
        public List<string>? MustNotMatch { get; private init; }

        public static RuleDocument From(YamlNode node, string where)
        {
            var fields = Yaml.Fields(node, where, "id", "name", "kind", "severity", "verdict", "why", "guidance", "errors", "patterns", "must_match", "must_not_match");
            return new RuleDocument
            {
                Id = Yaml.String(fields, "id", where),
                Name = Yaml.String(fields, "name", where),
                Kind = Yaml.String(fields, "kind", where),
                Severity = Yaml.String(fields, "severity", where),
                Verdict = Yaml.String(fields, "verdict", where),
                Why = Yaml.String(fields, "why", where),
                Guidance = Yaml.String(fields, "guidance", where),
                Errors = ErrorKinds(fields, where),
                Patterns = Yaml.Strings(fields, "patterns", where),
                MustMatch = Yaml.Strings(fields, "must_match", where),
                MustNotMatch = Yaml.Strings(fields, "must_not_match", where),
            };
        }

        private static InputErrorKind[] ErrorKinds(Dictionary<string, YamlNode> fields, string where) =>
            !fields.TryGetValue("errors", out var node) ? []
            : Yaml.Items(node, where, "errors").Select(item => item is YamlScalarNode { Value: { } name } && TryParseErrorKind(name, out var kind)
                ? kind
                : throw Invalid(where, item.Start.Line, $"unknown error kind '{(item as YamlScalarNode)?.Value}' in 'errors' (expected one of {string.Join(", ", ErrorKindNames.Select(n => n.Name))})")).ToArray();
    }

    private sealed class AllowlistDocument
    {
        public string? Profile { get; private init; }
        public string? Description { get; private init; }
        public string? Source { get; private init; }
        public List<string>? Allow { get; private init; }
        public List<string>? GetattrTargets { get; private init; }

        public static AllowlistDocument From(YamlMappingNode node, string where)
        {
            var fields = Yaml.Fields(node, where, "profile", "description", "source", "allow", "getattr_targets");
            return new AllowlistDocument
            {
                Profile = Yaml.String(fields, "profile", where),
                Description = Yaml.String(fields, "description", where),
                Source = Yaml.String(fields, "source", where),
                Allow = Yaml.Strings(fields, "allow", where),
                GetattrTargets = Yaml.Strings(fields, "getattr_targets", where),
            };
        }
    }

    private static class Yaml
    {
        public static Dictionary<string, YamlNode> Fields(YamlNode node, string where, params string[] known)
        {
            if (node is not YamlMappingNode mapping)
            {
                throw Invalid(where, node.Start.Line, $"expected a mapping");
            }

            var fields = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
            foreach (var (key, value) in mapping.Children)
            {
                var name = (key as YamlScalarNode)?.Value ?? string.Empty;
                if (!known.Contains(name, StringComparer.Ordinal))
                {
                    throw Invalid(where, key.Start.Line, $"unknown field '{name}' (expected one of {string.Join(", ", known)})");
                }

                if (!fields.TryAdd(name, value))
                {
                    throw Invalid(where, key.Start.Line, $"field '{name}' is given twice");
                }
            }

            return fields;
        }

        public static IEnumerable<YamlNode> Items(YamlNode node, string where, string field) =>
            node switch
            {
                YamlSequenceNode sequence => sequence.Children,
                YamlScalarNode { Value: null or "" or "~" or "null" } => [],
                _ => throw Invalid(where, node.Start.Line, $"'{field}' must be a list"),
            };

        public static string? String(Dictionary<string, YamlNode> fields, string field, string where) =>
            !fields.TryGetValue(field, out var node) ? null
            : node is YamlScalarNode scalar ? (scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && scalar.Value is "~" or "null" ? null : scalar.Value)
            : throw Invalid(where, node.Start.Line, $"'{field}' must be a single value");

        public static List<string>? Strings(Dictionary<string, YamlNode> fields, string field, string where) =>
            !fields.TryGetValue(field, out var node) ? null
            : Items(node, where, field).Select(item => item is YamlScalarNode { Value: { } value }
                ? value
                : throw Invalid(where, item.Start.Line, $"every entry of '{field}' must be a single value")).ToList();
    }
}
