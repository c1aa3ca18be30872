using System.Text;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Storage;
using TrainGuard.Parsing;
using TrainGuard.Server.Ledger;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Witness;

/// <summary>Why a submitted cosignature was refused, as the HTTP answer says it.</summary>
public enum CosignatureRefusal
{
    /// <summary>Accepted.</summary>
    None,

    /// <summary>400: not a signed note holding a tree head, or a timestamp in the future.</summary>
    Malformed,

    /// <summary>403: not signed by this log, no cosignature of a configured witness, or one that does not verify.</summary>
    Forbidden,

    /// <summary>404: the tree head is of another log (origin).</summary>
    UnknownLog,

    /// <summary>409: a tree head this server never published: larger than its latest, or another root at that size (a split view).</summary>
    Conflict,
}

/// <summary>The outcome of <see cref="CosignedTreeHeads.SubmitAsync"/>.</summary>
public sealed record CosignatureSubmission(CosignatureRefusal Refusal, string Detail, long TreeSize, IReadOnlyList<Cosignature> Accepted);

/// <summary>
/// Witness cosignatures of the server's tree heads (C2SP tlog-cosignature, <c>cosignature/v1</c>): accepts a
/// cosignature only from a witness key the server was configured with, only over a tree head this server published
/// (same origin, same root at that size, the log's own signature), keeps it in <see cref="CosignatureStore"/>, and
/// serves the newest cosigned head with every cosignature it holds; the latest tree head carries its cosignatures
/// as extra signature lines, which clients that do not know the witness keys ignore (C2SP signed-note).
/// </summary>
public sealed class CosignedTreeHeads
{
    /// <summary>Largest submission read.</summary>
    public const int MaxSubmissionBytes = 64 * 1024;

    /// <summary>How far in the future a cosignature timestamp may lie (clock skew).</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(10);

    private readonly CosignatureStore _store;
    private readonly object _gate = new();
    private Latest? _latest;

    private CosignedTreeHeads(CosignatureStore store, IReadOnlyList<CosignerVerifier> witnesses)
    {
        _store = store;
        Witnesses = witnesses;
    }

    /// <summary>The witness keys whose cosignatures are accepted.</summary>
    public IReadOnlyList<CosignerVerifier> Witnesses { get; }

    /// <summary>Opens the store's table and loads the newest cosigned tree head.</summary>
    public static async Task<CosignedTreeHeads> OpenAsync(IServerStore store, IReadOnlyList<CosignerVerifier> witnesses, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(witnesses);
        var duplicate = witnesses.GroupBy(w => (w.Name, w.KeyId)).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"witness key {duplicate.Key.Name}+{duplicate.Key.KeyId:x8} is given twice", nameof(witnesses));
        }

        var heads = new CosignedTreeHeads(await CosignatureStore.OpenAsync(store, cancellationToken), witnesses);
        var latest = await heads._store.LatestAsync(cancellationToken);
        if (latest.Count > 0)
        {
            heads._latest = new Latest(latest[0].TreeSize, latest[0].Note, latest.ToDictionary(c => (c.Witness, c.KeyId), c => c.Line));
        }

        return heads;
    }

    /// <summary>The newest cosigned tree head: the log's signed note with every kept cosignature line; null before the first.</summary>
    public string? NewestCosigned
    {
        get
        {
            lock (_gate)
            {
                return _latest is { } latest ? latest.Note + string.Concat(latest.Lines.Values) : null;
            }
        }
    }

    /// <summary><paramref name="head"/>'s note, with the cosignatures kept for its size appended.</summary>
    public string WithCosignatures(PublishedTreeHead head)
    {
        ArgumentNullException.ThrowIfNull(head);
        lock (_gate)
        {
            return _latest is { } latest && latest.Size == head.Size ? head.Note + string.Concat(latest.Lines.Values) : head.Note;
        }
    }

    /// <summary>
    /// Checks and keeps the cosignatures in <paramref name="submission"/>: a tree head of <paramref name="log"/> (at most
    /// <paramref name="publishedSize"/>, the latest it handed out) with the log's signature and one or more
    /// <c>cosignature/v1</c> lines of configured witnesses.
    /// </summary>
    public async Task<CosignatureSubmission> SubmitAsync(ReadOnlyMemory<byte> submission, TransparencyLog log, long publishedSize, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        SignedNote note;
        TreeHead head;
        try
        {
            note = SignedNote.Parse(submission.Span);
            head = TreeHead.Parse(note.Text);
        }
        catch (MalformedInputException ex)
        {
            return Refused(CosignatureRefusal.Malformed, $"not a cosigned tree head: {ex.Message}");
        }

        if (!string.Equals(head.Origin, log.Origin, StringComparison.Ordinal))
        {
            return Refused(CosignatureRefusal.UnknownLog, $"this server's log is '{log.Origin}', not '{TextSanitizerEscape(head.Origin)}'");
        }

        if (head.Size > publishedSize)
        {
            return Refused(CosignatureRefusal.Conflict, $"this server never published a tree head of size {head.Size} (its latest is {publishedSize})");
        }

        if (!MerkleHash.FixedTimeEquals(log.Tree.RootHash(head.Size), head.RootHash))
        {
            return Refused(CosignatureRefusal.Conflict, $"split view: this log's tree of size {head.Size} has another root than the cosigned tree head; a witness was shown a tree head this server did not publish");
        }

        var logSignature = note.Verify([log.Verifier]);
        if (!logSignature.IsVerified)
        {
            return Refused(CosignatureRefusal.Forbidden, $"the tree head must carry this log's signature ({log.Verifier.Name}+{log.Verifier.KeyId:x8}): {logSignature.Problem}");
        }

        var accepted = new List<Cosignature>();
        foreach (var signature in note.Signatures)
        {
            var witness = Witnesses.FirstOrDefault(w => w.Names(signature));
            if (witness is null)
            {
                continue;
            }

            if (witness.Verify(note.Text, signature) is not { } cosignature)
            {
                return Refused(CosignatureRefusal.Forbidden, $"the cosignature of witness {witness.Name}+{witness.KeyId:x8} does not verify over this tree head");
            }

            if (cosignature.Time > now + MaxClockSkew)
            {
                return Refused(CosignatureRefusal.Malformed, $"the cosignature of witness {witness.Name} is dated {cosignature.Time:u}, in the future");
            }

            accepted.Add(cosignature);
        }

        if (accepted.Count == 0)
        {
            return Refused(CosignatureRefusal.Forbidden, Witnesses.Count == 0
                ? "this server accepts no witness cosignatures (start it with --witness-key FILE for each witness)"
                : "no cosignature of a witness this server knows (its witnesses: " + string.Join(", ", Witnesses.Select(w => $"{w.Name}+{w.KeyId:x8}")) + ")");
        }

        var logNote = note.Text + "\n" + string.Concat(logSignature.VerifiedSignatures.Select(s => s.ToLine()));
        foreach (var cosignature in accepted)
        {
            await _store.SaveAsync(new StoredCosignature(head.Size, logNote, cosignature.Witness, cosignature.KeyId, cosignature.Time, cosignature.Line), cancellationToken);
        }

        Remember(head.Size, logNote, accepted);
        return new CosignatureSubmission(CosignatureRefusal.None, $"kept {accepted.Count} cosignature(s) of the tree head of size {head.Size}", head.Size, accepted);

        CosignatureSubmission Refused(CosignatureRefusal refusal, string detail) => new(refusal, detail, -1, []);
    }

    private static string TextSanitizerEscape(string text) => Findings.TextSanitizer.Escape(text, 200);

    private void Remember(long size, string logNote, IReadOnlyList<Cosignature> accepted)
    {
        lock (_gate)
        {
            if (_latest is null || size > _latest.Size)
            {
                _latest = new Latest(size, logNote, []);
            }

            if (_latest.Size == size)
            {
                foreach (var cosignature in accepted)
                {
                    _latest.Lines[(cosignature.Witness, cosignature.KeyId)] = cosignature.Line;
                }
            }
        }
    }

    private sealed record Latest(long Size, string Note, Dictionary<(string Witness, uint KeyId), string> Lines);
}
