using System.Text.Json;

namespace TrainGuard.Cli.Tests;

/// <summary><c>trainguard rules test DIR</c> runs a rule set's samples; <c>trainguard rules check FILE</c> lints one file.</summary>
public sealed class RulesCommandTests : IDisposable
{
    private const string KillRule = """
        title: Signal to another user's process
        id: TG-SIT-001
        name: site_kill
        taxonomy: ecs
        logsource: {product: linux, service: auditd}
        description: A login session signalled another account's process.
        level: high
        detection:
          sel: {event.action: process-signal, trainguard.cross_user: true}
          condition: sel
        x-trainguard:
          guidance: Ask the sender why.
          must_match:
            - {event.action: process-signal, user.audit.id: '2007', trainguard.cross_user: true}
          must_not_match:
            - {event.action: process-signal, user.audit.id: '2001', trainguard.cross_user: false}

        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("tg-cli-rules-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Rules_test_runs_every_built_in_sample_and_reports_json_with_the_schema_version()
    {
        var (code, stdout, stderr) = await CliRunner.RunAsync("rules", "test", CliRunner.Repo("src", "TrainGuard.Detections", "Rules"), "-f", "json");

        Assert.True(code == 0, stderr + stdout);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(("1", "rules test", 0), (root.GetProperty("schema_version").GetString(), root.GetProperty("command").GetString(), root.GetProperty("exit_code").GetInt32()));
        Assert.Equal(21, root.GetProperty("rules_tested").GetInt32());
        Assert.Equal(0, root.GetProperty("rules_failed").GetInt32());
        Assert.True(root.GetProperty("samples").GetInt32() >= 32);
        Assert.All(root.GetProperty("rules").EnumerateArray(), r => Assert.Equal(0, r.GetProperty("failures").GetArrayLength()));
        Assert.Contains(root.GetProperty("rules").EnumerateArray(), r => r.GetProperty("id").GetString() == "TG-DET-005" && r.GetProperty("file").GetString()!.EndsWith("accounts.yaml", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rules_test_names_the_rule_and_the_sample_that_fails_and_exits_1()
    {
        var broken = KillRule.Replace("user.audit.id: '2001', trainguard.cross_user: false", "user.audit.id: '2001', trainguard.cross_user: true", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(_dir, "a.yaml"), broken);

        var (code, stdout, _) = await CliRunner.RunAsync("rules", "test", _dir);

        Assert.Equal(1, code);
        Assert.Contains("FAIL  TG-SIT-001 " + Path.Combine(_dir, "a.yaml") + ":1", stdout, StringComparison.Ordinal);
        Assert.Contains("must_not_match[0]: ", stdout, StringComparison.Ordinal);
        Assert.Contains("1 rules, 2 samples: 1 rules with failing samples", stdout, StringComparison.Ordinal);

        var (jsonCode, json, _) = await CliRunner.RunAsync("rules", "test", _dir, "-f", "json");
        Assert.Equal(1, jsonCode);
        using var doc = JsonDocument.Parse(json);
        var failure = Assert.Single(doc.RootElement.GetProperty("rules")[0].GetProperty("failures").EnumerateArray());
        Assert.Equal("must_not_match[0]", failure.GetProperty("sample").GetString());
        Assert.Equal(("TG-SIT-001", "suspicious"), (doc.RootElement.GetProperty("rules")[0].GetProperty("id").GetString(), doc.RootElement.GetProperty("verdict").GetString()));
    }

    [Fact]
    public async Task Rules_test_counts_a_rule_without_samples_as_failing()
    {
        var bare = KillRule[..KillRule.IndexOf("  must_match:", StringComparison.Ordinal)];
        File.WriteAllText(Path.Combine(_dir, "bare.yml"), bare);

        var (code, stdout, _) = await CliRunner.RunAsync("rules", "test", Path.Combine(_dir, "bare.yml"));

        Assert.Equal(1, code);
        Assert.Contains("must_match: no must_match samples", stdout, StringComparison.Ordinal);
        Assert.Contains("must_not_match: no must_not_match samples", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rules_test_of_a_missing_or_empty_folder_or_a_refused_rule_is_an_error()
    {
        var missing = Path.Combine(_dir, "missing");
        var (code, _, stderr) = await CliRunner.RunAsync("rules", "test", missing);
        Assert.Equal(2, code);
        Assert.Contains(missing, stderr, StringComparison.Ordinal);

        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        File.WriteAllText(Path.Combine(empty, "README.md"), "not a rule");
        (code, _, stderr) = await CliRunner.RunAsync("rules", "test", empty);
        Assert.Equal(2, code);
        Assert.Contains("holds no rule file", stderr, StringComparison.Ordinal);

        var bad = Directory.CreateDirectory(Path.Combine(_dir, "bad")).FullName;
        File.WriteAllText(Path.Combine(bad, "r.yaml"), KillRule.Replace("trainguard.cross_user: true}\n  condition", "trainguard.cross_user|endswitch: true}\n  condition", StringComparison.Ordinal));
        (code, _, stderr) = await CliRunner.RunAsync("rules", "test", bad);
        Assert.Equal(2, code);
        Assert.Contains(Path.Combine(bad, "r.yaml") + ":9:", stderr, StringComparison.Ordinal);
        Assert.Contains("endswitch", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rules_check_lists_what_a_file_holds()
    {
        var file = Path.Combine(_dir, "kill.yaml");
        File.WriteAllText(file, KillRule);

        var (code, stdout, stderr) = await CliRunner.RunAsync("rules", "check", file);
        Assert.True(code == 0, stderr);
        Assert.Contains("TG-SIT-001", stdout, StringComparison.Ordinal);
        Assert.Contains(file + ": loads (1 rules that raise hits", stdout, StringComparison.Ordinal);

        (code, stdout, _) = await CliRunner.RunAsync("rules", "check", file, "-f", "json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.True(doc.RootElement.GetProperty("loaded").GetBoolean());
        var rule = Assert.Single(doc.RootElement.GetProperty("rules").EnumerateArray());
        Assert.Equal(("TG-SIT-001", "high", "detection", 1), (rule.GetProperty("id").GetString(), rule.GetProperty("level").GetString(), rule.GetProperty("type").GetString(), rule.GetProperty("must_match").GetInt32()));
    }

    [Theory]
    [InlineData("trainguard.cross_user|endswitch: true", 9, "unknown modifier 'endswitch'")]
    [InlineData("trainguard.crossuser: true", 9, "trainguard.crossuser")]
    [InlineData("process.executable|expand: '%PackageManagerz%'", 9, "unknown placeholder '%PackageManagerz%'")]
    public async Task Rules_check_refuses_a_rule_with_file_line_and_column_and_exits_2(string field, int line, string expected)
    {
        var file = Path.Combine(_dir, "bad.yaml");
        File.WriteAllText(file, KillRule.Replace("trainguard.cross_user: true}\n  condition", field + "}\n  condition", StringComparison.Ordinal));

        var (code, stdout, stderr) = await CliRunner.RunAsync("rules", "check", file);
        Assert.Equal(2, code);
        Assert.Matches($"^refused: {System.Text.RegularExpressions.Regex.Escape(file)}:{line}:[0-9]+: ", stdout);
        Assert.Contains(expected, stdout, StringComparison.Ordinal);
        Assert.Contains($"trainguard: rules check: {file}:{line}:", stderr, StringComparison.Ordinal);

        (code, stdout, _) = await CliRunner.RunAsync("rules", "check", file, "-f", "json");
        Assert.Equal(2, code);
        using var doc = JsonDocument.Parse(stdout);
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal((file, line), (error.GetProperty("file").GetString(), error.GetProperty("line").GetInt32()));
        Assert.True(error.GetProperty("column").GetInt32() > 0);
        Assert.Equal(("error", 2), (doc.RootElement.GetProperty("verdict").GetString(), doc.RootElement.GetProperty("exit_code").GetInt32()));
    }

    [Fact]
    public async Task A_site_filter_naming_a_built_in_rule_needs_builtin_and_then_runs_the_built_in_samples_through_it()
    {
        var site = CliRunner.Repo("samples", "rules", "site.yaml");
        var (code, _, stderr) = await CliRunner.RunAsync("rules", "check", site);
        Assert.Equal(2, code);
        Assert.Contains("listening_socket_by_non_service_process", stderr, StringComparison.Ordinal);

        (code, var stdout, stderr) = await CliRunner.RunAsync("rules", "test", CliRunner.Repo("samples", "rules"), "--builtin", "-f", "json");
        Assert.True(code == 0, stderr + stdout);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(22, doc.RootElement.GetProperty("rules_tested").GetInt32());

        // A filter that drops what a built-in rule must report fails that rule's sample.
        var loose = Path.Combine(_dir, "loose.yaml");
        File.WriteAllText(loose, """
            title: Every listener is fine
            taxonomy: ecs
            logsource: {product: linux}
            filter:
              rules: [listening_socket_by_non_service_process]
              listener: {event.action: socket-listen}
              condition: not listener
            """);
        (code, stdout, _) = await CliRunner.RunAsync("rules", "test", loose, "--builtin");
        Assert.Equal(1, code);
        Assert.Contains("FAIL  TG-DET-008 ", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rules_check_of_a_missing_file_is_an_error_naming_it()
    {
        var missing = Path.Combine(_dir, "missing.yaml");
        var (code, _, stderr) = await CliRunner.RunAsync("rules", "check", missing);
        Assert.Equal(2, code);
        Assert.Contains($"FILE: file {missing} does not exist", stderr, StringComparison.Ordinal);
    }
}
