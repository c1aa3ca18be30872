using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Rules;

namespace TrainGuard.Integrity.Environments;

/// <summary>
/// The env rules (<c>Rules/env.yaml</c>) as a <see cref="RuleFamily"/> whose matcher is <c>env verify</c> itself (or
/// <c>env diff</c> when the sample takes a baseline), run on a small virtual environment built from the sample in a
/// temporary folder (<c>lib/python3.11/site-packages</c> under it). A sample is a mapping:
/// <list type="bullet">
/// <item><c>install: {DIST-VERSION: {PATH: TEXT}}</c>: files installed by a wheel, listed with their SHA-256 and size in its RECORD;</item>
/// <item><c>unhashed: {DIST-VERSION: {PATH: TEXT}}</c>: files listed without a hash; <c>record: {DIST-VERSION: [LINE]}</c>: raw RECORD lines;
/// <c>no_record: [DIST-VERSION]</c>: a dist-info without RECORD;</item>
/// <item><c>baseline: signed | other-key | garbage</c>: a signed baseline taken after the install; the sample is then checked
/// with <c>env diff</c> (with the signing key, another key, or a baseline file overwritten with garbage);</item>
/// <item><c>write: {PATH: TEXT}</c>, <c>delete: [PATH]</c>, <c>mkdir: [PATH]</c>: changes after the install and the baseline;</item>
/// <item><c>pyc: {PATH: {source: PATH, header: match | stale | unchecked-stale | invalid, python: "3.N" | interpreter, body: HEX}}</c>:
/// byte-code written for a source (<c>{tag}</c> in PATH is the interpreter's cache tag);
/// <c>recompile: true</c> compares byte-code with its source using the interpreter;</item>
/// <item><c>severity: LEVEL</c> (must_match only): the rule must fire with that severity.</item>
/// </list>
/// Paths are relative to site-packages. A must_match sample yields a finding of the rule; a must_not_match sample yields none.
/// </summary>
public sealed class EnvRuleFamily : RuleFamily
{
    /// <summary>Source files' modification time in samples, so timestamp byte-code headers are reproducible.</summary>
    private static readonly DateTime SourceTime = new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    private static readonly string[] Fields = ["install", "unhashed", "record", "no_record", "baseline", "write", "delete", "mkdir", "pyc", "recompile", "severity"];

    private readonly string _interpreter;

    /// <param name="rules">The rules (the embedded <c>Rules/env.yaml</c>).</param>
    /// <param name="interpreter">The Python used by samples that compare byte-code with its source.</param>
    public EnvRuleFamily(IEnumerable<RuleDefinition> rules, string interpreter = "/usr/bin/python3")
        : base(EnvRules.FamilyName, "Python environment integrity (`trainguard env verify/diff`)", rules) =>
        _interpreter = interpreter;

    public override bool HasMatcher(RuleDefinition rule) => rule?.Family == EnvRules.FamilyName;

    public override async ValueTask<string?> CheckSampleAsync(RuleDefinition rule, string sample, bool expectMatch, CancellationToken cancellationToken = default)
    {
        var spec = RuleSamples.ParseMapping(sample, EnvRules.FamilyName, Fields);
        var severity = RuleSamples.ExpectedSeverity(spec);
        var findings = await RunAsync(spec, cancellationToken);
        return Expect(expectMatch, RuleSamples.Flags(findings, rule, severity), RuleSamples.Describe(findings));
    }

    private async Task<IReadOnlyList<Finding>> RunAsync(JsonObject spec, CancellationToken cancellationToken)
    {
        using var folder = new SampleFolder("env-sample");
        var root = folder.Path;
        var site = Path.Combine(root, "lib", "python3.11", "site-packages");
        Directory.CreateDirectory(site);
        foreach (var (dist, files) in Map(spec, "install"))
        {
            Install(site, dist, Files(files, $"install.{dist}"), hashed: true);
        }

        foreach (var (dist, files) in Map(spec, "unhashed"))
        {
            Install(site, dist, Files(files, $"unhashed.{dist}"), hashed: false);
        }

        foreach (var (dist, lines) in Map(spec, "record"))
        {
            var record = Path.Combine(site, dist + ".dist-info", "RECORD");
            Directory.CreateDirectory(Path.GetDirectoryName(record)!);
            File.AppendAllText(record, string.Concat(Strings(lines, $"record.{dist}").Select(l => l + "\n")));
        }

        foreach (var dist in Strings(spec["no_record"], "no_record"))
        {
            Write(site, dist + ".dist-info/METADATA", $"Metadata-Version: 2.1\nName: {dist}\n");
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var baseline = Text(spec, "baseline");
        var signature = Path.Combine(root, "baseline.sig");
        if (baseline is not null)
        {
            await EnvironmentBaseline.CreateAsync([site], key, signature, cancellationToken);
        }

        foreach (var (path, content) in Map(spec, "write"))
        {
            Write(site, path, Content(content, $"write.{path}"));
        }

        foreach (var path in Strings(spec["delete"], "delete"))
        {
            File.Delete(Under(site, path));
        }

        foreach (var path in Strings(spec["mkdir"], "mkdir"))
        {
            Directory.CreateDirectory(Under(site, path));
        }

        var recompile = spec["recompile"] is JsonValue flag && flag.GetValueKind() == JsonValueKind.True;
        var tag = recompile || spec["pyc"] is not null ? await InterpreterTagAsync(cancellationToken) : null;
        foreach (var (path, pyc) in Map(spec, "pyc"))
        {
            WritePyc(site, path, pyc as JsonObject ?? throw MalformedInputException.Create(InputErrorKind.Config, $"pyc.{path} must be a mapping"), tag);
        }

        Report report = baseline switch
        {
            null => await EnvironmentVerifier.VerifyAsync(
                new EnvVerifyOptions
                {
                    Sites = [site],
                    UseDpkg = false,
                    IncludeUserSite = false,
                    PythonPath = recompile ? _interpreter : null,
                    RecompileByteCode = recompile,
                    MaxDegreeOfParallelism = 2,
                },
                cancellationToken: cancellationToken),
            "signed" => await EnvironmentBaseline.DiffAsync(signature, key, [site], cancellationToken),
            "other-key" => await DiffWithAnotherKeyAsync(signature, site, cancellationToken),
            "garbage" => await DiffGarbageAsync(signature, key, site, cancellationToken),
            _ => throw MalformedInputException.Create(InputErrorKind.Config, $"baseline must be signed, other-key or garbage, not '{baseline}'"),
        };
        return report.Items.SelectMany(i => i.Findings).ToList();
    }

    private static async Task<Report> DiffWithAnotherKeyAsync(string signature, string site, CancellationToken cancellationToken)
    {
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return await EnvironmentBaseline.DiffAsync(signature, other, [site], cancellationToken);
    }

    private static async Task<Report> DiffGarbageAsync(string signature, ECDsa key, string site, CancellationToken cancellationToken)
    {
        await File.WriteAllTextAsync(signature, "{\"not\": \"a bundle\"}", cancellationToken);
        return await EnvironmentBaseline.DiffAsync(signature, key, [site], cancellationToken);
    }

    /// <summary>Writes a wheel's files and its RECORD (hashed lines, or lines without a hash), as pip does.</summary>
    private static void Install(string site, string dist, IReadOnlyList<(string Path, string Content)> files, bool hashed)
    {
        var lines = new StringBuilder();
        foreach (var (path, content) in files)
        {
            Write(site, path, content);
            var bytes = Encoding.UTF8.GetBytes(content);
            lines.Append(hashed
                ? $"{path},sha256={Convert.ToBase64String(SHA256.HashData(bytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_')},{bytes.Length}\n"
                : $"{path},,\n");
        }

        lines.Append($"{dist}.dist-info/RECORD,,\n");
        var record = Path.Combine(site, dist + ".dist-info", "RECORD");
        Directory.CreateDirectory(Path.GetDirectoryName(record)!);
        File.AppendAllText(record, lines.ToString());
    }

    /// <summary>A .pyc for a source: a PEP 552 header (matching the source, or not) and the body's bytes.</summary>
    private static void WritePyc(string site, string path, JsonObject pyc, string? tag)
    {
        var source = Text(pyc, "source") ?? throw MalformedInputException.Create(InputErrorKind.Config, $"pyc.{path} needs a source");
        var python = Text(pyc, "python") ?? "interpreter";
        var minor = python == "interpreter"
            ? (tag is { } t && t.StartsWith("cpython-3", StringComparison.Ordinal) && int.TryParse(t["cpython-3".Length..], out var m) ? m : throw MalformedInputException.Create(InputErrorKind.Config, $"pyc.{path} needs a CPython interpreter"))
            : python.StartsWith("3.", StringComparison.Ordinal) && int.TryParse(python[2..], out var given) ? given
            : throw MalformedInputException.Create(InputErrorKind.Config, $"pyc.{path}: python must be 3.N or interpreter");
        var magic = MagicFor(minor) ?? throw MalformedInputException.Create(InputErrorKind.Config, $"pyc.{path}: no magic number known for Python 3.{minor}");
        var sourceBytes = File.ReadAllBytes(Under(site, source));
        var header = new byte[PycHeader.Size];
        BinaryPrimitives.WriteUInt16LittleEndian(header, magic);
        header[2] = (byte)'\r';
        header[3] = (byte)'\n';
        var mtime = (uint)new DateTimeOffset(SourceTime).ToUnixTimeSeconds();
        switch (Text(pyc, "header") ?? "match")
        {
            case "match":
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), mtime);
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)sourceBytes.Length);
                break;
            case "stale":
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), mtime - 3600);
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)sourceBytes.Length);
                break;
            case "unchecked-stale":
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), 0b01);
                BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), ~PycHeader.ComputeSourceHash(magic | (0x0a0dU << 16), sourceBytes));
                break;
            case "invalid":
                header.AsSpan().Fill((byte)'x');
                break;
            default:
                throw MalformedInputException.Create(InputErrorKind.Config, $"pyc.{path}: header must be match, stale, unchecked-stale or invalid");
        }

        var body = Text(pyc, "body") is { } hex ? Convert.FromHexString(hex) : [];
        var full = Under(site, tag is null ? path : path.Replace("{tag}", tag, StringComparison.Ordinal));
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, [.. header, .. body]);
        File.SetLastWriteTimeUtc(Under(site, source), SourceTime);
    }

    /// <summary>The magic number CPython 3.<paramref name="minor"/> writes (<c>importlib.util.MAGIC_NUMBER</c> of the release).</summary>
    private static ushort? MagicFor(int minor) => minor switch
    {
        8 => 3413,
        9 => 3425,
        10 => 3439,
        11 => 3495,
        12 => 3531,
        13 => 3571,
        _ => null,
    };

    private async Task<string?> InterpreterTagAsync(CancellationToken cancellationToken)
    {
        try
        {
            return File.Exists(_interpreter) ? await ByteCodeRecompiler.CacheTagAsync(_interpreter, cancellationToken) : null;
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or IOException)
        {
            return null;
        }
    }

    private static void Write(string site, string path, string content)
    {
        var full = Under(site, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
    }

    private static string Under(string site, string path) =>
        path.Length == 0 || Path.IsPathRooted(path) || path.Split('/').Contains("..")
            ? throw MalformedInputException.Create(InputErrorKind.Config, $"sample path '{path}' must be relative to site-packages, without '..'")
            : Path.Combine(site, path);

    private static IEnumerable<KeyValuePair<string, JsonNode?>> Map(JsonObject spec, string field) =>
        spec[field] switch
        {
            null => [],
            JsonObject map => map,
            _ => throw MalformedInputException.Create(InputErrorKind.Config, $"'{field}' must be a mapping"),
        };

    private static List<(string Path, string Content)> Files(JsonNode? node, string where) =>
        node is JsonObject map ? map.Select(p => (p.Key, Content(p.Value, $"{where}.{p.Key}"))).ToList() : throw MalformedInputException.Create(InputErrorKind.Config, $"'{where}' must be a mapping of paths to text");

    private static IEnumerable<string> Strings(JsonNode? node, string where) =>
        node switch
        {
            null => [],
            JsonArray items => items.Select(i => Content(i, where)),
            _ => throw MalformedInputException.Create(InputErrorKind.Config, $"'{where}' must be a list"),
        };

    private static string Content(JsonNode? node, string where) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : throw MalformedInputException.Create(InputErrorKind.Config, $"'{where}' must be text");

    private static string? Text(JsonObject spec, string field) => spec[field] is null ? null : Content(spec[field], field);
}
