using System.Net;
using Microsoft.Data.Sqlite;
using TrainGuard.Server.Auth;
using TrainGuard.Server.Storage;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests;

/// <summary><c>trainguard server token create|list|revoke</c> and tokens of databases made before identities.</summary>
public sealed class TokenCommandTests
{
    [Fact]
    public async Task Create_binds_agent_tokens_to_a_host_and_signer_tokens_to_a_person_and_list_shows_their_state()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        var agent = await Cli("create", "--role", "agent", "--host", "GPU-Node-17", "--label", "rack 3");
        var signer = await Cli("create", "--role", "signer", "--user", "alice", "--expires", "30d");
        var reader = await Cli("new", "--role", "reader");
        Assert.All([agent, signer, reader], t => Assert.StartsWith(ApiTokens.Prefix, t.Trim(), StringComparison.Ordinal));

        // The agent token works for its host (host names compare without case), and its use is recorded.
        using (var response = await h.PostEventsAsync(ServerHarness.Batch([ServerHarness.Event(1)]).Replace("gpu-node-1", "gpu-node-17", StringComparison.Ordinal), agent.Trim()))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var tokens = await h.Server.Store.ListTokensAsync();
        var bound = tokens.Single(t => t.Identity == "gpu-node-17");
        Assert.Equal((Role.Agent, "rack 3"), (bound.Role, bound.Label));
        Assert.NotNull(bound.LastUsedAt);
        var person = tokens.Single(t => t.Identity == "alice");
        Assert.InRange(person.ExpiresAt!.Value, DateTimeOffset.UtcNow.AddDays(29), DateTimeOffset.UtcNow.AddDays(31));

        var list = await Cli("list");
        var lines = list.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("ID", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith(bound.Id, StringComparison.Ordinal) && l.Contains("host:gpu-node-17", StringComparison.Ordinal) && l.Contains("active", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith(person.Id, StringComparison.Ordinal) && l.Contains("user:alice", StringComparison.Ordinal));

        // The harness's own agent token has no host: a legacy, unbound token.
        Assert.Contains(lines, l => l.Contains("agent", StringComparison.Ordinal) && l.Contains("active,legacy", StringComparison.Ordinal));

        await Cli("revoke", bound.Id);
        Assert.Contains((await Cli("list")).Split('\n'), l => l.StartsWith(bound.Id, StringComparison.Ordinal) && l.Contains("revoked", StringComparison.Ordinal));

        async Task<string> Cli(params string[] args)
        {
            var (exit, stdout, stderr) = await CliRunner.RunAsync(["server", "token", .. args, "--data-dir", h.Directory, "--db", h.Database]);
            Assert.True(exit == 0, $"token {string.Join(' ', args)}: exit {exit}: {stdout}{stderr}");
            return stdout;
        }
    }

    [Theory]
    [InlineData("an agent token without a host", new[] { "create", "--role", "agent" }, "--host")]
    [InlineData("a signer token without a person", new[] { "create", "--role", "signer" }, "--user")]
    [InlineData("a reader token bound to a host", new[] { "create", "--role", "reader", "--host", "n1" }, "not bound")]
    [InlineData("a host with a space", new[] { "create", "--role", "agent", "--host", "a b" }, "no spaces")]
    [InlineData("an expiry in the past", new[] { "create", "--role", "reader", "--expires", "2001-01-01T00:00:00Z" }, "passed")]
    [InlineData("an expiry that is no age", new[] { "create", "--role", "reader", "--expires", "soon" }, "--expires")]
    [InlineData("revoking an id that matches nothing", new[] { "revoke", "0123456789ab" }, "no token has id")]
    [InlineData("revoking something that is no id", new[] { "revoke", "mallory" }, "12 hex digits")]
    public async Task Bad_token_commands_are_errors_with_exit_2(string why, string[] args, string message)
    {
        var directory = TestPaths.NewTempDirectory();
        try
        {
            Assert.Equal(0, (await CliRunner.RunAsync("server", "token", "create", "--role", "admin", "--data-dir", directory)).Exit);
            var (exit, stdout, stderr) = await CliRunner.RunAsync(["server", "token", .. args, "--data-dir", directory]);
            Assert.True(exit == 2, $"{why}: exit {exit}: {stdout}{stderr}");
            Assert.Contains(message, stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task A_database_from_before_token_identities_keeps_its_tokens_as_legacy_and_its_events_findable()
    {
        var directory = TestPaths.NewTempDirectory();
        var path = Path.Combine(directory, "trainguard.db");
        var token = ApiTokens.NewToken();
        var eventId = Guid.CreateVersion7().ToString();
        try
        {
            // The tables as the first release made them, with one token and one event.
            await using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
            {
                await connection.OpenAsync();
                await using var command = connection.CreateCommand();
                command.CommandText = """
                    CREATE TABLE api_token (token_hash BLOB PRIMARY KEY, role TEXT NOT NULL, label TEXT NULL, created_at TEXT NOT NULL);
                    CREATE TABLE event_index (idx INTEGER PRIMARY KEY, ts INTEGER NOT NULL, host TEXT NULL, user_name TEXT NULL, action TEXT NOT NULL);
                    INSERT INTO api_token VALUES ($hash, 'agent', 'node-7', '2026-01-01T00:00:00.0000000+00:00');
                    """;
                command.Parameters.AddWithValue("$hash", ApiTokens.Hash(token));
                await command.ExecuteNonQueryAsync();
            }

            await using (var old = await SqliteServerStore.OpenAsync(path))
            {
                // An event stored the old way: keyed by its bare id, no event_id column yet (dropped again below).
                var entry = System.Text.Encoding.UTF8.GetBytes($"{{\"@timestamp\":\"2026-11-23T10:00:00.000Z\",\"event\":{{\"action\":\"user-login\"}},\"id\":\"{eventId}\"}}");
                await old.Ledger.AppendBatchAsync([new TrainGuard.Ledger.Storage.LedgerAppend(entry, eventId)]);
            }

            await Database.ExecuteAsync("sqlite:" + path, "DROP INDEX event_index_event_id; ALTER TABLE event_index DROP COLUMN event_id;");

            await using var h = await ServerHarnessAt(directory, path);
            var listed = (await h.Server.Store.ListTokensAsync()).Single(t => t.Id == ApiTokens.Id(ApiTokens.Hash(token)));
            Assert.True(listed.IsLegacy);
            Assert.Equal(("node-7", Role.Agent, (string?)null), (listed.Label!, listed.Role, listed.Identity));

            // The old token still works, for any host, in the shared legacy id scope; the old event is found by its id.
            using var response = await h.PostEventsAsync(ServerHarness.Batch([ServerHarness.Event(3)]), token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var got = await h.GetJsonAsync($"api/v1/events/{eventId}", h.ReaderToken);
            Assert.Equal(0, (long)got["index"]!);
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static Task<ServerHarness> ServerHarnessAt(string directory, string path) => ServerHarness.StartAtAsync(directory, "sqlite:" + path);
}
