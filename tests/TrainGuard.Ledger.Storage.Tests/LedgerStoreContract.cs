using System.Text;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Storage.Tests.Support;

namespace TrainGuard.Ledger.Storage.Tests;

/// <summary>
/// Behaviour every <see cref="ILedgerStore"/> must have; each backend's test class runs every check here.
/// </summary>
public abstract class LedgerStoreContract : IAsyncLifetime
{
    protected const string Origin = "trainguard.test/ledger";

    private readonly List<ILedgerStore> _opened = [];

    protected NoteSigner Signer { get; } = NoteSigner.Generate(Origin);

    /// <summary>"sqlite" or "postgres" (the child process's backend argument).</summary>
    protected abstract string Backend { get; }

    /// <summary>The file path or connection string that identifies this test's ledger.</summary>
    protected abstract string Target { get; }

    public abstract Task InitializeAsync();

    public virtual async Task DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await store.DisposeAsync();
        }

        Signer.Dispose();
    }

    /// <summary>Opens (or reopens) this test's ledger.</summary>
    protected async Task<ILedgerStore> OpenAsync()
    {
        ILedgerStore store = Backend == "sqlite"
            ? await SqliteLedgerStore.OpenAsync(Target)
            : await PostgresLedgerStore.OpenAsync(Target);
        _opened.Add(store);
        return store;
    }

    /// <summary>Runs SQL directly against the ledger's tables, as an attacker with database access would.</summary>
    protected abstract Task ExecuteSqlAsync(string sql);

    /// <summary>A blob literal in the backend's SQL dialect.</summary>
    protected abstract string BlobLiteral(byte[] bytes);

    protected async Task Appended_batches_survive_reopening_and_reproduce_the_same_tree()
    {
        var entries = Enumerable.Range(0, 1234).Select(i => Entry($"event {i}")).ToList();
        var store = await OpenAsync();
        Assert.Equal(0, await store.AppendBatchAsync(entries[..1000]));
        Assert.Equal(1000, await store.AppendBatchAsync(entries[1000..1001]));
        Assert.Equal(1001, await store.AppendBatchAsync(entries[1001..]));
        Assert.Equal(1234, await store.AppendBatchAsync(Array.Empty<byte[]>()));
        await store.DisposeAsync();

        var reopened = await OpenAsync();
        Assert.Equal(1234, await reopened.SizeAsync());
        Assert.Equal(entries[777], await reopened.GetEntryAsync(777));
        Assert.Null(await reopened.GetEntryAsync(1234));
        Assert.Equal(entries[1200..1234], await reopened.GetEntriesAsync(1200, 34));
        Assert.Equal(entries.Select(e => MerkleHash.HashLeaf(e)), await reopened.GetLeafHashesAsync(0, 1234));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => reopened.GetLeafHashesAsync(1200, 35));

        var expected = new MerkleLevels();
        entries.ForEach(e => expected.AppendEntry(e));
        var log = await TransparencyLog.OpenAsync(reopened, Origin, Signer);
        Assert.Equal(new MerkleTree(expected).RootHash(1234), log.Tree.RootHash(1234));
        var proof = log.InclusionProof(777, 1234);
        Assert.True(MerkleTree.VerifyInclusion(MerkleHash.HashLeaf(entries[777]), 777, 1234, proof, log.Tree.RootHash(1234)));
        Assert.True(MerkleTree.VerifyConsistency(1000, 1234, log.ConsistencyProof(1000, 1234), log.Tree.RootHash(1000), log.Tree.RootHash(1234)));
    }

    protected async Task Idempotency_keys_return_the_existing_index_for_duplicates()
    {
        var store = await OpenAsync();
        var first = await store.AppendBatchAsync([new LedgerAppend(Entry("a"), "evt-1"), new LedgerAppend(Entry("b"), "evt-2"), new LedgerAppend(Entry("c"))]);
        Assert.Equal([0L, 1, 2], first.Indices);

        var second = await store.AppendBatchAsync([
            new LedgerAppend(Entry("b again"), "evt-2"),
            new LedgerAppend(Entry("d"), "evt-3"),
            new LedgerAppend(Entry("d again"), "evt-3"),
            new LedgerAppend(Entry("e")),
        ]);

        Assert.Equal([1L, 3, 3, 4], second.Indices);
        Assert.Equal([true, false, true, false], second.Duplicates);
        Assert.Equal(3, second.FirstIndex);
        Assert.Equal(2, second.AppendedCount);
        Assert.Equal(5, second.TreeSize);
        Assert.Equal(Entry("b"), await store.GetEntryAsync(1));
        Assert.Equal(3, await store.FindByIdempotencyKeyAsync("evt-3"));
        Assert.Null(await store.FindByIdempotencyKeyAsync("evt-9"));
    }

    protected async Task A_batch_that_fails_midway_leaves_no_rows_and_no_new_size()
    {
        var store = await OpenAsync();
        await store.AppendBatchAsync(Enumerable.Range(0, 10).Select(i => Entry($"ok {i}")).ToList());

        // A planted row makes the 51st insert of the next batch fail after 50 rows were written.
        await ExecuteSqlAsync($"INSERT INTO ledger_entry (idx, entry, leaf_hash) VALUES (60, {BlobLiteral([1])}, {BlobLiteral(new byte[32])})");
        var batch = Enumerable.Range(0, 100).Select(i => Entry($"doomed {i}")).ToList();
        await Assert.ThrowsAnyAsync<Exception>(() => store.AppendBatchAsync(batch));

        Assert.Equal(10, await store.SizeAsync());
        var rows = await ScanAsync(store);
        Assert.Equal([.. Enumerable.Range(0, 10).Select(i => (long)i), 60L], rows.Select(r => r.Index));

        await ExecuteSqlAsync("DELETE FROM ledger_entry WHERE idx = 60");
        Assert.Equal(10, await store.AppendBatchAsync(batch));
        Assert.True((await LedgerAudit.RunAsync(store)).IsIntact);
    }

    protected async Task Killing_the_writer_process_mid_batch_never_leaves_a_partial_batch()
    {
        var store = await OpenAsync();
        await store.DisposeAsync();
        var random = new Random(42);
        long lastReported = 0;
        for (var round = 0; round < 3; round++)
        {
            using var child = ChildProcessEntryPoint.StartAppendForever(Backend, Target);
            var commits = 0;
            while (commits < 3 + round)
            {
                var line = await child.StandardOutput.ReadLineAsync()
                    ?? throw new InvalidOperationException("child exited early: " + await child.StandardError.ReadToEndAsync());
                lastReported = long.Parse(line["committed ".Length..], System.Globalization.CultureInfo.InvariantCulture);
                commits++;
            }

            await Task.Delay(random.Next(0, 40));
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync();
        }

        var reopened = await OpenAsync();
        var size = await reopened.SizeAsync();
        Assert.True(size >= lastReported, $"size {size} lost a batch reported committed at {lastReported}");
        Assert.Equal(0, size % ChildProcessEntryPoint.BatchSize);
        var audit = await LedgerAudit.RunAsync(reopened);
        Assert.True(audit.IsIntact, Describe(audit));
        Assert.Equal(size, audit.StoredRowCount);
        var log = await TransparencyLog.OpenAsync(reopened, Origin, Signer);
        Assert.Equal(size, log.Size);
    }

    protected async Task Audit_of_an_untouched_ledger_is_clean()
    {
        var (store, _) = await LedgerWithCheckpointsAsync();
        var audit = await LedgerAudit.RunAsync(store, [Signer.Verifier]);
        Assert.True(audit.IsIntact, Describe(audit));
        Assert.Equal(4, audit.TreeHeads.Count);
    }

    protected async Task Audit_reports_an_edited_entry_and_every_checkpoint_it_breaks()
    {
        var (store, _) = await LedgerWithCheckpointsAsync();
        await ExecuteSqlAsync($"UPDATE ledger_entry SET entry = {BlobLiteral(Entry("forged"))} WHERE idx = 15");

        var audit = await LedgerAudit.RunAsync(store);

        Assert.Equal([15L], audit.ChangedEntries);
        Assert.Equal(
            [TreeHeadAuditStatus.Matches, TreeHeadAuditStatus.Matches, TreeHeadAuditStatus.RootMismatch, TreeHeadAuditStatus.RootMismatch],
            audit.TreeHeads.Select(c => c.Status));
        Assert.False(audit.IsIntact);
    }

    protected async Task Audit_localises_an_edit_that_also_rewrote_the_leaf_hash()
    {
        var (store, _) = await LedgerWithCheckpointsAsync();
        var forged = Entry("forged consistently");
        await ExecuteSqlAsync($"UPDATE ledger_entry SET entry = {BlobLiteral(forged)}, leaf_hash = {BlobLiteral(MerkleHash.HashLeaf(forged))} WHERE idx = 15");

        var audit = await LedgerAudit.RunAsync(store);

        Assert.Empty(audit.ChangedEntries);
        var broken = audit.TreeHeads.Where(c => c.Status != TreeHeadAuditStatus.Matches).ToList();
        Assert.Equal([20L, 30L], broken.Select(c => c.Claimed!.Size));
        Assert.All(broken, c => Assert.Equal(10, c.SuspectFromIndex));
        await Assert.ThrowsAsync<LedgerIntegrityException>(() => TransparencyLog.OpenAsync(store, Origin, Signer));
    }

    protected async Task Audit_reports_a_deleted_entry_as_a_gap()
    {
        var (store, _) = await LedgerWithCheckpointsAsync();
        await ExecuteSqlAsync("DELETE FROM ledger_entry WHERE idx = 7");

        var audit = await LedgerAudit.RunAsync(store);

        Assert.Equal([new LedgerGap(7, 7)], audit.MissingEntries);
        Assert.Equal(TreeHeadAuditStatus.Matches, audit.TreeHeads[0].Status);
        Assert.All(audit.TreeHeads.Skip(1), c => Assert.Equal(TreeHeadAuditStatus.EntriesMissing, c.Status));
        await Assert.ThrowsAsync<LedgerIntegrityException>(() => TransparencyLog.OpenAsync(store, Origin, Signer));
    }

    protected async Task Audit_reports_truncation_below_a_signed_checkpoint()
    {
        var (store, _) = await LedgerWithCheckpointsAsync();
        await ExecuteSqlAsync("DELETE FROM ledger_entry WHERE idx >= 25");
        await ExecuteSqlAsync("UPDATE ledger_head SET tree_size = 25");

        var audit = await LedgerAudit.RunAsync(store);

        Assert.Empty(audit.MissingEntries);
        Assert.Equal(TreeHeadAuditStatus.EntriesMissing, audit.TreeHeads.Single(c => c.Claimed!.Size == 30).Status);
        var e = await Assert.ThrowsAsync<LedgerIntegrityException>(() => TransparencyLog.OpenAsync(store, Origin, Signer));
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    protected async Task Audit_reports_checkpoints_not_signed_by_the_log_key_or_altered_in_their_row()
    {
        var (store, _) = await LedgerWithCheckpointsAsync();
        using var stranger = NoteSigner.Generate(Origin);
        await ExecuteSqlAsync("UPDATE ledger_checkpoint SET tree_size = 11 WHERE tree_size = 10");

        var audit = await LedgerAudit.RunAsync(store, [stranger.Verifier]);
        Assert.All(audit.TreeHeads, c => Assert.Equal(TreeHeadAuditStatus.SignatureInvalid, c.Status));

        audit = await LedgerAudit.RunAsync(store, [Signer.Verifier]);
        Assert.Equal(TreeHeadAuditStatus.StoredColumnsAltered, audit.TreeHeads[1].Status);
    }

    protected async Task Published_checkpoints_are_signed_and_stored()
    {
        var (store, notes) = await LedgerWithCheckpointsAsync();
        var stored = await store.GetTreeHeadsAsync();
        Assert.Equal(notes, stored.Select(c => c.Note));
        Assert.Equal([0L, 10, 20, 30], stored.Select(c => c.TreeSize));
        var latest = await store.GetLatestTreeHeadAsync();
        var opened = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(latest!.Note), [Signer.Verifier], Origin);
        Assert.True(opened.IsTrusted);
        Assert.Equal(30, opened.TreeHead.Size);
    }

    protected async Task An_append_with_a_checkpoint_stores_the_signed_checkpoint_of_the_new_tree_in_the_same_commit()
    {
        var store = await OpenAsync();
        var log = await TransparencyLog.OpenAsync(store, Origin, Signer);
        await log.AppendAsync([.. Enumerable.Range(0, 7).Select(i => new LedgerAppend(Entry($"event {i}"), $"evt-{i}"))]);
        for (var batch = 1; batch <= 3; batch++)
        {
            var result = await log.AppendWithTreeHeadAsync([.. Enumerable.Range(batch * 10, 10 + batch).Select(i => new LedgerAppend(Entry($"event {i}"), $"evt-{i}"))]);
            Assert.NotNull(result.TreeHead);
            Assert.Equal(result.TreeSize, result.TreeHead.TreeSize);
            Assert.Equal(log.Tree.RootHash(result.TreeSize), result.TreeHead.RootHash);
            var opened = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(result.TreeHead.Note), [Signer.Verifier], Origin);
            Assert.True(opened.IsTrusted);
            Assert.Equal(result.TreeSize, opened.TreeHead.Size);
            Assert.Equal(result.TreeHead.Note, (await store.GetLatestTreeHeadAsync())!.Note);
        }

        // Nothing new (all duplicates): no checkpoint; the latest still covers every index.
        var again = await log.AppendWithTreeHeadAsync([new LedgerAppend(Entry("event 10"), "evt-10")]);
        Assert.Null(again.TreeHead);
        Assert.Equal([7L], again.Indices);

        // A checkpoint whose size is not the new tree size is refused, and with it the batch.
        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendBatchAsync(
            [new LedgerAppend(Entry("x"), "evt-x")],
            r => new TreeHeadDraft(r.TreeSize - 1, new byte[32], "note"),
            CancellationToken.None));
        Assert.Equal(log.Size, await store.SizeAsync());
        Assert.Null(await store.FindByIdempotencyKeyAsync("evt-x"));

        var audit = await LedgerAudit.RunAsync(store, [Signer.Verifier]);
        Assert.True(audit.IsIntact);
        var reopened = await TransparencyLog.OpenAsync(store, Origin, Signer);
        Assert.Equal(log.Tree.RootHash(log.Size), reopened.Tree.RootHash(reopened.Size));
    }

    private async Task<(ILedgerStore Store, List<string> Notes)> LedgerWithCheckpointsAsync()
    {
        var store = await OpenAsync();
        var log = await TransparencyLog.OpenAsync(store, Origin, Signer);
        var notes = new List<string> { await log.PublishTreeHeadAsync() };
        for (var batch = 0; batch < 3; batch++)
        {
            await log.AppendAsync([.. Enumerable.Range(batch * 10, 10).Select(i => new LedgerAppend(Entry($"event {i}"), $"evt-{i}"))]);
            notes.Add(await log.PublishTreeHeadAsync());
        }

        return (store, notes);
    }

    private static async Task<List<StoredEntry>> ScanAsync(ILedgerStore store)
    {
        var rows = new List<StoredEntry>();
        await foreach (var row in store.ScanAsync())
        {
            rows.Add(row);
        }

        return rows;
    }

    protected static byte[] Entry(string text) => Encoding.UTF8.GetBytes(text);

    private static string Describe(LedgerAuditReport audit) =>
        $"changed [{string.Join(',', audit.ChangedEntries)}] missing [{string.Join(',', audit.MissingEntries)}] " +
        $"unexpected [{string.Join(',', audit.UnexpectedEntries)}] checkpoints [{string.Join(',', audit.TreeHeads.Select(c => c.Status))}]";
}
