using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Findings;
using TrainGuard.Parsing;

namespace TrainGuard.Rules;

/// <summary>What the families' sample languages share: a sample given as a mapping, an expected severity, and how to describe findings.</summary>
public static class RuleSamples
{
    /// <summary>A sample that is a mapping (YAML in the rule file, JSON here) with only the <paramref name="fields"/> its family knows.</summary>
    /// <exception cref="MalformedInputException">Not a mapping, or an unknown field (kind <see cref="InputErrorKind.Config"/>).</exception>
    public static JsonObject ParseMapping(string sample, string family, IReadOnlyCollection<string> fields)
    {
        JsonObject spec;
        try
        {
            spec = JsonNode.Parse(sample) as JsonObject ?? throw MalformedInputException.Create(InputErrorKind.Config, $"a {family} sample must be a mapping");
        }
        catch (JsonException ex)
        {
            throw MalformedInputException.Create(InputErrorKind.Config, $"a {family} sample must be a mapping: {ex.Message}", inner: ex);
        }

        if (spec.Select(p => p.Key).FirstOrDefault(k => !fields.Contains(k, StringComparer.Ordinal)) is { } unknown)
        {
            throw MalformedInputException.Create(InputErrorKind.Config, $"unknown {family} sample field '{unknown}' (expected one of {string.Join(", ", fields)})");
        }

        return spec;
    }

    /// <summary>The sample's <c>severity</c> field (must_match samples: the finding must have it), or null.</summary>
    public static Severity? ExpectedSeverity(JsonObject spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec["severity"] switch
        {
            null => null,
            JsonValue value when value.GetValueKind() == JsonValueKind.String && SeverityExtensions.TryParse(value.GetValue<string>(), out var severity) => severity,
            var other => throw MalformedInputException.Create(InputErrorKind.Config, $"sample severity '{other}' is not info, low, medium, high or critical"),
        };
    }

    /// <summary>True when <paramref name="findings"/> has one of <paramref name="rule"/> (with <paramref name="severity"/>, when given).</summary>
    public static bool Flags(IEnumerable<Finding> findings, RuleDefinition rule, Severity? severity = null)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return findings.Any(f => f.RuleId == rule.Id && (severity is null || f.Severity == severity));
    }

    /// <summary>What a matcher produced, for a failing check's message.</summary>
    public static string Describe(IReadOnlyCollection<Finding> findings) =>
        findings.Count == 0 ? "no findings" : string.Join("; ", findings.Select(f => $"{f.RuleId} {f.Severity.ToWireName()}: {f.Message}"));
}

/// <summary>A temporary folder a sample is written to, removed when disposed.</summary>
public sealed class SampleFolder : IDisposable
{
    public SampleFolder(string prefix)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"tg-{prefix}-{Guid.NewGuid().ToString("N")[..12]}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Something still holds a file; the system cleans its temporary folder.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
