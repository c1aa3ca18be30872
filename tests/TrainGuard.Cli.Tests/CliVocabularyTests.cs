using System.CommandLine;
using System.Text.Json;

namespace TrainGuard.Cli.Tests;

/// <summary>One name, one meaning: the option vocabulary is the same on every verb, and every report goes through the writers.</summary>
public sealed class CliVocabularyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tg-cli-vocabulary-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static RootCommand Root => CommandTree.Root;

    /// <summary>Every command that does something (has an action), with its path from the root.</summary>
    public static TheoryData<string> Verbs()
    {
        var data = new TheoryData<string>();
        foreach (var (path, _) in CommandTree.Verbs())
        {
            data.Add(path);
        }

        return data;
    }

    [Fact]
    public void A_short_alias_and_a_long_name_always_go_together()
    {
        var aliasesByName = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var nameByAlias = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var (_, command) in CommandTree.Verbs())
        {
            foreach (var option in command.Options.Where(o => !o.Name.StartsWith("--help", StringComparison.Ordinal) && o.Name != "--version"))
            {
                var aliases = option.Aliases.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
                aliasesByName.TryAdd(option.Name, []);
                aliasesByName[option.Name].Add(string.Join(",", aliases.Order(StringComparer.Ordinal)));
                foreach (var alias in aliases)
                {
                    nameByAlias.TryAdd(alias, []);
                    nameByAlias[alias].Add(option.Name);
                }
            }
        }

        Assert.All(aliasesByName, pair => Assert.True(pair.Value.Count == 1, $"{pair.Key} has short aliases {string.Join(" and ", pair.Value.Select(v => $"[{v}]"))} on different verbs"));
        Assert.All(nameByAlias, pair => Assert.True(pair.Value.Count == 1, $"{pair.Key} means {string.Join(" and ", pair.Value)}"));
        Assert.Equal(["--format"], nameByAlias["-f"]);
        Assert.Equal(["--output"], nameByAlias["-o"]);
        Assert.Equal(["--quiet"], nameByAlias["-q"]);
        Assert.Equal(["--config"], nameByAlias["-c"]);
    }

    [Theory]
    [InlineData("--output")]
    [InlineData("--quiet")]
    [InlineData("--token")]
    [InlineData("--token-file")]
    [InlineData("--data-dir")]
    [InlineData("--db")]
    [InlineData("--no-progress")]
    public void A_shared_option_is_described_the_same_on_every_verb(string name)
    {
        var descriptions = CommandTree.Verbs().SelectMany(v => v.Command.Options).Where(o => o.Name == name).Select(o => o.Description).Distinct().ToList();

        Assert.NotEmpty(descriptions);
        Assert.Single(descriptions);
    }

    [Fact]
    public void The_old_spellings_are_gone()
    {
        var names = CommandTree.Verbs().SelectMany(v => v.Command.Options).SelectMany(o => o.Aliases).ToHashSet(StringComparer.Ordinal);

        foreach (var old in new[] { "--ledger", "--ledger-token", "--ledger-key", "--sig", "--checkpoint", "--checkpoint-interval-ms", "--once-config" })
        {
            Assert.DoesNotContain(old, names);
        }

        Assert.DoesNotContain(CommandTree.Verbs(), v => v.Path is "server" or "agent");
    }

    [Theory]
    [MemberData(nameof(Verbs))]
    public void A_verb_that_reports_takes_format_text_and_json_output_and_quiet(string verb)
    {
        var command = Find(verb);
        var format = command.Options.SingleOrDefault(o => o.Name == "--format");
        if (verb == "report")
        {
            // A signed document, not a findings report: html or json, written whole (no quiet form).
            Assert.Contains(command.Options, o => o.Name == "--output");
            Assert.Contains(Root.Parse(["report", "--format", "text"]).Errors, e => e.Message.Contains("text", StringComparison.Ordinal));
            return;
        }

        if (format is null)
        {
            Assert.DoesNotContain(command.Options, o => o.Name is "--output" or "--quiet");
            return;
        }

        Assert.Contains(command.Options, o => o.Name == "--output");
        Assert.Contains(command.Options, o => o.Name == "--quiet");
        foreach (var value in new[] { "text", "json" })
        {
            var errors = Root.Parse([.. verb.Split(' '), "--format", value]).Errors;
            Assert.DoesNotContain(errors, e => e.Message.Contains(value, StringComparison.Ordinal));
        }

        Assert.Contains(Root.Parse([.. verb.Split(' '), "--format", "xml"]).Errors, e => e.Message.Contains("xml", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Verbs))]
    public async Task Every_verb_documents_its_own_exit_codes(string verb)
    {
        var (code, stdout, _) = await CliRunner.RunAsync([.. verb.Split(' '), "--help"]);

        Assert.Equal(0, code);
        Assert.Contains("Exit codes:", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("server run")]
    [InlineData("keys new")]
    [InlineData("agent audit-rules")]
    [InlineData("agent replay")]
    [InlineData("env baseline")]
    [InlineData("server token new")]
    [InlineData("rules check")]
    public async Task A_verb_that_never_reports_findings_does_not_document_exit_1_findings(string verb)
    {
        var (_, stdout, _) = await CliRunner.RunAsync([.. verb.Split(' '), "--help"]);

        Assert.DoesNotContain("1 findings", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_json_output_is_one_report_object_with_the_same_version_field()
    {
        var demo = CliRunner.Repo("samples", "demo");
        var checkpoint = Copy(Path.Combine(demo, "runs", "clean", "checkpoint-20"), Path.Combine(_dir, "checkpoint-20"));
        var keys = Path.Combine(_dir, "keys");
        string[][] runs =
        [
            ["scan", Path.Combine(demo, "runs", "clean")],
            ["env", "verify", "--site", CliRunner.Repo("samples", "env", "site-packages")],
            ["keys", "new", "--dir", keys],
            ["env", "baseline", "--site", CliRunner.Repo("samples", "env", "site-packages"), "--key", Path.Combine(keys, "trainguard.key"), "--baseline", Path.Combine(_dir, "env.sig")],
            ["env", "diff", "--baseline", Path.Combine(_dir, "env.sig"), "--key", Path.Combine(keys, "trainguard.pub")],
            ["ckpt", "sign", checkpoint, "--key", Path.Combine(keys, "trainguard.key")],
            ["ckpt", "verify", checkpoint, "--key", Path.Combine(keys, "trainguard.pub")],
            ["ckpt", "inspect", checkpoint],
            ["ckpt", "check", checkpoint, "--run", Path.Combine(demo, "run.yaml")],
            ["ckpt", "diff", checkpoint, Path.Combine(demo, "sabotaged", "checkpoint-20")],
            ["ckpt", "convert", Path.Combine(checkpoint, "pytorch_model.bin"), Path.Combine(_dir, "model.safetensors")],
            ["agent", "spool", "verify", CliRunner.Repo("samples", "agent", "spool")],
            ["rules", "test", CliRunner.Repo("samples", "rules"), "--builtin"],
            ["rules", "check", CliRunner.Repo("samples", "rules", "site.yaml"), "--builtin"],
        ];
        foreach (var args in runs)
        {
            var (code, stdout, stderr) = await CliRunner.RunAsync([.. args, "--format", "json"]);
            Assert.True(code is 0 or 1, $"{string.Join(' ', args)}: exit {code}: {stderr}");
            using var doc = JsonDocument.Parse(stdout);
            Assert.Equal("1", doc.RootElement.GetProperty("schema_version").GetString());
            Assert.Equal(code, doc.RootElement.GetProperty("exit_code").GetInt32());
            var command = doc.RootElement.GetProperty("command").GetString()!;
            Assert.StartsWith(command, string.Join(' ', args), StringComparison.Ordinal);
            Assert.False(doc.RootElement.TryGetProperty("schema", out _), $"{command} still writes 'schema'");
        }
    }

    [Fact]
    public async Task Output_writes_the_report_of_a_non_scan_verb_to_the_file()
    {
        var file = Path.Combine(_dir, "inspect.json");
        var (code, stdout, stderr) = await CliRunner.RunAsync("ckpt", "inspect", CliRunner.Repo("samples", "demo", "runs", "clean", "checkpoint-20"), "-f", "json", "-o", file);

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains("report written to", stderr, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(file));
        Assert.Equal("ckpt inspect", doc.RootElement.GetProperty("command").GetString());
        Assert.Equal(6, doc.RootElement.GetProperty("tensors").EnumerateArray().Count(t => t.GetProperty("file").GetString() == "model.safetensors"));
    }

    [Fact]
    public async Task Quiet_leaves_out_what_is_clean()
    {
        var (cleanCode, cleanOut, _) = await CliRunner.RunAsync("ckpt", "check", CliRunner.Repo("samples", "demo", "runs", "clean", "checkpoint-20"), "--run", CliRunner.Repo("samples", "demo", "run.yaml"), "-q");
        var (code, stdout, _) = await CliRunner.RunAsync("ckpt", "check", CliRunner.Repo("samples", "demo", "sabotaged", "checkpoint-20"), "--run", CliRunner.Repo("samples", "demo", "run.yaml"), "-q");

        Assert.Equal(0, cleanCode);
        Assert.DoesNotContain("checkpoint-20", cleanOut, StringComparison.Ordinal);
        Assert.Contains("1 item checked", cleanOut, StringComparison.Ordinal);
        Assert.Equal(1, code);
        Assert.Contains("TG-CKP-020", stdout, StringComparison.Ordinal);
    }

    private static Command Find(string path)
    {
        Command command = Root;
        foreach (var name in path.Split(' '))
        {
            command = command.Subcommands.Single(c => c.Name == name);
        }

        return command;
    }

    private static string Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        return to;
    }
}
