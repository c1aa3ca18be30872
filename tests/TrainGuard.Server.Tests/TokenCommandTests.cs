using System.Net;
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

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_database_from_before_token_identities_keeps_its_tokens_as_legacy_and_its_events_findable(string backend)
    {
        await using var h = await ServerHarness.StartAsync(backend);
        var sent = ServerHarness.Event(3);
        await h.PostEventsOkAsync([sent]);

        // Back to the tables of the first release: no identity, expiry, revocation or last use; no event_id column.
        await Database.ExecuteAsync(h.Database, """
            ALTER TABLE api_token DROP COLUMN identity;
            ALTER TABLE api_token DROP COLUMN expires_at;
            ALTER TABLE api_token DROP COLUMN revoked_at;
            ALTER TABLE api_token DROP COLUMN last_used_at;
            DROP INDEX event_index_event_id;
            ALTER TABLE event_index DROP COLUMN event_id;
            """);
        await h.RestartAsync();

        var agent = (await h.Server.Store.ListTokensAsync()).Single(t => t.Role == Role.Agent);
        Assert.True(agent.IsLegacy);
        Assert.Null(agent.Identity);

        // The old tokens still work (the agent one for any host, in the shared legacy id scope); old events are found by id.
        var got = await h.GetJsonAsync($"api/v1/events/{sent["id"]}");
        Assert.Equal(0, (long)got["index"]!);
        var again = await h.PostEventsOkAsync([sent, ServerHarness.Event(4)]);
        Assert.Equal(["duplicate", "accepted"], again["results"]!.AsArray().Select(r => (string)r!["status"]!));
        var audit = await CliRunner.RunAsync("ledger", "audit", "--db", h.Database, "--log-key", h.Server.VerifierKey);
        Assert.True(audit.Exit == 0, audit.Stdout + audit.Stderr);
        Assert.Contains("legacy", (await CliRunner.RunAsync("server", "token", "list", "--data-dir", h.Directory, "--db", h.Database)).Stdout, StringComparison.Ordinal);
    }
}
