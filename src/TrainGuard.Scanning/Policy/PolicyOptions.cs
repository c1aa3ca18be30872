using TrainGuard.Parsing;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace TrainGuard.Scanning.Policy;

/// <summary>
/// How <see cref="PicklePolicy"/> judges imports: which profile's allowlist applies and which extra globals
/// the operator allows (<c>--allow</c>, or <c>allow:</c> in a config file).
/// </summary>
public sealed record PolicyOptions
{
    /// <summary>Longest config file read (a policy file is a few lines; anything larger is a mistake).</summary>
    public const long MaxConfigBytes = 1024 * 1024;

    public PolicyProfile Profile { get; init; } = PolicyProfile.Default;

    /// <summary>
    /// Extra allowed globals: <c>module.name</c>, or <c>module.*</c> for the names defined directly in a
    /// module. A known-dangerous global is only allowed by its exact name, and then still yields an
    /// informational <see cref="RuleIds.AllowedDangerousGlobal"/> note.
    /// </summary>
    public IReadOnlyList<string> ExtraAllowed { get; init; } = [];

    /// <summary>
    /// How many calls of the same dangerous global are reported one by one before the rest are only counted
    /// (in the <c>more_calls</c> evidence of the last one); bounds the report for hostile pickles.
    /// </summary>
    public int MaxCallFindingsPerGlobal { get; init; } = 20;

    /// <summary>Checks every <see cref="ExtraAllowed"/> entry; throws a <see cref="MalformedInputException"/> (<see cref="InputErrorKind.Config"/>) naming the first bad one.</summary>
    public void Validate(string source = "--allow")
    {
        foreach (var entry in ExtraAllowed)
        {
            ParseAllowEntry(entry, source, line: null);
        }

        if (MaxCallFindingsPerGlobal < 1)
        {
            throw Invalid("MaxCallFindingsPerGlobal must be at least 1", source, line: null);
        }
    }

    /// <summary>
    /// Reads a YAML policy file:
    /// <code>
    /// profile: default          # default | torch-weights | numpy | hf-trainer | plain
    /// allow:                    # extra globals (module.name or module.*)
    ///   - mypkg.layers.Block
    /// </code>
    /// Unknown keys, bad values and YAML syntax errors are <see cref="MalformedInputException"/>s (<see cref="InputErrorKind.Config"/>) whose message
    /// starts with <c>path:line:</c>.
    /// </summary>
    public static PolicyOptions LoadConfig(string path)
    {
        string text;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw Invalid("config file does not exist", path, line: null);
            }

            if (info.Length > MaxConfigBytes)
            {
                throw MalformedInputException.CreateAt(InputErrorKind.OverLimit, $"config file is {info.Length:N0} bytes, more than the {MaxConfigBytes:N0} a policy file may have", path, line: null);
            }

            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Invalid($"cannot read config file: {ex.Message}", path, line: null, ex);
        }

        return ParseConfig(text, path);
    }

    /// <summary>Parses policy YAML text; <paramref name="source"/> names it in errors (a path, or e.g. <c>&lt;stdin&gt;</c>).</summary>
    public static PolicyOptions ParseConfig(string yaml, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw Invalid($"not valid YAML: {Findings.TextSanitizer.Escape(ex.InnerException?.Message ?? ex.Message, 200)}", source, LineOf(ex.Start), ex);
        }

        var options = new PolicyOptions();
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" or "~" or "null" })
        {
            return options;
        }

        if (stream.Documents.Count > 1)
        {
            throw Invalid("expected one YAML document, found several", source, LineOf(stream.Documents[1].RootNode.Start));
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw Invalid("expected a mapping with 'profile' and/or 'allow' keys", source, LineOf(stream.Documents[0].RootNode.Start));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in root.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value;
            if (key is null)
            {
                throw Invalid("keys must be plain names ('profile', 'allow')", source, LineOf(keyNode.Start));
            }

            if (!seen.Add(key))
            {
                throw Invalid($"'{Findings.TextSanitizer.Escape(key, 60)}' is given twice", source, LineOf(keyNode.Start));
            }

            switch (key)
            {
                case "profile":
                    var name = (valueNode as YamlScalarNode)?.Value;
                    if (name is null || !ProfileNames.TryParse(name, out var profile))
                    {
                        throw Invalid(
                            $"profile must be one of: {string.Join(", ", ProfileNames.All)}",
                            source,
                            LineOf(valueNode.Start));
                    }

                    options = options with { Profile = profile };
                    break;
                case "allow":
                    options = options with { ExtraAllowed = ParseAllowList(valueNode, source) };
                    break;
                default:
                    throw Invalid(
                        $"unknown key '{Findings.TextSanitizer.Escape(key, 60)}'; a policy file has 'profile' and 'allow'",
                        source,
                        LineOf(keyNode.Start));
            }
        }

        return options;
    }

    /// <summary>Parses one allow entry; throws a <see cref="MalformedInputException"/> (<see cref="InputErrorKind.Config"/>) for anything but <c>module.name</c> or <c>module.*</c>.</summary>
    internal static GlobalPattern ParseAllowEntry(string entry, string source, int? line)
    {
        var pattern = GlobalPattern.TryParse(entry, out var problem);
        if (pattern is null)
        {
            throw Invalid($"bad allow entry {Findings.TextSanitizer.Escape(problem, 200)}", source, line);
        }

        if (pattern.Kind is not (GlobalPatternKind.Exact or GlobalPatternKind.Module))
        {
            throw Invalid($"bad allow entry '{Findings.TextSanitizer.Escape(entry, 200)}': allow entries are module.name or module.*", source, line);
        }

        return pattern;
    }

    private static string[] ParseAllowList(YamlNode node, string source)
    {
        if (node is YamlScalarNode { Value: null or "" or "~" or "null" })
        {
            return [];
        }

        if (node is not YamlSequenceNode sequence)
        {
            throw Invalid("'allow' must be a list, e.g. allow: [mypkg.layers.Block]", source, LineOf(node.Start));
        }

        var entries = new List<string>();
        foreach (var item in sequence.Children)
        {
            if (item is not YamlScalarNode { Value: { } value })
            {
                throw Invalid("each 'allow' entry must be a string such as mypkg.layers.Block", source, LineOf(item.Start));
            }

            ParseAllowEntry(value, source, LineOf(item.Start));
            entries.Add(value.Trim());
        }

        return [.. entries];
    }

    private static int LineOf(Mark mark) => (int)Math.Clamp(mark.Line, 1, int.MaxValue);

    private static MalformedInputException Invalid(string problem, string source, int? line, Exception? inner = null) =>
        MalformedInputException.CreateAt(InputErrorKind.Config, problem, source, line, inner: inner);
}
