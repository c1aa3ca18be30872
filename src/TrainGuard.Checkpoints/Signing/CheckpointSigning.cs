using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TrainGuard.Events;
using TrainGuard.Findings;
using TrainGuard.Integrity.Keys;
using TrainGuard.Integrity.Manifests;
using TrainGuard.Parsing;
using TrainGuard.Rules;

namespace TrainGuard.Checkpoints.Signing;

/// <summary>What <c>ckpt sign</c> signs and where it writes the signature.</summary>
public sealed record CkptSignOptions
{
    /// <summary>A checkpoint folder (e.g. <c>checkpoint-500/</c>) or a single file.</summary>
    public required string Path { get; init; }

    public required ECDsa PrivateKey { get; init; }

    /// <summary>Null: <see cref="CheckpointSigning.DefaultSignaturePath"/>.</summary>
    public string? SignaturePath { get; init; }

    /// <summary>Paths left out of the manifest, relative to the checkpoint folder (or absolute); recorded in the signature.</summary>
    public IReadOnlyList<string> IgnorePaths { get; init; } = [];

    public IProgress<ModelHashProgress>? Progress { get; init; }

    /// <summary>When set, the manifest digest is recorded in the ledger after the signature is written.</summary>
    public LedgerConnection? Ledger { get; init; }

    /// <summary>For the ledger event: who signed and where (defaults: the current account and host).</summary>
    public string? UserName { get; init; }

    public string? HostName { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>The outcome of <c>ckpt sign</c>.</summary>
public sealed record CkptSignResult(string Path, string SignaturePath, string ModelName, int Files, long Bytes, string RootDigest, string ManifestDigest, string KeyHint, string EventId)
{
    /// <summary>Null when no ledger was asked.</summary>
    public LedgerRecordResult? Ledger { get; init; }

    public TimeSpan Elapsed { get; init; }
}

/// <summary>What <c>ckpt verify</c> checks.</summary>
public sealed record CkptVerifyOptions
{
    public required string Path { get; init; }

    /// <summary>Null: <see cref="CheckpointSigning.DefaultSignaturePath"/>.</summary>
    public string? SignaturePath { get; init; }

    /// <summary>The signer's public key; or <see cref="TrustedCertificates"/> for certificate signatures.</summary>
    public ECDsa? PublicKey { get; init; }

    public X509Certificate2Collection? TrustedCertificates { get; init; }

    public IReadOnlyList<string> IgnorePaths { get; init; } = [];

    public IProgress<ModelHashProgress>? Progress { get; init; }

    /// <summary>When set, the manifest must be recorded in this ledger (with a verifying inclusion proof).</summary>
    public LedgerConnection? Ledger { get; init; }
}

/// <summary>
/// <c>ckpt sign</c> / <c>ckpt verify</c>: a checkpoint folder or file hashed into a per-file SHA-256 manifest, signed in
/// the OpenSSF model-signing format (<see cref="ModelSigning"/>), optionally recorded in the TrainGuard ledger
/// (<see cref="CheckpointLedger"/>); verification reports every changed, added and deleted file, a bad signature, and
/// a manifest the ledger never recorded, as findings.
/// </summary>
public static class CheckpointSigning
{
    public const string VerifyCommand = "ckpt verify";

    /// <summary><c>model.sig</c> inside a folder, <c>PATH.sig</c> beside a file (model_signing's defaults).</summary>
    public static string DefaultSignaturePath(string path)
    {
        var full = System.IO.Path.GetFullPath(path).TrimEnd('/');
        return Directory.Exists(full) ? System.IO.Path.Combine(full, "model.sig") : full + ".sig";
    }

    /// <summary>
    /// Hashes and signs the checkpoint, writes the signature (atomically: a temporary file renamed over it), then, when
    /// a ledger is given, records the manifest digest. A ledger failure throws after the signature is written.
    /// </summary>
    /// <exception cref="HttpRequestException">The ledger could not record it (the signature file is written).</exception>
    public static async Task<CkptSignResult> SignAsync(CkptSignOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clock = Stopwatch.StartNew();
        var root = System.IO.Path.GetFullPath(options.Path).TrimEnd('/');
        var signaturePath = System.IO.Path.GetFullPath(options.SignaturePath ?? DefaultSignaturePath(root));
        var manifest = await ModelSigning.CreateManifestAsync(root, options.IgnorePaths, signaturePath, options.Progress, cancellationToken);
        var bundle = ModelSigning.SignManifest(manifest, options.PrivateKey);
        var temp = signaturePath + ".tmp";
        await File.WriteAllTextAsync(temp, bundle, cancellationToken);
        File.Move(temp, signaturePath, overwrite: true);

        var bytes = TotalBytes(root, manifest);
        var hint = SigningKeys.Hint(options.PrivateKey);
        var signedEvent = CheckpointLedger.SignedEvent(manifest, root, signaturePath, hint, bytes, options.Time.GetUtcNow(),
            options.UserName ?? Environment.UserName, options.HostName ?? Environment.MachineName);
        LedgerRecordResult? recorded = null;
        if (options.Ledger is { } ledger)
        {
            recorded = await CheckpointLedger.RecordAsync(ledger, signedEvent, cancellationToken);
        }

        return new CkptSignResult(root, signaturePath, manifest.ModelName, manifest.Resources.Count, bytes, Convert.ToHexStringLower(manifest.RootDigest()),
            CheckpointLedger.ManifestDigest(manifest), hint, signedEvent.Id)
        {
            Ledger = recorded,
            Elapsed = clock.Elapsed,
        };
    }

    /// <summary>Verifies the signature, re-hashes the checkpoint and, with a ledger, checks the manifest was recorded. Never throws for what it finds.</summary>
    public static async Task<Report> VerifyAsync(CkptVerifyOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var root = System.IO.Path.GetFullPath(options.Path).TrimEnd('/');
        var signaturePath = System.IO.Path.GetFullPath(options.SignaturePath ?? DefaultSignaturePath(root));
        var isFolder = Directory.Exists(root);
        var verifyOptions = new ModelVerifyOptions
        {
            PublicKey = options.PublicKey,
            TrustedCertificates = options.TrustedCertificates,
            IgnorePaths = options.IgnorePaths,
            Progress = options.Progress,
        };
        ModelVerificationResult result;
        try
        {
            result = await ModelSigning.VerifyAsync(root, signaturePath, verifyOptions, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            result = new ModelVerificationResult { SignatureValid = true, Error = ex.Message };
        }

        var signatureFindings = new List<Finding>();
        var signatureMembers = new List<string>();
        var items = new List<AnalyzedItem>();
        if (!result.SignatureValid)
        {
            signatureFindings.Add(CkptSignRules.SignatureInvalid.Finding($"signature {System.IO.Path.GetFileName(signaturePath)} rejected: {result.SignatureError}", new Location(signaturePath)));
        }
        else if (result.Error is not null)
        {
            signatureFindings.Add(CkptSignRules.Unverifiable.Finding($"{root} could not be hashed as the signature describes: {result.Error}", new Location(root)));
        }
        else if (result.Manifest is { } manifest)
        {
            items.AddRange(FileItems(root, isFolder, manifest, result));
            signatureMembers.Add($"signature verified: signed by {result.Signer}; {manifest.Resources.Count} file(s) in the manifest of '{manifest.ModelName}'");
            signatureMembers.AddRange(result.Notes);
            var digest = CheckpointLedger.ManifestDigest(manifest);
            signatureMembers.Add($"{ManifestDigestNote}{digest}, ledger event id {CheckpointLedger.EventIdFor(digest)}");
            if (options.Ledger is { } ledger)
            {
                await CheckLedgerAsync(ledger, digest, signaturePath, signatureFindings, signatureMembers, cancellationToken);
            }
        }

        var findingsVerdict = signatureFindings.Aggregate(Verdict.Clean, (v, f) => v.Combine(f.Verdict));
        items.Insert(0, new AnalyzedItem
        {
            Path = signaturePath,
            Format = "model-signing-bundle",
            Verdict = findingsVerdict,
            Findings = signatureFindings,
            Members = signatureMembers,
        });
        return new Report
        {
            Command = VerifyCommand,
            Items = items,
            ItemsName = "files",
            Rules = CkptSignRules.Descriptors,
            StartedAt = started,
            Elapsed = clock.Elapsed,
        };
    }

    /// <summary>How the verify report's signature item names the manifest digest (read back by <see cref="VerifiedEvent"/>).</summary>
    private const string ManifestDigestNote = "manifest digest ";

    /// <summary>
    /// A <c>checkpoint-verified</c> event (docs/events.md) summarising a verify report: the checkpoint, the manifest
    /// digest when the signature verified, the rules that fired and the changed, added and deleted files.
    /// </summary>
    public static EventRecord VerifiedEvent(string checkpointPath, Report report, DateTimeOffset timestamp)
    {
        ArgumentNullException.ThrowIfNull(report);
        var findings = report.Items.SelectMany(i => i.Findings.Select(f => (i.Path, Finding: f))).ToList();
        var worst = report.Items.Aggregate(Verdict.Clean, (v, i) => v.Combine(i.Verdict));
        var e = new EventRecord(timestamp, EventActions.CheckpointVerified, EventKinds.State);
        e.Set(EventFields.Category, ["file"]).Set(EventFields.Type, ["info"]);
        e.Set(EventFields.Module, "ckpt").Set(EventFields.Dataset, "ckpt");
        e.Set("file.path", System.IO.Path.GetFullPath(checkpointPath));
        e.Set(EventFields.Outcome, worst == Verdict.Clean ? EventOutcomes.Success : EventOutcomes.Failure);
        e.Set("trainguard.ckpt.verdict", worst.ToWireName());
        var digest = report.Items.FirstOrDefault()?.Members?.FirstOrDefault(m => m.StartsWith(ManifestDigestNote, StringComparison.Ordinal)) is { } note
            ? note[ManifestDigestNote.Length..].Split(',')[0]
            : null;
        e.Set("trainguard.ckpt.manifest_digest", digest);
        e.Set("trainguard.ckpt.rules", findings.Select(f => f.Finding.RuleId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
        e.Set("trainguard.ckpt.changed", FilesFor(CkptSignRules.FileChanged));
        e.Set("trainguard.ckpt.added", FilesFor(CkptSignRules.FileAdded));
        e.Set("trainguard.ckpt.deleted", FilesFor(CkptSignRules.FileDeleted));
        return e;

        IEnumerable<string> FilesFor(RuleDefinition rule) =>
            findings.Where(f => f.Finding.RuleId == rule.Id).Select(f => f.Path);
    }

    private static async Task CheckLedgerAsync(LedgerConnection ledger, string digest, string signaturePath, List<Finding> findings, List<string> members, CancellationToken cancellationToken)
    {
        var id = CheckpointLedger.EventIdFor(digest);
        var where = new Location(signaturePath);
        LedgerRecord? record;
        try
        {
            record = await CheckpointLedger.FetchAsync(ledger, id, cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or MalformedInputException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            var why = ex is TaskCanceledException ? "no answer before the timeout" : ex.Message;
            findings.Add(CkptSignRules.LedgerUnavailable.Finding($"the ledger at {ledger.Server} could not be asked whether manifest {digest} was recorded: {why}", where,
                new Dictionary<string, string> { ["ledger"] = ledger.Server.ToString(), ["event_id"] = id, ["manifest_digest"] = digest }));
            return;
        }

        if (record is null)
        {
            findings.Add(CkptSignRules.LedgerRecordMissing.Finding($"the signature verifies but the ledger at {ledger.Server} never recorded manifest {digest}: the checkpoint was signed without being recorded (re-signed?)", where,
                new Dictionary<string, string> { ["ledger"] = ledger.Server.ToString(), ["event_id"] = id, ["manifest_digest"] = digest }));
            return;
        }

        var evidence = new Dictionary<string, string>
        {
            ["ledger"] = ledger.Server.ToString(),
            ["event_id"] = record.EventId,
            ["index"] = record.Index.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["manifest_digest"] = digest,
            ["recorded_digest"] = record.RecordedDigest ?? string.Empty,
            ["recorded_by"] = record.UserName ?? string.Empty,
            ["recorded_host"] = record.HostName ?? string.Empty,
            ["recorded_at"] = record.Timestamp ?? string.Empty,
        };
        if (record.ProofProblem is { } problem)
        {
            findings.Add(CkptSignRules.LedgerProofInvalid.Finding($"the ledger's record of manifest {digest} is not proven: {problem}", where, evidence));
            members.Add(record.KeySource);
            return;
        }

        if (record.RecordedDigest != digest || record.Action != CheckpointLedger.SignedAction)
        {
            findings.Add(CkptSignRules.LedgerRecordMismatch.Finding(
                $"ledger event {record.EventId} (leaf {record.Index}, {record.Action ?? "no action"}) records digest {record.RecordedDigest ?? "(none)"}, not this manifest's {digest}", where, evidence));
            return;
        }

        members.Add($"recorded in the ledger: leaf {record.Index} (event {record.EventId}) by {record.UserName ?? "?"} on {record.HostName ?? "?"} at {record.Timestamp ?? "?"}; inclusion proof verified against the signed checkpoint of size {record.TreeSize}");
        members.Add(record.KeySource);
    }

    private static IEnumerable<AnalyzedItem> FileItems(string root, bool isFolder, ModelManifest manifest, ModelVerificationResult result)
    {
        var changed = result.Changed.ToHashSet(StringComparer.Ordinal);
        var want = manifest.ByName();
        string Full(string name) => isFolder && name != "." ? System.IO.Path.Combine(root, name) : root;

        foreach (var resource in manifest.Resources)
        {
            var path = Full(resource.Name);
            if (changed.Contains(resource.Name))
            {
                var finding = CkptSignRules.FileChanged.Finding($"{resource.Name} changed since it was signed", new Location(path),
                    new Dictionary<string, string> { ["expected"] = resource.DigestHex, ["modified"] = Mtime(path) });
                yield return new AnalyzedItem { Path = path, Format = "checkpoint-file", Verdict = finding.Verdict, Findings = [finding], Size = Size(path) };
            }
            else if (!result.Deleted.Contains(resource.Name, StringComparer.Ordinal))
            {
                yield return new AnalyzedItem { Path = path, Format = "checkpoint-file", Verdict = Verdict.Clean, Sha256 = resource.DigestHex, Size = Size(path) };
            }
        }

        foreach (var name in result.Deleted)
        {
            var path = Full(name);
            var finding = CkptSignRules.FileDeleted.Finding($"{name} was deleted since it was signed", new Location(path),
                new Dictionary<string, string> { ["expected"] = want[name].DigestHex });
            yield return new AnalyzedItem { Path = path, Format = "checkpoint-file", Verdict = finding.Verdict, Findings = [finding] };
        }

        foreach (var name in result.Added)
        {
            var path = Full(name);
            var finding = CkptSignRules.FileAdded.Finding($"{name} was added since the checkpoint was signed", new Location(path),
                new Dictionary<string, string> { ["modified"] = Mtime(path) });
            yield return new AnalyzedItem { Path = path, Format = "checkpoint-file", Verdict = finding.Verdict, Findings = [finding], Size = Size(path) };
        }
    }

    private static long TotalBytes(string root, ModelManifest manifest)
    {
        long total = 0;
        foreach (var resource in manifest.Resources)
        {
            total += Size(resource.Name == "." ? root : System.IO.Path.Combine(root, resource.Name)) ?? 0;
        }

        return total;
    }

    private static long? Size(string path)
    {
        try
        {
            var info = new FileInfo(path);
            return info.Exists ? info.Length : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string Mtime(string path)
    {
        try
        {
            return File.Exists(path) ? File.GetLastWriteTimeUtc(path).ToString("O", System.Globalization.CultureInfo.InvariantCulture) : string.Empty;
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }
}
