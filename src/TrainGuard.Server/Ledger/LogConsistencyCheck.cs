using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using TrainGuard.Findings;
using TrainGuard.Ledger.Checkpoints;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Parsing;

namespace TrainGuard.Server.Ledger;

/// <summary>The outcome of <see cref="LogConsistencyCheck.RunAsync"/>: a report, and the new checkpoint when it verified.</summary>
public sealed record ConsistencyOutcome(Report Report, string? NewCheckpoint);

/// <summary>
/// <c>trainguard ledger verify</c>: proves that a log only grew since an older signed checkpoint. Fetches the
/// server's <c>/checkpoint</c>, checks its signature and origin against the pinned key, fetches an RFC 9162
/// consistency proof from <c>/api/v1/proof/consistency</c> and verifies it locally.
/// </summary>
public static class LogConsistencyCheck
{
    /// <summary>Largest response read from the server.</summary>
    public const int MaxResponseBytes = 1 << 20;

    /// <exception cref="HttpRequestException">The server could not be reached or answered with an error.</exception>
    /// <exception cref="MalformedInputException">The old checkpoint, or something the server sent, is malformed.</exception>
    public static async Task<ConsistencyOutcome> RunAsync(HttpClient http, Uri server, string oldCheckpoint, NoteVerifier key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(key);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var where = server.ToString();
        var findings = new List<Finding>();

        var old = Checkpoint.OpenSigned(Encoding.UTF8.GetBytes(oldCheckpoint), [key]);
        if (!old.Verification.IsVerified)
        {
            throw MalformedInputException.Create(InputErrorKind.Corrupt, $"the old checkpoint is not signed by {key.Name}+{key.KeyId:x8}: {old.Verification.Problem}", 0);
        }

        var baseUri = new Uri(server.ToString().TrimEnd('/') + "/");
        var newNote = await GetTextAsync(http, new Uri(baseUri, "checkpoint"), cancellationToken);
        var current = Checkpoint.OpenSigned(Encoding.UTF8.GetBytes(newNote), [key], old.Checkpoint.Origin);
        string? verified = null;
        if (!current.IsTrusted)
        {
            var why = current.Verification.IsVerified ? $"its origin is '{current.Checkpoint.Origin}', not '{old.Checkpoint.Origin}'" : current.Verification.Problem;
            findings.Add(LedgerAuditor.Make(LedgerRules.CheckpointInvalid, $"the server's checkpoint is not trusted: {why}", where, "checkpoint") with { Verdict = Verdict.Error });
        }
        else if (current.Checkpoint.Size < old.Checkpoint.Size)
        {
            findings.Add(Rewritten($"the log shrank from {old.Checkpoint.Size} to {current.Checkpoint.Size} leaves"));
        }
        else if (old.Checkpoint.Size == 0 || current.Checkpoint.Size == old.Checkpoint.Size)
        {
            if (old.Checkpoint.Size != 0 && !MerkleHash.FixedTimeEquals(old.Checkpoint.RootHash, current.Checkpoint.RootHash))
            {
                findings.Add(Rewritten($"two signed checkpoints of size {old.Checkpoint.Size} have different roots (a fork)"));
            }
            else
            {
                verified = newNote;
            }
        }
        else
        {
            var proof = await GetProofAsync(http, new Uri(baseUri, $"api/v1/proof/consistency?from={old.Checkpoint.Size}&to={current.Checkpoint.Size}"), cancellationToken);
            if (MerkleTree.VerifyConsistency((ulong)old.Checkpoint.Size, (ulong)current.Checkpoint.Size, proof, old.Checkpoint.RootHash, current.Checkpoint.RootHash))
            {
                verified = newNote;
            }
            else
            {
                findings.Add(Rewritten($"the consistency proof from size {old.Checkpoint.Size} to {current.Checkpoint.Size} does not verify: the tree at {current.Checkpoint.Size} does not extend the old one"));
            }
        }

        var verdict = findings.Count == 0 ? Verdict.Clean : findings.Max(f => f.Verdict);
        var item = new AnalyzedItem
        {
            Path = where,
            Format = "tlog",
            Verdict = verdict,
            Findings = findings,
            Size = current.Checkpoint.Size,
            Elapsed = clock.Elapsed,
        };
        var report = new Report { Command = "ledger verify", Items = [item], ItemsName = "logs", Rules = LedgerRules.All, StartedAt = started, Elapsed = clock.Elapsed };
        return new ConsistencyOutcome(report, verified);

        Finding Rewritten(string message) => LedgerAuditor.Make(LedgerRules.HistoryRewritten, message, where, "checkpoint",
            ("old_size", old.Checkpoint.Size), ("new_size", current.Checkpoint.Size));
    }

    private static async Task<string> GetTextAsync(HttpClient http, Uri uri, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        if (response.Content.Headers.ContentLength > MaxResponseBytes)
        {
            throw MalformedInputException.Create(InputErrorKind.OverLimit, $"{uri} answered {response.Content.Headers.ContentLength:N0} bytes; at most {MaxResponseBytes:N0} are read", 0);
        }

        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return bytes.Length <= MaxResponseBytes
            ? Encoding.UTF8.GetString(bytes)
            : throw MalformedInputException.Create(InputErrorKind.OverLimit, $"{uri} answered more than {MaxResponseBytes:N0} bytes", MaxResponseBytes);
    }

    private static async Task<byte[][]> GetProofAsync(HttpClient http, Uri uri, CancellationToken cancellationToken)
    {
        var text = await GetTextAsync(http, uri, cancellationToken);
        try
        {
            using var document = JsonDocument.Parse(text);
            var proof = document.RootElement.GetProperty("proof");
            var result = new byte[proof.GetArrayLength()][];
            var i = 0;
            foreach (var element in proof.EnumerateArray())
            {
                result[i++] = element.GetBytesFromBase64();
            }

            return result;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw MalformedInputException.Create(InputErrorKind.Syntax, $"{uri} did not answer a consistency proof: {ex.Message}", 0);
        }
    }
}
