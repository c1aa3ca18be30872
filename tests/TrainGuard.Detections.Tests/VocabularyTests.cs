using System.Text.RegularExpressions;
using TrainGuard.Detections.Tests.Support;
using TrainGuard.Detections.Vocabulary;

namespace TrainGuard.Detections.Tests;

/// <summary>
/// The field vocabulary rules are checked against (<c>Vocabulary/fields.txt</c>) and <c>docs/events.md</c> name the
/// same fields: a field the sensors document can be used in a rule, and a rule cannot name a field nobody documented.
/// </summary>
public sealed partial class VocabularyTests
{
    [Fact]
    public void Every_field_documented_in_events_md_is_in_the_vocabulary()
    {
        var vocabulary = FieldVocabulary.Create();
        var missing = DocumentedFields()
            .Where(f => f.EndsWith(".*", StringComparison.Ordinal)
                ? vocabulary.Classify(f[..^2]) != FieldKind.Object
                : vocabulary.Classify(f) == FieldKind.Unknown)
            .ToList();
        Assert.True(missing.Count == 0, "documented in docs/events.md but not in Vocabulary/fields.txt: " + string.Join(", ", missing));
    }

    [Fact]
    public void Every_vocabulary_field_is_documented_in_events_md()
    {
        var documented = DocumentedFields();
        var open = documented.Where(f => f.EndsWith(".*", StringComparison.Ordinal)).Select(f => f[..^1]).ToList();
        var undocumented = FieldVocabulary.BuiltInFields
            .Where(f => !documented.Contains(f) && !open.Any(prefix => f.StartsWith(prefix, StringComparison.Ordinal) && f.Length > prefix.Length))
            .ToList();
        Assert.True(undocumented.Count == 0, "in Vocabulary/fields.txt but not documented in docs/events.md: " + string.Join(", ", undocumented));
    }

    [Theory]
    [InlineData("`trainguard.signal.{name,number}`", new[] { "trainguard.signal.name", "trainguard.signal.number" })]
    [InlineData("`file.{path,hash.sha256}` and `user.audit.{id,name}`", new[] { "file.path", "file.hash.sha256", "user.audit.id", "user.audit.name" })]
    [InlineData("`trainguard.finding.{location.{file,line},why}`", new[] { "trainguard.finding.location.file", "trainguard.finding.location.line", "trainguard.finding.why" })]
    [InlineData("`trainguard.checkpoint.deleted: true`, `trainguard.ckpt.optimizer[]`, `trainguard.agent.*`", new[] { "trainguard.checkpoint.deleted", "trainguard.ckpt.optimizer", "trainguard.agent.*" })]
    [InlineData("`kind: sshd`, `ckpt sign --server`, `1e+21`, `SHA256(0x00 || x)`, `auditd|host|sec.ms:serial|index`", new string[0])]
    public void Field_names_are_read_from_code_spans_with_brace_lists_expanded(string markdown, string[] expected) =>
        Assert.Equal(expected.Order(StringComparer.Ordinal), FieldsIn(markdown).Order(StringComparer.Ordinal));

    private static HashSet<string> DocumentedFields() => FieldsIn(File.ReadAllText(Repository.File("docs", "events.md")));

    /// <summary>The dotted field names in the code spans of <paramref name="markdown"/>, <c>a.{b,c}</c> expanded.</summary>
    private static HashSet<string> FieldsIn(string markdown)
    {
        var fields = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match span in CodeSpan().Matches(markdown))
        {
            var text = span.Groups[1].Value;
            var colon = text.IndexOf(": ", StringComparison.Ordinal);
            if (colon > 0)
            {
                text = text[..colon]; // `field: value`
            }

            foreach (var field in Expand(text))
            {
                var name = field.Replace("[]", string.Empty, StringComparison.Ordinal);
                if (FieldName().IsMatch(name))
                {
                    fields.Add(name);
                }
            }
        }

        return fields;
    }

    private static IEnumerable<string> Expand(string text)
    {
        var open = text.IndexOf('{', StringComparison.Ordinal);
        if (open < 0)
        {
            return [text];
        }

        // The matching brace, and the alternatives at its top level.
        var depth = 0;
        var start = open + 1;
        var alternatives = new List<string>();
        for (var i = open; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '{':
                    depth++;
                    break;
                case ',' when depth == 1:
                    alternatives.Add(text[start..i]);
                    start = i + 1;
                    break;
                case '}' when --depth == 0:
                    alternatives.Add(text[start..i]);
                    var (head, tail) = (text[..open], text[(i + 1)..]);
                    return alternatives.SelectMany(a => Expand(head + a.Trim() + tail));
            }
        }

        return []; // unbalanced: not a field list
    }

    [GeneratedRegex("`([^`\n]+)`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"^(@timestamp|id|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+(\.\*)?)$")]
    private static partial Regex FieldName();
}
