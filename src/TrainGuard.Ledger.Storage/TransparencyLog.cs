using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Tiles;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Storage;

/// <summary>
/// The tamper-evident log as a server uses it: a durable <see cref="ILedgerStore"/>, the tree's nodes held in
/// memory for microsecond proofs, and the log's Ed25519 key for signing tree heads. Opening rebuilds the
/// tree from the stored leaf hashes and refuses to continue (fail closed) if it no longer reproduces the
/// latest tree head the log signed. Appends are serialised; reads may run concurrently.
/// </summary>
public sealed class TransparencyLog
{
    private const int LoadPage = 1 << 16;

    private readonly ILedgerStore _store;
    private readonly NoteSigner _signer;
    private readonly MerkleLevels _levels;
    private readonly SemaphoreSlim _appendGate = new(1, 1);

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
        await log.SyncAndCheckAsync(cancellationToken);
        return log;
    }

    /// <summary>
    /// Loads leaves appended by another process, then checks the tree against the latest signed tree head in the store,
    /// as opening does (a server taking over as sequencer starts from the stored state, never from what it held).
    /// </summary>
    /// <exception cref="LedgerIntegrityException">The stored leaves no longer reproduce the latest tree head.</exception>
    public async Task SyncAndCheckAsync(CancellationToken cancellationToken = default)
    {
        // The tree head first: it is stored with or after its leaves, so the size read next covers it even while
        // another process appends.
        var latest = await _store.GetLatestTreeHeadAsync(cancellationToken);
        await SyncAsync(cancellationToken);
        if (latest is not null)
        {
            CheckAgainst(latest);
        }
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

    private async Task<AppendResult> AppendCoreAsync(IReadOnlyList<LedgerAppend> entries, bool withTreeHead, CancellationToken cancellationToken)
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
}
