using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using TrainGuard.Agent.Shipping;
using TrainGuard.Agent.Spool;
using TrainGuard.Events;
using TrainGuard.Ledger.Notes;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests;

/// <summary>
/// Witnessing over loopback: <c>trainguard ledger witness</c> follows a real server, cosigns its consistent tree heads
/// (C2SP cosignature/v1) and submits them; the server accepts cosignatures only of configured witnesses over tree
/// heads it published, and serves them with <c>/checkpoint</c>.
/// </summary>
public sealed class WitnessTests
{
    [Fact]
    public async Task Witness_cosigns_a_consistent_head_and_the_server_serves_it_with_the_checkpoint()
    {
        using var witness = Cosigner.Generate("witness.test/w1");
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => o with { Witnesses = [witness.Verifier] });
        await h.PostEventsOkAsync(Enumerable.Range(0, 6).Select(i => ServerHarness.Event(i)));
        var state = Path.Combine(h.Directory, "witness-state");

        var (exit, json, stderr) = await RunWitnessAsync(h, witness, state, "--submit");

        Assert.True(exit == 0, json + stderr);
        Assert.Equal("first-use", (string)json["change"]!);
        Assert.True((bool)json["submitted"]!);
        Assert.Contains("witness: test.trainguard/ledger size 6: first head seen, kept; cosigned; submitted", stderr, StringComparison.Ordinal);

        // /checkpoint carries the cosignature; a client that knows only the log key still opens it.
        var checkpoint = await h.Http.GetStringAsync("checkpoint");
        var note = SignedNote.Parse(checkpoint);
        var cosignature = Assert.Single(note.Signatures, witness.Verifier.Names);
        Assert.NotNull(witness.Verifier.Verify(note.Text, cosignature));
        Assert.True(TreeHead.OpenSigned(Encoding.UTF8.GetBytes(checkpoint), [NoteVerifier.Parse(h.Server.VerifierKey)]).IsTrusted);
        Assert.Equal(checkpoint, await h.Http.GetStringAsync("api/v1/checkpoint/cosigned"));

        // The log grows: /checkpoint moves on without cosignatures, the cosigned head stays until the next round.
        await h.PostEventsOkAsync(Enumerable.Range(6, 4).Select(i => ServerHarness.Event(i)));
        Assert.DoesNotContain(SignedNote.Parse(await h.Http.GetStringAsync("checkpoint")).Signatures, witness.Verifier.Names);
        Assert.Equal(checkpoint, await h.Http.GetStringAsync("api/v1/checkpoint/cosigned"));
        (exit, json, stderr) = await RunWitnessAsync(h, witness, state, "--submit");
        Assert.True(exit == 0, json + stderr);
        Assert.Equal("grew", (string)json["change"]!);
        Assert.Contains(SignedNote.Parse(await h.Http.GetStringAsync("checkpoint")).Signatures, witness.Verifier.Names);

        // Kept across a restart.
        await h.RestartAsync();
        Assert.Contains(SignedNote.Parse(await h.Http.GetStringAsync("api/v1/checkpoint/cosigned")).Signatures, witness.Verifier.Names);
    }

    [Fact]
    public async Task Cosignature_of_a_witness_the_server_was_not_configured_with_is_refused_with_403()
    {
        using var known = Cosigner.Generate("witness.test/known");
        using var stranger = Cosigner.Generate("witness.test/known");
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => o with { Witnesses = [known.Verifier] });
        await h.PostEventsOkAsync(Enumerable.Range(0, 3).Select(i => ServerHarness.Event(i)));

        var (exit, _, stderr) = await RunWitnessAsync(h, stranger, Path.Combine(h.Directory, "state"), "--submit");

        Assert.Equal(2, exit);
        Assert.Contains("403", stderr, StringComparison.Ordinal);
        Assert.Contains("no cosignature of a witness this server knows", stderr, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await h.Http.GetAsync("api/v1/checkpoint/cosigned")).StatusCode);
    }

    [Fact]
    public async Task Cosigned_head_this_server_never_published_is_refused_as_a_conflict()
    {
        using var witness = Cosigner.Generate("witness.test/w1");
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite, o => o with { Witnesses = [witness.Verifier] });
        await h.PostEventsOkAsync(Enumerable.Range(0, 4).Select(i => ServerHarness.Event(i)));
        var signed = SignedNote.Parse(await h.Http.GetStringAsync("checkpoint"));
        var head = TreeHead.Parse(signed.Text);
        var otherRoot = new TreeHead(head.Origin, head.Size, new byte[32]).ToNoteText();
        var larger = new TreeHead(head.Origin, head.Size + 5, head.RootHash).ToNoteText();

        foreach (var text in new[] { otherRoot, larger })
        {
            using var response = await h.Http.PostAsync("api/v1/cosignatures", new StringContent(text + "\n" + signed.Signatures[0].ToLine() + witness.Cosign(text, DateTimeOffset.UtcNow)));
            Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        }

        using var garbage = await h.Http.PostAsync("api/v1/cosignatures", new StringContent("not a note"));
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        using var unsigned = await h.Http.PostAsync("api/v1/cosignatures", new StringContent(signed.Text + "\n" + witness.Cosign(signed.Text, DateTimeOffset.UtcNow)));
        Assert.Equal(HttpStatusCode.Forbidden, unsigned.StatusCode);
        using var future = await h.Http.PostAsync("api/v1/cosignatures", new StringContent(signed + witness.Cosign(signed.Text, DateTimeOffset.UtcNow.AddDays(1))));
        Assert.Equal(HttpStatusCode.BadRequest, future.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Truncating_the_newest_entries_with_database_access_is_detected_by_a_witness_an_agent_and_ledger_verify(string backend)
    {
        using var witness = Cosigner.Generate("witness.test/w1");
        await using var h = await ServerHarness.StartAsync(backend, o => o with { Witnesses = [witness.Verifier] });
        await h.PostEventsOkAsync(Enumerable.Range(0, 8).Select(i => ServerHarness.Event(i)));
        await h.PostEventsOkAsync(Enumerable.Range(8, 4).Select(i => ServerHarness.Event(i)));
        var witnessState = Path.Combine(h.Directory, "witness-state");
        var clientState = Path.Combine(h.Directory, "client-state");

        // An agent ships three events of its own and keeps the head that acknowledged them.
        using var spool = EventSpool.Open(Path.Combine(h.Directory, "agent-spool"));
        spool.Append(Enumerable.Range(200, 3).Select(AgentEvent).ToList());
        using var shipper = new EventShipper(spool, new ShipperOptions { ServerUrl = h.Server.BaseAddress, Token = h.AgentToken, LogKey = NoteVerifier.Parse(h.Server.VerifierKey) });
        Assert.Equal(ShipOutcome.Sent, await shipper.ShipOnceAsync());
        Assert.Equal(0, spool.Pending);
        var kept = await h.Http.GetStringAsync("checkpoint");
        var (seen, _, _) = await RunWitnessAsync(h, witness, witnessState, "--submit");
        Assert.Equal(0, seen);
        var (verified, _, _) = await CliRunner.RunAsync("ledger", "verify", "--server", h.Server.BaseAddress.ToString(), "--log-key", h.Server.VerifierKey, "--state-dir", clientState);
        Assert.Equal(0, verified);

        // The insider: write access to the database, no signing key. Cut the newest four events, their index rows and
        // the tree heads that cover them, and restart the server, which signs a head for what is left.
        await TruncateAsync(h.Database, 8);
        await h.RestartAsync();
        Assert.Equal(8, h.Server.Log.Size);
        var (audit, _, _) = await CliRunner.RunAsync("ledger", "audit", "--db", h.Database, "--log-key", h.Server.VerifierKey);
        Assert.Equal(0, audit);

        // The agent's next answer (from the restarted server) is no acknowledgement: its event stays in the spool, and
        // it raises TG-AGT-122.
        spool.Append(AgentEvent(300));
        using var next = new EventShipper(spool, new ShipperOptions { ServerUrl = h.Server.BaseAddress, Token = h.AgentToken, LogKey = NoteVerifier.Parse(h.Server.VerifierKey) });
        Assert.Equal(ShipOutcome.RetryLater, await next.ShipOnceAsync());
        Assert.Contains("shrank from 15 to 9", next.Stats.LastError, StringComparison.Ordinal);
        var alert = EventRecord.Parse(spool.ReadPending(10)[^1].EventJson);
        Assert.Equal(("ledger-rolled-back", "TG-AGT-122"), (alert.Action, alert.GetString("trainguard.finding.rule")));
        Assert.Equal(2, spool.Pending);

        var (exit, json, _) = await RunWitnessAsync(h, witness, witnessState, "--submit");
        Assert.Equal(1, exit);
        Assert.Equal("rolled-back", (string)json["change"]!);
        var evidence = json["evidence"]!;
        Assert.Equal((15, 9), ((int)evidence["kept_size"]!, (int)evidence["new_size"]!));
        Assert.Equal(kept, (string)evidence["kept_tree_head"]!);
        Assert.True(File.Exists((string)evidence["file"]!));
        Assert.Equal("TG-LED-008", (string)json["logs"]![0]!["findings"]![0]!["rule"]!);

        var (verify, stdout, _) = await CliRunner.RunAsync("ledger", "verify", "--server", h.Server.BaseAddress.ToString(), "--log-key", h.Server.VerifierKey, "--state-dir", clientState, "--format", "json");
        Assert.Equal(1, verify);
        Assert.Equal("TG-LED-008", (string)JsonNode.Parse(stdout)!["logs"]![0]!["findings"]![0]!["rule"]!);

        // A kept tree head also makes the audit see the cut.
        var headFile = Path.Combine(h.Directory, "kept.tree-head");
        await File.WriteAllTextAsync(headFile, kept);
        var (auditWithHead, auditOut, _) = await CliRunner.RunAsync("ledger", "audit", "--db", h.Database, "--log-key", h.Server.VerifierKey, "--tree-head", headFile, "--format", "json");
        Assert.Equal(1, auditWithHead);
        Assert.Contains("TG-LED-008", auditOut, StringComparison.Ordinal);

        // New events past the old size do not hide it: the tree no longer extends the kept head (a split view).
        await h.PostEventsOkAsync(Enumerable.Range(100, 10).Select(i => ServerHarness.Event(i)));
        (exit, json, _) = await RunWitnessAsync(h, witness, witnessState, "--submit");
        Assert.Equal(1, exit);
        Assert.Equal("split-view", (string)json["change"]!);
        Assert.Equal((15, 19), ((int)json["evidence"]!["kept_size"]!, (int)json["evidence"]!["new_size"]!));
    }

    [Fact]
    public async Task Ckpt_sign_after_the_ledger_was_cut_reports_the_rollback_instead_of_taking_it_as_an_acknowledgement()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        await h.PostEventsOkAsync(Enumerable.Range(0, 8).Select(i => ServerHarness.Event(i)));
        var keys = Path.Combine(h.Directory, "keys");
        Assert.Equal(0, (await CliRunner.RunAsync("keys", "new", "--dir", keys)).Exit);
        var state = Path.Combine(h.Directory, "signer-state");
        var first = Path.Combine(h.Directory, "first.safetensors");
        var second = Path.Combine(h.Directory, "second.safetensors");
        await File.WriteAllBytesAsync(first, [1, 2, 3]);
        await File.WriteAllBytesAsync(second, [4, 5, 6]);
        string[] Sign(string file) => ["ckpt", "sign", file, "--key", Path.Combine(keys, "trainguard.key"), "--server", h.Server.BaseAddress.ToString(), "--token", h.AgentToken, "--log-key", h.Server.VerifierKey, "--state-dir", state, "--format", "json"];

        var (exit, stdout, stderr) = await CliRunner.RunAsync(Sign(first));
        Assert.True(exit == 0, stdout + stderr);
        var head = JsonNode.Parse(stdout)!["ledger"]!["tree_head"]!;
        Assert.Equal(("first-use", 9, true), ((string)head["change"]!, (int)head["size"]!, (bool)head["acknowledged"]!));

        await TruncateAsync(h.Database, 5);
        await h.RestartAsync();
        (exit, stdout, stderr) = await CliRunner.RunAsync(Sign(second));

        Assert.Equal(1, exit);
        var json = JsonNode.Parse(stdout)!;
        Assert.Equal(("rolled-back", false), ((string)json["ledger"]!["tree_head"]!["change"]!, (bool)json["ledger"]!["tree_head"]!["acknowledged"]!));
        Assert.Equal((9, 6), ((int)json["evidence"]!["kept_size"]!, (int)json["evidence"]!["new_size"]!));
        Assert.Contains("not consistent with the one kept", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Split_view_between_two_servers_with_the_same_key_is_detected_by_a_witness()
    {
        using var witness = Cosigner.Generate("witness.test/w1");
        await using var a = await ServerHarness.StartAsync(Backends.Sqlite, o => o with { Witnesses = [witness.Verifier] });
        var forkDirectory = Directory.CreateDirectory(Path.Combine(a.Directory, "fork")).FullName;
        File.Copy(Path.Combine(a.Directory, "log-signing.key"), Path.Combine(forkDirectory, "log-signing.key"));
        await using var b = await ServerHarness.StartAsync(Backends.Sqlite, o => o with { DataDirectory = forkDirectory, Database = "sqlite:" + Path.Combine(forkDirectory, "fork.db") });
        Assert.Equal(a.Server.VerifierKey, b.Server.VerifierKey);
        await a.PostEventsOkAsync(Enumerable.Range(0, 5).Select(i => ServerHarness.Event(i)));
        await b.PostEventsOkAsync(Enumerable.Range(50, 5).Select(i => ServerHarness.Event(i)));
        var state = Path.Combine(a.Directory, "witness-state");

        var (first, _, _) = await RunWitnessAsync(a, witness, state, "--submit");
        var (exit, json, _) = await RunWitnessAsync(b, witness, state);

        Assert.Equal(0, first);
        Assert.Equal(1, exit);
        Assert.Equal("split-view", (string)json["change"]!);
        Assert.Contains("different roots", (string)json["evidence"]!["problem"]!, StringComparison.Ordinal);
        Assert.Equal("TG-LED-001", (string)json["logs"]![0]!["findings"]![0]!["rule"]!);

        // The fork's head, cosigned anyway, is refused by the real server as a conflict.
        var forked = SignedNote.Parse(await b.Http.GetStringAsync("checkpoint"));
        using var response = await a.Http.PostAsync("api/v1/cosignatures", new StringContent(forked + witness.Cosign(forked.Text, DateTimeOffset.UtcNow)));
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
    }

    private static EventRecord AgentEvent(int n) => EventRecord.Parse(ServerHarness.Event(n).ToJsonString());

    /// <summary>What an insider with write access to the database does to cut the log at <paramref name="size"/>.</summary>
    internal static async Task TruncateAsync(string database, long size)
    {
        await Database.ExecuteAsync(database, $"DELETE FROM ledger_entry WHERE idx >= {size}");
        await Database.ExecuteAsync(database, $"DELETE FROM event_index WHERE idx >= {size}");
        await Database.ExecuteAsync(database, $"DELETE FROM ledger_checkpoint WHERE tree_size > {size}");
        await Database.ExecuteAsync(database, $"UPDATE ledger_head SET tree_size = {size}");
    }

    private static async Task<(int Exit, JsonNode Json, string Stderr)> RunWitnessAsync(ServerHarness h, Cosigner witness, string state, params string[] more)
    {
        var key = Path.Combine(h.Directory, $"witness-{witness.KeyId:x8}.key");
        if (!File.Exists(key))
        {
            await File.WriteAllTextAsync(key, witness.SignerKey);
        }

        var (exit, stdout, stderr) = await CliRunner.RunAsync(["ledger", "witness", "--server", h.Server.BaseAddress.ToString(), "--log-key", h.Server.VerifierKey, "--key", key, "--state-dir", state, "--once", "--format", "json", .. more]);
        return (exit, stdout.Length == 0 ? new JsonObject() : JsonNode.Parse(stdout)!, stderr);
    }
}
