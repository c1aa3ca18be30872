using System.Diagnostics;
using System.Text;
using TrainGuard.Findings;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Verification;

/// <summary>The outcome of <see cref="LogConsistencyCheck.RunAsync"/>: a report, and the server's new signed tree head when it verified.</summary>
public sealed record ConsistencyOutcome(Report Report, string? NewTreeHead);

/// <summary>
/// <c>trainguard ledger verify</c>: proves that a log only grew since an older signed tree head. Fetches the
/// server's latest one (<c>/checkpoint</c>, a C2SP checkpoint), checks its signature and origin against the pinned key, fetches an RFC 9162
/// consistency proof from <c>/api/v1/proof/consistency</c> and verifies it locally.
/// </summary>
public static class LogConsistencyCheck
{
    /// <summary>
    /// Proves the log only grew since <paramref name="oldTreeHead"/>. Without one (first use), only checks that the
    /// server's current tree head is signed by <paramref name="key"/>, and hands it back to be kept for next time.
    /// </summary>
    /// <exception cref="TrainGuardApiException">The server could not be reached or answered with an error.</exception>
    /// <exception cref="MalformedInputException">The old tree head, or something the server sent, is malformed.</exception>
    public static async Task<ConsistencyOutcome> RunAsync(TrainGuardApiClient server, string? oldTreeHead, NoteVerifier key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(key);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var where = server.BaseUrl.ToString();
        var findings = new List<Finding>();
        if (oldTreeHead is null)
        {
            return await FirstUseAsync(server, key, started, clock, cancellationToken);
        }

        var old = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(oldTreeHead), [key]);
        if (!old.Verification.IsVerified)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"the old tree head (checkpoint) is not signed by {key.Name}+{key.KeyId:x8}: {old.Verification.Problem}", 0);
        }

        var newNote = await server.GetTreeHeadAsync(cancellationToken);
        var current = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(newNote), [key], old.TreeHead.Origin);
        string? verified = null;
        if (!current.IsTrusted)
        {
            var why = current.Verification.IsVerified ? $"its origin is '{current.TreeHead.Origin}', not '{old.TreeHead.Origin}'" : current.Verification.Problem;
            findings.Add(LedgerFindings.Make(LedgerRules.CheckpointInvalid, $"the server's checkpoint is not trusted: {why}", where, "checkpoint") with { Verdict = Verdict.Error });
        }
        else if (current.TreeHead.Size < old.TreeHead.Size)
        {
            findings.Add(Rewritten($"the log shrank from {old.TreeHead.Size} to {current.TreeHead.Size} leaves"));
        }
        else if (old.TreeHead.Size == 0 || current.TreeHead.Size == old.TreeHead.Size)
        {
            if (old.TreeHead.Size != 0 && !MerkleHash.FixedTimeEquals(old.TreeHead.RootHash, current.TreeHead.RootHash))
            {
                findings.Add(Rewritten($"two signed checkpoints of size {old.TreeHead.Size} have different roots (a fork)"));
            }
            else
            {
                verified = newNote;
            }
        }
        else
        {
            var proof = await server.GetConsistencyProofAsync(old.TreeHead.Size, current.TreeHead.Size, cancellationToken);
            if (MerkleTree.VerifyConsistency((ulong)old.TreeHead.Size, (ulong)current.TreeHead.Size, proof, old.TreeHead.RootHash, current.TreeHead.RootHash))
            {
                verified = newNote;
            }
            else
            {
                findings.Add(Rewritten($"the consistency proof from size {old.TreeHead.Size} to {current.TreeHead.Size} does not verify: the tree at {current.TreeHead.Size} does not extend the old one"));
            }
        }

        var verdict = findings.Count == 0 ? Verdict.Clean : findings.Max(f => f.Verdict);
        var item = new AnalyzedItem
        {
            Path = where,
            Format = "tlog",
            Verdict = verdict,
            Findings = findings,
            Size = current.TreeHead.Size,
            Elapsed = clock.Elapsed,
        };
        var report = new Report { Command = "ledger verify", Items = [item], ItemsName = "logs", Rules = LedgerRules.All, StartedAt = started, Elapsed = clock.Elapsed };
        return new ConsistencyOutcome(report, verified);

        Finding Rewritten(string message) => LedgerFindings.Make(LedgerRules.HistoryRewritten, message, where, "checkpoint",
            ("old_size", old.TreeHead.Size), ("new_size", current.TreeHead.Size));
    }

    private static async Task<ConsistencyOutcome> FirstUseAsync(TrainGuardApiClient server, NoteVerifier key, DateTimeOffset started, Stopwatch clock, CancellationToken cancellationToken)
    {
        var where = server.BaseUrl.ToString();
        var note = await server.GetTreeHeadAsync(cancellationToken);
        var current = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(note), [key]);
        List<Finding> findings = current.IsTrusted
            ? []
            : [LedgerFindings.Make(LedgerRules.CheckpointInvalid, $"the server's checkpoint is not trusted: {current.Verification.Problem}", where, "checkpoint") with { Verdict = Verdict.Error }];
        var item = new AnalyzedItem
        {
            Path = where,
            Format = "tlog",
            Verdict = findings.Count == 0 ? Verdict.Clean : Verdict.Error,
            Findings = findings,
            Size = current.TreeHead.Size,
            Elapsed = clock.Elapsed,
        };
        var report = new Report { Command = "ledger verify", Items = [item], ItemsName = "logs", Rules = LedgerRules.All, StartedAt = started, Elapsed = clock.Elapsed };
        return new ConsistencyOutcome(report, findings.Count == 0 ? note : null);
    }
}
