namespace TrainGuard.Cli.Tests;

/// <summary>
/// <c>trainguard report</c>'s errors: each names what is wrong and exits 2, never writing a report (the figures, the
/// signature and verify against a real server are tested in TrainGuard.Server.Tests, Reports/ReportTests).
/// </summary>
public sealed class ReportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tg-cli-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_report_needs_an_existing_database_and_the_ledgers_key()
    {
        var (code, stdout, stderr) = await CliRunner.RunAsync("report", "--data-dir", _dir, "-o", Path.Combine(_dir, "r.html"));
        Assert.Equal(2, code);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains($"no log signing key at {Path.Combine(_dir, "log-signing.key")}", stderr, StringComparison.Ordinal);

        File.WriteAllText(Path.Combine(_dir, "log-signing.key"), "not a key\n");
        (code, _, stderr) = await CliRunner.RunAsync("report", "--data-dir", _dir);
        Assert.Equal(2, code);
        Assert.Contains("is not a signer key", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await CliRunner.RunAsync("report", "--db", "sqlite:" + Path.Combine(_dir, "missing.db"), "--key", Path.Combine(_dir, "none.key"));
        Assert.Equal(2, code);
        Assert.Contains("--key: file", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "r.html")));
    }

    [Theory]
    [InlineData("--since", "last tuesday", "--since 'last tuesday'")]
    [InlineData("--until", "2026-13-01T00:00:00Z", "--until '2026-13-01T00:00:00Z'")]
    public async Task A_bad_time_is_an_error_naming_the_option(string option, string value, string expected)
    {
        var (code, _, stderr) = await CliRunner.RunAsync("report", option, value, "--data-dir", _dir);
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_period_must_end_after_it_starts()
    {
        var (code, _, stderr) = await CliRunner.RunAsync("report", "--since", "2026-12-08T00:00:00Z", "--until", "2026-12-07T00:00:00Z", "--data-dir", _dir);
        Assert.Equal(2, code);
        Assert.Contains("--until must be after --since", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_of_a_file_that_is_not_a_signed_report_is_an_error_not_a_verdict()
    {
        var file = Path.Combine(_dir, "notes.html");
        File.WriteAllText(file, "<html><body>weekly notes</body></html>");
        using var key = TrainGuard.Ledger.Notes.NoteSigner.Generate("test.trainguard/ledger");
        var (code, stdout, stderr) = await CliRunner.RunAsync("report", "verify", file, "--log-key", key.VerifierKey, "--data-dir", _dir);
        Assert.Equal((2, string.Empty), (code, stdout));
        Assert.Contains("not a signed TrainGuard report: no signature block", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await CliRunner.RunAsync("report", "verify", Path.Combine(_dir, "missing.html"), "--data-dir", _dir);
        Assert.Equal(2, code);
        Assert.Contains("missing.html", stderr, StringComparison.Ordinal);
    }
}
