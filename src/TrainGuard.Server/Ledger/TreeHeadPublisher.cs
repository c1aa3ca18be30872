using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Storage;

namespace TrainGuard.Server.Ledger;

/// <summary>A signed tree head the server handed out (it is stored before it is served).</summary>
public sealed record PublishedTreeHead(long Size, byte[] RootHash, string Note);

/// <summary>
/// Publishes signed tree heads: after each batch, or at most once per <c>interval</c> when one is set (callers
/// waiting for a tree head that covers their batch share the next one). Every tree head is recorded in the
/// store before anyone sees it.
/// </summary>
public sealed class TreeHeadPublisher : IDisposable
{
    private readonly TransparencyLog _log;
    private readonly TimeSpan _interval;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeProvider _time;
    private PublishedTreeHead? _latest;
    private long _lastPublished;
    private long _published;

    public TreeHeadPublisher(TransparencyLog log, TimeSpan interval, TimeProvider? time = null)
    {
        _log = log;
        _interval = interval;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The latest tree head handed out.</summary>
    public PublishedTreeHead Latest => Volatile.Read(ref _latest) ?? throw new InvalidOperationException("the publisher is not initialised");

    /// <summary>Tree heads published by this process.</summary>
    public long PublishedCount => Interlocked.Read(ref _published);

    /// <summary>
    /// Set when several servers share one database: while this process is not the sequencer, <see cref="AppendAsync"/>
    /// hands the batch to the sequencer through it and returns once the batch is in the committed, signed log.
    /// </summary>
    public ILedgerAppendRouter? Router { get; set; }

    /// <summary>Loads the latest stored tree head, publishing a new one when the log has grown beyond it.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        var stored = await _log.Store.GetLatestTreeHeadAsync(cancellationToken);
        if (stored is not null && stored.TreeSize == _log.Size)
        {
            Volatile.Write(ref _latest, new PublishedTreeHead(stored.TreeSize, stored.RootHash, stored.Note));
            return;
        }

        await PublishAsync(cancellationToken);
    }

    /// <summary>
    /// Appends a batch and returns a stored tree head that covers it. Without an interval the tree head is signed and
    /// stored in the batch's own transaction (one commit; no batch waits for another's tree head); with one, batches
    /// share the next periodic tree head.
    /// </summary>
    public async Task<(AppendResult Result, PublishedTreeHead TreeHead)> AppendAsync(IReadOnlyList<LedgerAppend> entries, CancellationToken cancellationToken = default) =>
        Router is { IsSequencer: false } router
            ? await router.AppendAsync(entries, cancellationToken)
            : await AppendHereAsync(entries, cancellationToken);

    /// <summary><see cref="AppendAsync"/> through this process's own store session (the sequencer's), never routed.</summary>
    public async Task<(AppendResult Result, PublishedTreeHead TreeHead)> AppendHereAsync(IReadOnlyList<LedgerAppend> entries, CancellationToken cancellationToken = default)
    {
        if (_interval > TimeSpan.Zero)
        {
            var appended = await _log.AppendAsync(entries, cancellationToken);
            return (appended, await EnsureAsync(appended.TreeSize, cancellationToken));
        }

        var result = await _log.AppendWithTreeHeadAsync(entries, cancellationToken);
        if (result.TreeHead is { } stored)
        {
            Offer(new PublishedTreeHead(stored.TreeSize, stored.RootHash, stored.Note));
        }

        return (result, await EnsureAsync(result.TreeSize, cancellationToken));
    }

    /// <summary>A tree head covering at least <paramref name="size"/> leaves, publishing one when needed.</summary>
    public async Task<PublishedTreeHead> EnsureAsync(long size, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _latest) is { } current && current.Size >= size)
        {
            return current;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (Volatile.Read(ref _latest) is { } latest && latest.Size >= size)
            {
                return latest;
            }

            if (_interval > TimeSpan.Zero)
            {
                var wait = _interval - _time.GetElapsedTime(Interlocked.Read(ref _lastPublished));
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, _time, cancellationToken);
                }
            }

            return await PublishCoreAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Makes a tree head another process stored (the sequencer) the latest, unless a larger one already is; the caller
    /// has checked it and synced the log to at least its size.
    /// </summary>
    public void Adopt(PublishedTreeHead treeHead) => Offer(treeHead, published: false);

    public void Dispose() => _gate.Dispose();

    private async Task PublishAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await PublishCoreAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Makes a tree head stored by an append the latest, unless a larger one already is.</summary>
    private void Offer(PublishedTreeHead checkpoint, bool published = true)
    {
        while (true)
        {
            var current = Volatile.Read(ref _latest);
            if (current is not null && current.Size >= checkpoint.Size)
            {
                return;
            }

            if (ReferenceEquals(Interlocked.CompareExchange(ref _latest, checkpoint, current), current))
            {
                Interlocked.Exchange(ref _lastPublished, _time.GetTimestamp());
                if (published)
                {
                    Interlocked.Increment(ref _published);
                }

                return;
            }
        }
    }

    private async Task<PublishedTreeHead> PublishCoreAsync(CancellationToken cancellationToken)
    {
        var note = await _log.PublishTreeHeadAsync(cancellationToken);
        var checkpoint = TreeHead.Parse(SignedNote.Parse(note).Text);
        var published = new PublishedTreeHead(checkpoint.Size, checkpoint.RootHash.ToArray(), note);
        Volatile.Write(ref _latest, published);
        Interlocked.Exchange(ref _lastPublished, _time.GetTimestamp());
        Interlocked.Increment(ref _published);
        return published;
    }
}
