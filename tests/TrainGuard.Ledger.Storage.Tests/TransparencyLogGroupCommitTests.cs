using System.Text;
using Microsoft.Data.Sqlite;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;

namespace TrainGuard.Ledger.Storage.Tests;

/// <summary>
/// Group commit: appends that arrive while one is being committed go into the store together in the next transaction,
/// and each caller gets exactly its own share of the result, as if it had appended alone.
/// </summary>
public sealed class TransparencyLogGroupCommitTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "trainguard-group-" + Guid.NewGuid().ToString("N"));
    private readonly List<int> _transactionSizes = [];
    private readonly TaskCompletionSource _firstEntered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _releaseFirst = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SqliteLedgerStore _store = null!;
    private NoteSigner _signer = null!;
    private TransparencyLog _log = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _store = await SqliteLedgerStore.OpenAsync(Path.Combine(_directory, "ledger.db"));
        _signer = NoteSigner.Generate("group.test");
        _log = await TransparencyLog.OpenAsync(_store, "group.test", _signer);

        // The first transaction waits until the test has queued the appends that should share the next one.
        _store.AppendHook = async (_, _, entries, _, _) =>
        {
            int count;
            lock (_transactionSizes)
            {
                _transactionSizes.Add(entries.Count);
                count = _transactionSizes.Count;
            }

            if (entries.Any(e => Encoding.UTF8.GetString(e.Entry).StartsWith("poison", StringComparison.Ordinal)))
            {
                throw new InvalidOperationException("this append is refused by the store");
            }

            if (count == 1)
            {
                _firstEntered.SetResult();
                await _releaseFirst.Task;
            }
        };
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _signer.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Appends_queued_during_a_commit_share_one_transaction_and_each_gets_its_own_indices()
    {
        var first = _log.AppendWithTreeHeadAsync(Entries("a", 3));
        await _firstEntered.Task;
        var b = _log.AppendWithTreeHeadAsync(Entries("b", 2));
        var c = _log.AppendAsync([new LedgerAppend(Bytes("c0"), "key-a1"), new LedgerAppend(Bytes("c1"), "key-c1")]);
        var d = _log.AppendWithTreeHeadAsync(Entries("d", 4));
        _releaseFirst.SetResult();
        var results = await Task.WhenAll(first, b, c, d);

        Assert.Equal([3, 2 + 2 + 4], _transactionSizes);
        var (ra, rb, rc, rd) = (results[0], results[1], results[2], results[3]);
        Assert.Equal([0L, 1, 2], ra.Indices);
        Assert.Equal([3L, 4], rb.Indices);
        Assert.Equal(3, rb.FirstIndex);

        // c repeats a's key "key-a1": a duplicate answered with a's leaf; its new entry follows b's.
        Assert.Equal([1L, 5], rc.Indices);
        Assert.Equal([true, false], rc.Duplicates);
        Assert.Equal(1, rc.AppendedCount);
        Assert.Equal(5, rc.FirstIndex);
        Assert.Equal([6L, 7, 8, 9], rd.Indices);
        Assert.Equal(10, rd.TreeSize);
        Assert.Equal(10, _log.Size);

        // Each share's leaf hashes are those of its own new entries, and the tree head covers the whole group.
        Assert.Equal(MerkleHash.HashLeaf(Bytes("c1")), rc.LeafHashes.ToArray());
        Assert.Equal(Entries("d", 4).SelectMany(e => MerkleHash.HashLeaf(e.Entry)), rd.LeafHashes.ToArray());
        Assert.Null(rc.TreeHead);
        Assert.Equal(10, rd.TreeHead!.TreeSize);
        Assert.Equal(_log.Tree.RootHash(10), rd.TreeHead.RootHash);
        var stored = await _store.GetEntriesAsync(0, 10);
        Assert.Equal(["a0", "a1", "a2", "b0", "b1", "c1", "d0", "d1", "d2", "d3"], stored.Select(e => Encoding.UTF8.GetString(e)));
    }

    [Fact]
    public async Task An_append_the_store_refuses_fails_alone_and_the_rest_of_its_group_is_committed()
    {
        var first = _log.AppendAsync(Entries("a", 1));
        await _firstEntered.Task;
        var b = _log.AppendAsync(Entries("b", 2));
        var poisoned = _log.AppendAsync(Entries("poison", 1));
        var d = _log.AppendAsync(Entries("d", 1));
        _releaseFirst.SetResult();

        await first;
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => poisoned);
        Assert.Contains("refused by the store", error.Message, StringComparison.Ordinal);
        var (rb, rd) = (await b, await d);
        Assert.Equal([1L, 2], rb.Indices);
        Assert.Equal([3L], rd.Indices);

        // The group was tried once together, then each append alone.
        Assert.Equal([1, 4, 2, 1, 1], _transactionSizes);
        var stored = await _store.GetEntriesAsync(0, 4);
        Assert.Equal(["a0", "b0", "b1", "d0"], stored.Select(e => Encoding.UTF8.GetString(e)));
        Assert.Equal(4, _log.Size);
    }

    [Fact]
    public async Task An_append_cancelled_while_it_waits_for_its_group_is_not_stored()
    {
        var first = _log.AppendAsync(Entries("a", 1));
        await _firstEntered.Task;
        using var cancel = new CancellationTokenSource();
        var cancelled = _log.AppendAsync(Entries("x", 2), cancel.Token);
        var b = _log.AppendAsync(Entries("b", 1));
        await cancel.CancelAsync();
        _releaseFirst.SetResult();

        await first;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        var rb = await b;
        Assert.Equal([1L], rb.Indices);
        Assert.Equal(2, _log.Size);
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static List<LedgerAppend> Entries(string prefix, int count) =>
        [.. Enumerable.Range(0, count).Select(i => new LedgerAppend(Bytes(prefix + i), $"key-{prefix}{i}"))];
}
