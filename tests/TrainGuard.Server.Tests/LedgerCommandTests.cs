using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests;

/// <summary><c>trainguard ledger audit</c> and <c>ledger verify</c> against real stores and a real server.</summary>
public sealed class LedgerCommandTests
{
    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Audit_of_an_intact_ledger_is_clean(string backend)
    {
        await using var h = await StartWithEventsAsync(backend, 20);
        var (exit, stdout, stderr) = await CliRunner.RunAsync("ledger", "audit", "--db", h.Database, "--log-key", h.Server.VerifierKey, "--format", "json");
        Assert.True(exit == 0, stdout + stderr);
        Assert.Empty(Findings(stdout));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Audit_reports_an_event_row_edited_in_the_database(string backend)
    {
        await using var h = await StartWithEventsAsync(backend, 20);
        var entry = Encoding.UTF8.GetString((await h.Server.Store.Ledger.GetEntryAsync(7))!).Replace("mallory", "alice", StringComparison.Ordinal);
        await Database.ExecuteAsync(h.Database, $"UPDATE ledger_entry SET entry = {Database.Blob(h.Database, Encoding.UTF8.GetBytes(entry))} WHERE idx = 7");

        var (exit, stdout, _) = await CliRunner.RunAsync("ledger", "audit", "--db", h.Database, "--format", "json");

        Assert.Equal(1, exit);
        var findings = Findings(stdout);
        Assert.Contains(findings, f => (string)f["rule"]! == "TG-LED-002" && ((string)f["message"]!).Contains("entry 7", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Audit_reports_an_edit_that_also_recomputed_the_leaf_hash_through_the_signed_checkpoints(string backend)
    {
        await using var h = await StartWithEventsAsync(backend, 20);
        var entry = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString((await h.Server.Store.Ledger.GetEntryAsync(4))!).Replace("alice", "bob", StringComparison.Ordinal));
        await Database.ExecuteAsync(h.Database, $"UPDATE ledger_entry SET entry = {Database.Blob(h.Database, entry)}, leaf_hash = {Database.Blob(h.Database, MerkleHash.HashLeaf(entry))} WHERE idx = 4");

        var (exit, stdout, _) = await CliRunner.RunAsync("ledger", "audit", "--db", h.Database, "--format", "json");

        Assert.Equal(1, exit);
        var findings = Findings(stdout);
        Assert.Contains(findings, f => (string)f["rule"]! == "TG-LED-004");
        Assert.DoesNotContain(findings, f => (string)f["rule"]! == "TG-LED-002");
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Audit_reports_an_event_row_deleted_from_the_database(string backend)
    {
        await using var h = await StartWithEventsAsync(backend, 20);
        await Database.ExecuteAsync(h.Database, "DELETE FROM ledger_entry WHERE idx = 12");

        var (exit, stdout, _) = await CliRunner.RunAsync("ledger", "audit", "--db", h.Database, "--format", "json");

        Assert.Equal(1, exit);
        var findings = Findings(stdout);
        Assert.Contains(findings, f => (string)f["rule"]! == "TG-LED-003" && ((string)f["message"]!).Contains("entry 12 is missing", StringComparison.Ordinal));
        Assert.Contains(findings, f => (string)f["rule"]! == "TG-LED-007");
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Audit_reports_an_event_index_row_changed_to_hide_an_event_from_queries(string backend)
    {
        await using var h = await StartWithEventsAsync(backend, 20);
        await Database.ExecuteAsync(h.Database, "UPDATE event_index SET user_name = 'alice' WHERE idx = 5");

        var (exit, stdout, _) = await CliRunner.RunAsync("ledger", "audit", "--db", h.Database, "--format", "json");

        Assert.Equal(1, exit);
        var finding = Assert.Single(Findings(stdout));
        Assert.Equal("TG-LED-007", (string)finding!["rule"]!);
    }

    [Fact]
    public async Task Verify_passes_when_the_log_only_grew_and_saves_the_new_checkpoint()
    {
        await using var h = await StartWithEventsAsync(Backends.Sqlite, 5);
        var file = Path.Combine(h.Directory, "old.checkpoint");
        await File.WriteAllTextAsync(file, await h.Http.GetStringAsync("checkpoint"));
        await h.PostEventsOkAsync(Enumerable.Range(100, 17).Select(i => ServerHarness.Event(i)));

        var (exit, stdout, stderr) = await CliRunner.RunAsync("ledger", "verify", "--server", h.Server.BaseAddress.ToString(), "--tree-head", file, "--log-key", h.Server.VerifierKey, "--save", file);

        Assert.True(exit == 0, stdout + stderr);
        Assert.Equal(await h.Http.GetStringAsync("checkpoint"), await File.ReadAllTextAsync(file));
        (exit, _, _) = await CliRunner.RunAsync("ledger", "verify", "--server", h.Server.BaseAddress.ToString(), "--tree-head", file, "--log-key", h.Server.VerifierKey);
        Assert.Equal(0, exit);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Verify_exits_1_when_history_before_the_old_checkpoint_was_rewritten(string backend)
    {
        await using var h = await StartWithEventsAsync(backend, 8);
        var file = Path.Combine(h.Directory, "old.checkpoint");
        await File.WriteAllTextAsync(file, await h.Http.GetStringAsync("checkpoint"));

        // An insider with the database and the key: rewrites entry 2 with a consistent leaf hash, drops the
        // checkpoints that would betray it, restarts the server and lets the log grow.
        var entry = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString((await h.Server.Store.Ledger.GetEntryAsync(2))!).Replace("alice", "bob", StringComparison.Ordinal));
        await Database.ExecuteAsync(h.Database, $"UPDATE ledger_entry SET entry = {Database.Blob(h.Database, entry)}, leaf_hash = {Database.Blob(h.Database, MerkleHash.HashLeaf(entry))} WHERE idx = 2");
        await Database.ExecuteAsync(h.Database, "DELETE FROM ledger_checkpoint");
        await h.RestartAsync();
        await h.PostEventsOkAsync(Enumerable.Range(100, 5).Select(i => ServerHarness.Event(i)));

        var (exit, stdout, _) = await CliRunner.RunAsync("ledger", "verify", "--server", h.Server.BaseAddress.ToString(), "--tree-head", file, "--log-key", h.Server.VerifierKey, "--format", "json");

        Assert.Equal(1, exit);
        Assert.Equal("TG-LED-001", (string)Findings(stdout, "logs").Single()["rule"]!);
    }

    [Fact]
    public async Task Verify_exits_2_for_a_wrong_key_or_an_unreachable_server()
    {
        await using var h = await StartWithEventsAsync(Backends.Sqlite, 3);
        var file = Path.Combine(h.Directory, "old.checkpoint");
        await File.WriteAllTextAsync(file, await h.Http.GetStringAsync("checkpoint"));
        using var other = TrainGuard.Ledger.Notes.NoteSigner.Generate("test.trainguard/ledger");

        var (wrongKey, _, stderr) = await CliRunner.RunAsync("ledger", "verify", "--server", h.Server.BaseAddress.ToString(), "--tree-head", file, "--log-key", other.VerifierKey);
        Assert.Equal(2, wrongKey);
        Assert.Contains("not signed", stderr, StringComparison.Ordinal);

        var (unreachable, _, _) = await CliRunner.RunAsync("ledger", "verify", "--server", "http://127.0.0.1:9/", "--tree-head", file, "--log-key", h.Server.VerifierKey, "--timeout", "5");
        Assert.Equal(2, unreachable);
    }

    private static async Task<ServerHarness> StartWithEventsAsync(string backend, int count)
    {
        var h = await ServerHarness.StartAsync(backend);
        await h.PostEventsOkAsync(Enumerable.Range(0, count / 2).Select(i => ServerHarness.Event(i)));
        await h.PostEventsOkAsync(Enumerable.Range(count / 2, count - (count / 2)).Select(i => ServerHarness.Event(i)));
        return h;
    }

    private static List<JsonNode> Findings(string json, string items = "ledgers") =>
        [.. JsonNode.Parse(json)![items]!.AsArray().SelectMany(item => item!["findings"]!.AsArray()).Select(f => f!)];
}
