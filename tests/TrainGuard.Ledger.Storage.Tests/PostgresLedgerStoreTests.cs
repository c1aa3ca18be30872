using Npgsql;
using TrainGuard.Ledger.Storage.Tests.Support;

namespace TrainGuard.Ledger.Storage.Tests;

/// <summary>The same contract against PostgreSQL (TRAINGUARD_TEST_PG, or a private cluster started on demand).</summary>
public sealed class PostgresLedgerStoreTests : LedgerStoreContract
{
    private string _target = string.Empty;

    protected override string Backend => "postgres";

    protected override string Target => _target;

    public override async Task InitializeAsync()
    {
        if (PostgresTestCluster.IsAvailable)
        {
            _target = await PostgresTestCluster.CreateSchemaAsync();
        }
    }

    [PostgresFact]
    public Task Appended_batches_survive_reopening_and_reproduce_the_same_tree_in_postgres() => Appended_batches_survive_reopening_and_reproduce_the_same_tree();

    [PostgresFact]
    public Task Idempotency_keys_return_the_existing_index_for_duplicates_in_postgres() => Idempotency_keys_return_the_existing_index_for_duplicates();

    [PostgresFact]
    public Task A_batch_that_fails_midway_leaves_no_rows_and_no_new_size_in_postgres() => A_batch_that_fails_midway_leaves_no_rows_and_no_new_size();

    [PostgresFact]
    public Task Killing_the_writer_process_mid_batch_never_leaves_a_partial_batch_in_postgres() => Killing_the_writer_process_mid_batch_never_leaves_a_partial_batch();

    [PostgresFact]
    public Task Audit_of_an_untouched_ledger_is_clean_in_postgres() => Audit_of_an_untouched_ledger_is_clean();

    [PostgresFact]
    public Task Audit_reports_an_edited_entry_and_every_checkpoint_it_breaks_in_postgres() => Audit_reports_an_edited_entry_and_every_checkpoint_it_breaks();

    [PostgresFact]
    public Task Audit_localises_an_edit_that_also_rewrote_the_leaf_hash_in_postgres() => Audit_localises_an_edit_that_also_rewrote_the_leaf_hash();

    [PostgresFact]
    public Task Audit_reports_a_deleted_entry_as_a_gap_in_postgres() => Audit_reports_a_deleted_entry_as_a_gap();

    [PostgresFact]
    public Task Audit_reports_truncation_below_a_signed_checkpoint_in_postgres() => Audit_reports_truncation_below_a_signed_checkpoint();

    [PostgresFact]
    public Task Audit_reports_checkpoints_not_signed_by_the_log_key_or_altered_in_their_row_in_postgres() => Audit_reports_checkpoints_not_signed_by_the_log_key_or_altered_in_their_row();

    [PostgresFact]
    public Task Published_checkpoints_are_signed_and_stored_in_postgres() => Published_checkpoints_are_signed_and_stored();

    [PostgresFact]
    public Task An_append_with_a_checkpoint_stores_the_signed_checkpoint_of_the_new_tree_in_the_same_commit_in_postgres() =>
        An_append_with_a_checkpoint_stores_the_signed_checkpoint_of_the_new_tree_in_the_same_commit();

    [PostgresFact]
    public async Task Only_one_store_holds_the_sequencer_lock_at_a_time()
    {
        var first = (PostgresLedgerStore)await OpenAsync();
        await first.AppendBatchAsync([Entry("from the sequencer")]);
        Assert.True(first.IsSequencer);

        await using var second = await PostgresLedgerStore.OpenAsync(Target);
        var contender = second.AppendBatchAsync([Entry("from the second replica")]);
        await Task.Delay(300);
        Assert.False(contender.IsCompleted);

        await first.DisposeAsync();
        Assert.Equal(1, await contender.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.True(second.IsSequencer);
    }

    [PostgresFact]
    public async Task A_second_sequencer_gives_up_after_its_timeout()
    {
        var first = (PostgresLedgerStore)await OpenAsync();
        await first.AcquireSequencerLockAsync();

        await using var second = await PostgresLedgerStore.OpenAsync(Target);
        second.SequencerTimeout = TimeSpan.FromMilliseconds(300);
        await Assert.ThrowsAsync<TimeoutException>(() => second.AppendBatchAsync([Entry("never")]));
        Assert.Equal(0, await second.SizeAsync());
    }

    [PostgresFact]
    public async Task Trying_for_the_sequencer_lock_never_waits_and_reports_a_session_that_died()
    {
        var first = (PostgresLedgerStore)await OpenAsync();
        await using var second = await PostgresLedgerStore.OpenAsync(Target);
        Assert.True(await first.TryHoldSequencerLockAsync());
        Assert.False(await second.TryHoldSequencerLockAsync());
        Assert.True(await first.TryHoldSequencerLockAsync());

        // The holder's session ends (as when its process is killed): it learns so at its next check, the other takes over.
        await ExecuteSqlAsync($"SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid::bigint = {(long)((ulong)first.SequencerLockKey >> 32)} AND objid::bigint = {(long)((ulong)first.SequencerLockKey & 0xffffffff)}");
        Assert.False(await first.TryHoldSequencerLockAsync());
        Assert.False(first.IsSequencer);
        Assert.True(await second.TryHoldSequencerLockAsync());
        Assert.Equal(0, await second.AppendBatchAsync([Entry("from the new sequencer")]));
    }

    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var dataSource = NpgsqlDataSource.Create(Target);
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    protected override string BlobLiteral(byte[] bytes) => $"'\\x{Convert.ToHexString(bytes)}'::bytea";
}
