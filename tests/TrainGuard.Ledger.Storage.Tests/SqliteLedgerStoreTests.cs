using Microsoft.Data.Sqlite;

namespace TrainGuard.Ledger.Storage.Tests;

public sealed class SqliteLedgerStoreTests : LedgerStoreContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "trainguard-ledger-" + Guid.NewGuid().ToString("N"));

    protected override string Backend => "sqlite";

    protected override string Target => Path.Combine(_directory, "ledger.db");

    public override Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        return Task.CompletedTask;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public Task Appended_batches_survive_reopening_and_reproduce_the_same_tree_in_sqlite() => Appended_batches_survive_reopening_and_reproduce_the_same_tree();

    [Fact]
    public Task Idempotency_keys_return_the_existing_index_for_duplicates_in_sqlite() => Idempotency_keys_return_the_existing_index_for_duplicates();

    [Fact]
    public Task A_batch_that_fails_midway_leaves_no_rows_and_no_new_size_in_sqlite() => A_batch_that_fails_midway_leaves_no_rows_and_no_new_size();

    [Fact]
    public Task Killing_the_writer_process_mid_batch_never_leaves_a_partial_batch_in_sqlite() => Killing_the_writer_process_mid_batch_never_leaves_a_partial_batch();

    [Fact]
    public Task Audit_of_an_untouched_ledger_is_clean_in_sqlite() => Audit_of_an_untouched_ledger_is_clean();

    [Fact]
    public Task Audit_reports_an_edited_entry_and_every_checkpoint_it_breaks_in_sqlite() => Audit_reports_an_edited_entry_and_every_checkpoint_it_breaks();

    [Fact]
    public Task Audit_localises_an_edit_that_also_rewrote_the_leaf_hash_in_sqlite() => Audit_localises_an_edit_that_also_rewrote_the_leaf_hash();

    [Fact]
    public Task Audit_reports_a_deleted_entry_as_a_gap_in_sqlite() => Audit_reports_a_deleted_entry_as_a_gap();

    [Fact]
    public Task Audit_reports_truncation_below_a_signed_checkpoint_in_sqlite() => Audit_reports_truncation_below_a_signed_checkpoint();

    [Fact]
    public Task Audit_reports_checkpoints_not_signed_by_the_log_key_or_altered_in_their_row_in_sqlite() => Audit_reports_checkpoints_not_signed_by_the_log_key_or_altered_in_their_row();

    [Fact]
    public Task Published_checkpoints_are_signed_and_stored_in_sqlite() => Published_checkpoints_are_signed_and_stored();

    [Fact]
    public Task An_append_with_a_checkpoint_stores_the_signed_checkpoint_of_the_new_tree_in_the_same_commit_in_sqlite() =>
        An_append_with_a_checkpoint_stores_the_signed_checkpoint_of_the_new_tree_in_the_same_commit();

    [Fact]
    public async Task Database_runs_in_wal_mode()
    {
        _ = await OpenAsync();
        await using var connection = new SqliteConnection($"Data Source={Target}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", await command.ExecuteScalarAsync());
    }

    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={Target};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    protected override string BlobLiteral(byte[] bytes) => $"X'{Convert.ToHexString(bytes)}'";
}
