using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Rules;

namespace TrainGuard.Checkpoints.Signing;

/// <summary>
/// The ckpt signing rules (<c>Rules/ckpt-signing.yaml</c>) as a <see cref="RuleFamily"/>. The rules about the checkpoint
/// and its signature (TG-CKP-001..005) have a matcher, <c>ckpt sign</c> then <c>ckpt verify</c> on a checkpoint folder
/// written from the sample: <c>files: {NAME: TEXT}</c> (signed with a fresh key), then <c>write: {NAME: TEXT}</c>,
/// <c>delete: [NAME]</c>, <c>symlink: {NAME: TARGET}</c> (changes after signing) and <c>verify: key | other-key | garbage</c>
/// (the signing key, another key, or a signature file overwritten with garbage). The ledger rules (TG-CKP-006..009)
/// need a ledger server and have no samples; <c>ckpt verify --ledger</c> tests cover them.
/// </summary>
public sealed class CkptSignRuleFamily : RuleFamily
{
    private static readonly string[] Fields = ["files", "write", "delete", "symlink", "verify"];

    private static readonly HashSet<string> Matched = new(StringComparer.Ordinal) { "TG-CKP-001", "TG-CKP-002", "TG-CKP-003", "TG-CKP-004", "TG-CKP-005" };

    public CkptSignRuleFamily(IEnumerable<RuleDefinition> rules)
        : base(CkptSignRules.FamilyName, "Checkpoint signatures and their ledger records (`trainguard ckpt sign/verify`)", rules)
    {
    }

    public override bool HasMatcher(RuleDefinition rule) => rule is not null && Matched.Contains(rule.Id);

    public override async ValueTask<string?> CheckSampleAsync(RuleDefinition rule, string sample, bool expectMatch, CancellationToken cancellationToken = default)
    {
        var findings = await RunAsync(RuleSamples.ParseMapping(sample, CkptSignRules.FamilyName, Fields), cancellationToken);
        return Expect(expectMatch, RuleSamples.Flags(findings, rule), RuleSamples.Describe(findings));
    }

    private static async Task<List<Finding>> RunAsync(JsonObject spec, CancellationToken cancellationToken)
    {
        using var sampleFolder = new SampleFolder("ckpt-sign-sample");
        var root = sampleFolder.Path;
        var folder = Path.Combine(root, "checkpoint-6");
        var signature = Path.Combine(root, "checkpoint-6.sig");
        Directory.CreateDirectory(folder);
        foreach (var (name, content) in Map(spec, "files"))
        {
            await File.WriteAllTextAsync(Under(folder, name), Text(content, $"files.{name}"), cancellationToken);
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await CheckpointSigning.SignAsync(new CkptSignOptions { Path = folder, PrivateKey = key, SignaturePath = signature }, cancellationToken);

        foreach (var (name, content) in Map(spec, "write"))
        {
            await File.WriteAllTextAsync(Under(folder, name), Text(content, $"write.{name}"), cancellationToken);
        }

        foreach (var name in spec["delete"] is JsonArray deleted ? deleted.Select(d => Text(d, "delete")) : [])
        {
            File.Delete(Under(folder, name));
        }

        foreach (var (name, target) in Map(spec, "symlink"))
        {
            File.Delete(Under(folder, name));
            File.CreateSymbolicLink(Under(folder, name), Text(target, $"symlink.{name}"));
        }

        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var verifyWith = spec["verify"] is null ? "key" : Text(spec["verify"], "verify");
        if (verifyWith == "garbage")
        {
            await File.WriteAllTextAsync(signature, "{\"not\": \"a bundle\"}", cancellationToken);
        }

        var report = await CheckpointSigning.VerifyAsync(
            new CkptVerifyOptions
            {
                Path = folder,
                SignaturePath = signature,
                PublicKey = verifyWith switch
                {
                    "key" or "garbage" => key,
                    "other-key" => other,
                    _ => throw MalformedInputException.Create(InputErrorKind.Config, $"verify must be key, other-key or garbage, not '{verifyWith}'"),
                },
            },
            cancellationToken);
        return report.Items.SelectMany(i => i.Findings).ToList();
    }

    private static IEnumerable<KeyValuePair<string, JsonNode?>> Map(JsonObject spec, string field) =>
        spec[field] switch
        {
            null => [],
            JsonObject map => map,
            _ => throw MalformedInputException.Create(InputErrorKind.Config, $"'{field}' must be a mapping"),
        };

    private static string Under(string folder, string name) =>
        name.Length == 0 || name.Contains('/', StringComparison.Ordinal) || name is "." or ".."
            ? throw MalformedInputException.Create(InputErrorKind.Config, $"sample file name '{name}' must be a plain file name")
            : Path.Combine(folder, name);

    private static string Text(JsonNode? node, string where) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw MalformedInputException.Create(InputErrorKind.Config, $"'{where}' must be text");
}
