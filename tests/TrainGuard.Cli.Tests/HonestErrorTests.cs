using System.Text.Json;
using TrainGuard.Cli.Commands;

namespace TrainGuard.Cli.Tests;

/// <summary>A name or path that matches nothing is an error (exit 2) that says what was looked for, never an empty success.</summary>
public sealed class HonestErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tg-cli-errors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("UNKNOWN", "--help")]
    [InlineData("ckpt", "UNKNOWN", "--help")]
    public async Task An_unknown_verb_with_help_is_an_error_not_the_parent_help(params string[] args)
    {
        var (code, stdout, stderr) = await CliRunner.RunAsync(args);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains("'UNKNOWN'", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("server")]
    [InlineData("agent")]
    public async Task A_group_without_its_verb_is_an_error_that_points_to_its_help(string group)
    {
        var (code, _, stderr) = await CliRunner.RunAsync(group);

        Assert.Equal(2, code);
        Assert.Contains($"trainguard {group} --help", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_new_creates_a_missing_folder_private_to_its_owner()
    {
        var folder = Path.Combine(_dir, "keys", "nested");

        var (code, stdout, stderr) = await CliRunner.RunAsync("keys", "new", "--dir", folder + "/");

        Assert.True(code == 0, stderr);
        Assert.Contains(Path.Combine(folder, "trainguard.key"), stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(folder, "trainguard.pub")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        }
    }

    [Fact]
    public async Task Env_verify_of_a_package_that_is_not_installed_is_an_error_naming_it()
    {
        var (code, stdout, stderr) = await CliRunner.RunAsync("env", "verify", "--site", CliRunner.Repo("samples", "env", "site-packages"), "--package", "no-such-pkg", "--package", "torch", "--no-progress");

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains("'no-such-pkg'", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("'torch'", stderr, StringComparison.Ordinal);
        Assert.Contains("samples/env/site-packages", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ledger_audit_of_a_database_that_does_not_exist_is_an_error_and_creates_nothing()
    {
        var database = Path.Combine(_dir, "nonexistent.db");

        var (code, stdout, stderr) = await CliRunner.RunAsync("ledger", "audit", "--db", "sqlite:" + database);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains(database, stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(database));
    }

    [Fact]
    public async Task Ledger_audit_without_a_database_in_the_data_directory_names_where_it_looked()
    {
        var (code, _, stderr) = await CliRunner.RunAsync("ledger", "audit", "--data-dir", _dir);

        Assert.Equal(2, code);
        Assert.Contains(Path.Combine(_dir, "trainguard.db"), stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "trainguard.db")));
    }

    [Fact]
    public async Task Replay_of_a_file_that_is_not_an_audit_log_is_an_error_and_writes_no_event()
    {
        var readme = CliRunner.Repo("README.md");

        var (code, stdout, stderr) = await CliRunner.RunAsync("agent", "replay", "--audit", CliRunner.Repo("samples", "agent", "audit.log"), "--audit", readme);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains(readme, stderr, StringComparison.Ordinal);
        Assert.Contains("no audit records", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_of_a_missing_log_is_an_error_naming_the_option()
    {
        var (code, _, stderr) = await CliRunner.RunAsync("agent", "replay", "--auth", Path.Combine(_dir, "auth.log"));

        Assert.Equal(2, code);
        Assert.Contains("--auth", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_of_the_sample_logs_names_the_account_that_killed_another_users_job()
    {
        var (code, stdout, stderr) = await CliRunner.RunAsync("agent", "replay", "--audit", CliRunner.Repo("samples", "agent", "audit.log"), "--passwd", CliRunner.Repo("samples", "agent", "passwd"));

        Assert.True(code == 0, stderr);
        var signal = Events.EventRecord.Parse(Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal("process-signal", signal.Action);
        Assert.Equal("alice", signal.GetString("user.audit.name"));
        Assert.True(signal.GetBoolean("trainguard.cross_user"));
    }

    [Fact]
    public async Task Audit_rules_never_print_a_python_heading_with_nothing_under_it()
    {
        var config = Path.Combine(_dir, "agent.yaml");
        await File.WriteAllTextAsync(config, "env:\n  sites: []\n");

        var (code, stdout, _) = await CliRunner.RunAsync("agent", "audit-rules", "--config", config);

        Assert.Equal(0, code);
        var section = Section(stdout, "## T2");
        Assert.True(section.Any(l => l.EndsWith("-k tg-pyenv", StringComparison.Ordinal)) || section.Any(l => l.Contains("NOT audited", StringComparison.Ordinal)), string.Join('\n', section));
    }

    [Fact]
    public async Task Audit_rules_watch_the_configured_sites_instead_of_the_discovered_ones()
    {
        var config = Path.Combine(_dir, "agent.yaml");
        await File.WriteAllTextAsync(config, "env:\n  sites: [/opt/conda/lib/python3.11/site-packages]\n");

        var (_, stdout, _) = await CliRunner.RunAsync("agent", "audit-rules", "--config", config);

        Assert.Equal(["-w /opt/conda/lib/python3.11/site-packages -p wa -k tg-pyenv"], Section(stdout, "## T2"));
    }

    [Fact]
    public async Task Agent_run_once_keeps_its_state_where_told_and_reports_only_changes_the_second_time()
    {
        var state = Path.Combine(_dir, "state");
        string[] args = ["agent", "run", "--once", "--config", CliRunner.Repo("packaging", "agent.yaml"), "--root", CliRunner.Repo("samples", "agent", "node"), "--state-dir", state];

        var (first, firstOut, firstErr) = await CliRunner.RunAsync(args);
        var (second, secondOut, _) = await CliRunner.RunAsync(args);

        Assert.True(first == 0, firstErr);
        Assert.Contains("\"ssh-key-added\"", firstOut, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(state, "snapshot.json")));
        Assert.Equal(0, second);
        Assert.Equal(string.Empty, secondOut);
    }

    [Fact]
    public void Agent_run_once_defaults_to_a_state_folder_of_the_user_not_of_the_service()
    {
        var folder = AgentCommand.OnceStateDirectory();

        Assert.DoesNotContain("/var/lib", folder, StringComparison.Ordinal);
        Assert.EndsWith(Path.Combine("trainguard", "agent-once"), folder, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Spool_verify_reports_an_edited_record_through_the_report_writers()
    {
        var spool = Directory.CreateDirectory(Path.Combine(_dir, "spool")).FullName;
        var segment = Directory.GetFiles(CliRunner.Repo("samples", "agent", "spool"))[0];
        var text = await File.ReadAllTextAsync(segment);
        await File.WriteAllTextAsync(Path.Combine(spool, Path.GetFileName(segment)), text.Replace("\"alice\"", "\"carol\"", StringComparison.Ordinal));

        var (code, stdout, _) = await CliRunner.RunAsync("agent", "spool", "verify", spool, "-f", "sarif");

        Assert.Equal(1, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal("TG-AGT-001", doc.RootElement.GetProperty("runs")[0].GetProperty("results")[0].GetProperty("ruleId").GetString());
    }

    [Fact]
    public async Task Spool_verify_of_a_missing_folder_is_an_error()
    {
        var (code, _, stderr) = await CliRunner.RunAsync("agent", "spool", "verify", Path.Combine(_dir, "nope"));

        Assert.Equal(2, code);
        Assert.Contains("does not exist", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_output_file_in_a_missing_folder_is_refused_before_any_work()
    {
        var (code, _, stderr) = await CliRunner.RunAsync("keys", "new", "--dir", Path.Combine(_dir, "k"), "-o", Path.Combine(_dir, "no", "report.json"));

        Assert.Equal(2, code);
        Assert.Contains("--output", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir, "k")));
    }

    private static List<string> Section(string rules, string heading) =>
        [.. rules.Split('\n').SkipWhile(l => !l.StartsWith(heading, StringComparison.Ordinal)).Skip(1).TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal)).Where(l => l.Length > 0)];
}
