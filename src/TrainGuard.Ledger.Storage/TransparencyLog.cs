using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Tiles;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Storage;

/// <summary>
/// The tamper-evident log as a server uses it: a durable <see cref="ILedgerStore"/>, the tree's nodes held in
/// memory for microsecond proofs, and the log's Ed25519 key for signing tree heads. Opening rebuilds the
/// tree from the stored leaf hashes and refuses to continue (fail closed) if it no longer reproduces the
/// latest tree head the log signed. Appends are serialised and grouped: appends that arrive while one is being
/// committed are committed together in the next transaction (one durable sync, one tree head), each caller getting
/// its own share of the result. Reads may run concurrently.
/// </summary>
public sealed class TransparencyLog
{
    private const int LoadPage = 1 << 16;

    /// <summary>Most entries one group commit carries (appends queued beyond it wait for the next).</summary>
    private const int MaxGroupEntries = 20_000;

    private readonly ILedgerStore _store;
    private readonly NoteSigner _signer;
    private readonly MerkleLevels _levels;
    private readonly SemaphoreSlim _appendGate = new(1, 1);
    private readonly Lock _queueLock = new();
    private readonly List<PendingAppend> _queue = [];
    private bool _draining;

    private TransparencyLog(ILedgerStore store, string origin, NoteSigner signer, MerkleLevels levels)
    {
        _store = store;
        Origin = origin;
        _signer = signer;
        _levels = levels;
        Tree = new MerkleTree(levels);
    }

    /// <summary>The tree head origin line of this log.</summary>
    public string Origin { get; }

    /// <summary>Leaves currently in the in-memory tree.</summary>
    public long Size => _levels.Size;

    /// <summary>Tree math (roots, proofs) over the in-memory nodes.</summary>
    public MerkleTree Tree { get; }

    /// <summary>The complete-node hashes, e.g. for <see cref="TileReader.ReadHashTile"/>.</summary>
    public IMerkleNodeSource Nodes => _levels;

    /// <summary>The underlying store.</summary>
    public ILedgerStore Store => _store;

    /// <summary>The verifier key clients and witnesses should pin.</summary>
    public NoteVerifier Verifier => _signer.Verifier;

    /// <summary>Loads the tree from <paramref name="store"/> and checks it against the latest signed tree head.</summary>
    public static async Task<TransparencyLog> OpenAsync(ILedgerStore store, string origin, NoteSigner signer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentException.ThrowIfNullOrEmpty(origin);
        var log = new TransparencyLog(store, origin, signer, new MerkleLevels());
        await log.SyncAsync(cancellationToken);

        var latest = await store.GetLatestTreeHeadAsync(cancellationToken);
        if (latest is not null)
        {
            log.CheckAgainst(latest);
        }

        return log;
    }

    /// <summary>Appends entries durably, then adds their leaves to the in-memory tree.</summary>
    public Task<AppendResult> AppendAsync(IReadOnlyList<LedgerAppend> entries, CancellationToken cancellationToken = default) =>
        AppendCoreAsync(entries, withTreeHead: false, cancellationToken);

    /// <summary>
    /// Appends entries durably together with a signed tree head for the new tree, stored in the same transaction
    /// (<see cref="AppendResult.TreeHead"/>; null when nothing new was appended or another writer appended since
    /// the tree was synced, in which case publish one with <see cref="PublishTreeHeadAsync"/>). One commit covers
    /// the batch and the tree head that proves it, and no later batch has to wait for it.
    /// </summary>
    public Task<AppendResult> AppendWithTreeHeadAsync(IReadOnlyList<LedgerAppend> entries, CancellationToken cancellationToken = default) =>
        AppendCoreAsync(entries, withTreeHead: true, cancellationToken);

    /// <summary>Loads leaves appended to the store by another process (e.g. a former sequencer).</summary>
    public async Task SyncAsync(CancellationToken cancellationToken = default)
    {
        await _appendGate.WaitAsync(cancellationToken);
        try
        {
            await SyncCoreAsync(cancellationToken);
        }
        finally
        {
            _appendGate.Release();
        }
    }

    /// <summary>Signs a tree head for the current size, records it in the store and returns the signed note.</summary>
    public async Task<string> PublishTreeHeadAsync(CancellationToken cancellationToken = default)
    {
        await _appendGate.WaitAsync(cancellationToken);
        try
        {
            var size = _levels.Size;
            var root = Tree.RootHash(size);
            var note = new TreeHead(Origin, size, root).Sign(_signer);
            await _store.SaveTreeHeadAsync(size, root, note, cancellationToken);
            return note;
        }
        finally
        {
            _appendGate.Release();
        }
    }

    /// <summary>RFC 9162 inclusion proof for leaf <paramref name="index"/> in the tree of <paramref name="treeSize"/> leaves.</summary>
    public byte[][] InclusionProof(long index, long treeSize) => Tree.InclusionProof(index, treeSize);

    /// <summary>RFC 9162 consistency proof between two tree sizes.</summary>
    public byte[][] ConsistencyProof(long size1, long size2) => Tree.ConsistencyProof(size1, size2);

    /// <summary>A tlog-tiles hash tile for <paramref name="treeSize"/>.</summary>
    public byte[] ReadHashTile(TileAddress address, long treeSize) => TileReader.ReadHashTile(_levels, address, treeSize);

    /// <summary>A tlog-tiles entry bundle for <paramref name="treeSize"/>.</summary>
    public async Task<byte[]> ReadEntryBundleAsync(TileAddress address, long treeSize, CancellationToken cancellationToken = default)
    {
        var (start, count) = TileReader.EntryBundleRange(address, treeSize, await _store.SizeAsync(cancellationToken));
        return EntryBundle.Encode(await _store.GetEntriesAsync(start, count, cancellationToken));
    }

    /// <summary>
    /// The signed tree head of the in-memory tree of <paramref name="synced"/> leaves extended by the leaves an append
    /// is writing (the tree itself only grows once they are committed); null when there is nothing new or the append
    /// does not directly extend the in-memory tree.
    /// </summary>
    private TreeHeadDraft? SignExtended(long synced, AppendResult appended)
    {
        if (appended.AppendedCount == 0 || appended.FirstIndex != synced || appended.LeafHashes.Length != appended.AppendedCount * MerkleHash.Size)
        {
            return null;
        }

        var accumulator = MerkleAccumulator.FromNodes(_levels, synced);
        var hashes = appended.LeafHashes.Span;
        for (var i = 0; i < appended.AppendedCount; i++)
        {
            accumulator.Add(hashes.Slice(i * MerkleHash.Size, MerkleHash.Size));
        }

        var root = accumulator.Root();
        return new TreeHeadDraft(appended.TreeSize, root, new TreeHead(Origin, appended.TreeSize, root).Sign(_signer));
    }

    private Task<AppendResult> AppendCoreAsync(IReadOnlyList<LedgerAppend> entries, bool withTreeHead, CancellationToken cancellationToken)
    {
        var pending = new PendingAppend(entries, withTreeHead, cancellationToken);
        bool lead;
        lock (_queueLock)
        {
            _queue.Add(pending);
            lead = !_draining;
            _draining = true;
        }

        return lead ? LeadAsync(pending) : pending.Done.Task;
    }

    /// <summary>
    /// Group commit: the append that finds no commit under way leads. It commits everything queued so far in one
    /// transaction (one durable sync and one tree head for all of them), then, while appends queued meanwhile are
    /// waiting, commits them too until its own is done; the rest are handed to a background drain so no caller
    /// serves others for long.
    /// </summary>
    private async Task<AppendResult> LeadAsync(PendingAppend own)
    {
        await DrainAsync(own);
        return await own.Done.Task;
    }

    private async Task DrainAsync(PendingAppend? own)
    {
        while (true)
        {
            List<PendingAppend> group;
            lock (_queueLock)
            {
                if (_queue.Count == 0 || own?.Done.Task.IsCompleted == true)
                {
                    if (_queue.Count == 0)
                    {
                        _draining = false;
                    }
                    else
                    {
                        _ = Task.Run(() => DrainAsync(null));
                    }

                    return;
                }

                group = TakeGroup();
            }

            await CommitGroupAsync(group);
        }
    }

    /// <summary>The queued appends, oldest first, up to <see cref="MaxGroupEntries"/> entries (at least one append).</summary>
    private List<PendingAppend> TakeGroup()
    {
        var group = new List<PendingAppend>();
        var entries = 0;
        var taken = 0;
        while (taken < _queue.Count && (group.Count == 0 || entries + _queue[taken].Entries.Count <= MaxGroupEntries))
        {
            entries += _queue[taken].Entries.Count;
            group.Add(_queue[taken++]);
        }

        _queue.RemoveRange(0, taken);
        return group;
    }

    /// <summary>Commits a group as one append; when that fails, each of its appends alone, so one bad append fails only itself.</summary>
    private async Task CommitGroupAsync(List<PendingAppend> group)
    {
        group.RemoveAll(p => p.Cancellation.IsCancellationRequested && p.Done.TrySetCanceled(p.Cancellation));
        if (group.Count == 0)
        {
            return;
        }

        if (group.Count == 1)
        {
            await CommitAloneAsync(group[0]);
            return;
        }

        var combined = new List<LedgerAppend>(group.Sum(p => p.Entries.Count));
        foreach (var pending in group)
        {
            combined.AddRange(pending.Entries);
        }

        AppendResult result;
        try
        {
            result = await AppendLockedAsync(combined, group.Any(p => p.WithTreeHead), CancellationToken.None);
        }
        catch (Exception)
        {
            foreach (var pending in group)
            {
                await CommitAloneAsync(pending);
            }

            return;
        }

        var offset = 0;
        var appendedBefore = 0;
        foreach (var pending in group)
        {
            var slice = Slice(result, offset, pending.Entries.Count, appendedBefore, pending.WithTreeHead);
            offset += pending.Entries.Count;
            appendedBefore += slice.AppendedCount;
            pending.Done.TrySetResult(slice);
        }
    }

    private async Task CommitAloneAsync(PendingAppend pending)
    {
        try
        {
            pending.Done.TrySetResult(await AppendLockedAsync(pending.Entries, pending.WithTreeHead, pending.Cancellation));
        }
        catch (OperationCanceledException) when (pending.Cancellation.IsCancellationRequested)
        {
            pending.Done.TrySetCanceled(pending.Cancellation);
        }
        catch (Exception ex)
        {
            pending.Done.TrySetException(ex);
        }
    }

    /// <summary>One caller's share of a group's <paramref name="result"/>: its inputs from <paramref name="offset"/>, its new leaves after the <paramref name="appendedBefore"/> of the appends before it.</summary>
    private static AppendResult Slice(AppendResult result, int offset, int count, int appendedBefore, bool withTreeHead)
    {
        var duplicates = result.Duplicates.AsSpan(offset, count).ToArray();
        var appended = duplicates.Count(d => !d);
        var leafHashes = result.LeafHashes.Length == result.AppendedCount * MerkleHash.Size
            ? result.LeafHashes.Slice(appendedBefore * MerkleHash.Size, appended * MerkleHash.Size)
            : ReadOnlyMemory<byte>.Empty;
        return new AppendResult(result.FirstIndex + appendedBefore, result.Indices.AsSpan(offset, count).ToArray(), duplicates, appended, result.TreeSize)
        {
            LeafHashes = leafHashes,
            TreeHead = withTreeHead ? result.TreeHead : null,
        };
    }

    private async Task<AppendResult> AppendLockedAsync(IReadOnlyList<LedgerAppend> entries, bool withTreeHead, CancellationToken cancellationToken)
    {
        await _appendGate.WaitAsync(cancellationToken);
        try
        {
            var synced = _levels.Size;
            var result = withTreeHead
                ? await _store.AppendBatchAsync(entries, appended => SignExtended(synced, appended), cancellationToken)
                : await _store.AppendBatchAsync(entries, cancellationToken);
            if (result.FirstIndex == synced && result.TreeSize == result.FirstIndex + result.AppendedCount &&
                result.LeafHashes.Length == result.AppendedCount * MerkleHash.Size)
            {
                // Nothing was appended by anyone else since the tree was last synced: add the hashes just stored.
                _levels.AppendLeafHashes(result.LeafHashes.Span);
            }
            else
            {
                await SyncCoreAsync(cancellationToken);
            }

            return result;
        }
        finally
        {
            _appendGate.Release();
        }
    }

    private async Task SyncCoreAsync(CancellationToken cancellationToken)
    {
        var storedSize = await _store.SizeAsync(cancellationToken);
        while (_levels.Size < storedSize)
        {
            var count = (int)Math.Min(LoadPage, storedSize - _levels.Size);
            var hashes = await _store.GetLeafHashesAsync(_levels.Size, count, cancellationToken);
            var buffer = new byte[hashes.Count * MerkleHash.Size];
            for (var i = 0; i < hashes.Count; i++)
            {
                if (hashes[i].Length != MerkleHash.Size)
                {
                    throw new LedgerIntegrityException($"stored leaf hash {_levels.Size + i} is {hashes[i].Length} bytes");
                }

                hashes[i].CopyTo(buffer, i * MerkleHash.Size);
            }

            _levels.AppendLeafHashes(buffer);
        }
    }

    private void CheckAgainst(StoredTreeHead latest)
    {
        TreeHead claimed;
        try
        {
            claimed = TreeHead.Parse(SignedNote.Parse(latest.Note).Text);
        }
        catch (MalformedInputException e)
        {
            throw new LedgerIntegrityException($"the latest stored checkpoint ({latest.Id}) is not a well-formed signed checkpoint", e);
        }

        if (claimed.Size > _levels.Size)
        {
            throw new LedgerIntegrityException($"the latest checkpoint covers {claimed.Size} leaves but the store holds only {_levels.Size}: the log was truncated");
        }

        if (!MerkleHash.FixedTimeEquals(Tree.RootHash(claimed.Size), claimed.RootHash))
        {
            throw new LedgerIntegrityException($"the stored leaves no longer reproduce the checkpoint at size {claimed.Size}: history was rewritten; run the ledger audit");
        }
    }

    /// <summary>An append waiting for its group commit.</summary>
    private sealed class PendingAppend(IReadOnlyList<LedgerAppend> entries, bool withTreeHead, CancellationToken cancellation)
    {
        public IReadOnlyList<LedgerAppend> Entries { get; } = entries;

        public bool WithTreeHead { get; } = withTreeHead;

        public CancellationToken Cancellation { get; } = cancellation;

        public TaskCompletionSource<AppendResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
