using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Signing;
using TrainGuard.Cli.Options;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Integrity.Keys;
using TrainGuard.Integrity.Manifests;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Verification;
using TrainGuard.Output;
using TrainGuard.Parsing;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard ckpt sign/verify</c>: signed per-file manifests of checkpoints, recorded in the ledger.</summary>
internal static class CkptSignCommands
{
    public static IEnumerable<Command> Create(TextWriter stdout, TextWriter stderr) => [Sign(stdout, stderr), Verify(stdout, stderr)];

    /// <summary>The ledger connection <c>--server</c>/<c>--token</c> describe, or null without <c>--server</c>. The caller disposes the connection's <see cref="LedgerConnection.Api"/>.</summary>
    private static LedgerConnection? Connect(ServerClientOptions server, ParseResult parse, NoteVerifier? pinnedKey = null)
    {
        return server.CreateClient(parse) is { } api ? new LedgerConnection(api) { PinnedKey = pinnedKey } : null;
    }

    private static Command Sign(TextWriter stdout, TextWriter stderr)
    {
        var path = new Argument<string>("PATH") { Description = "A checkpoint folder (e.g. checkpoint-500/) or a single checkpoint file." };
        var key = CommonOptions.PrivateKey();
        var signature = CommonOptions.Signature("Where to write the signature (default: model.sig inside a folder, PATH.sig beside a file).");
        var ignore = CommonOptions.IgnorePaths("Paths to leave out of the manifest, relative to the checkpoint folder (or absolute); several may follow one --ignore-paths, as in model_signing. .git* and the signature file are always left out.");
        var server = new ServerClientOptions(required: false, "The manifest digest is recorded in its ledger (needs a signer token for you, or an agent or admin token).");
        var logKey = CommonOptions.LogKey(required: false, "With --server, the tree head acknowledging the record must be signed with it; without it the key the server announces is used.");
        var state = CommonOptions.StateDirectory();
        var noProgress = CommonOptions.NoProgress();
        var output = new ReportOptions(sarif: false);
        var command = new Command("sign", $"""
            Sign a checkpoint: every file's SHA-256 in a manifest, signed in the OpenSSF model-signing format (a Sigstore
            bundle: DSSE envelope over an in-toto statement, the format sigstore/model-transparency's 'model_signing sign
            key' writes). With --server, the manifest digest is also recorded in the TrainGuard ledger as a
            'checkpoint-signed' event, so 'ckpt verify --server' can later prove this exact content was recorded when it
            was saved, and catch a tampered checkpoint re-signed with a stolen key. Signing the same content again is fine.

            Examples:
              trainguard keys new --dir keys
              trainguard ckpt sign runs/exp1/checkpoint-500 --key keys/trainguard.key
                  writes runs/exp1/checkpoint-500/model.sig
              trainguard ckpt sign model.safetensors --key keys/trainguard.key          writes model.safetensors.sig
              trainguard ckpt sign checkpoint-500 --key keys/trainguard.key \
                  --server http://ledger:8470 --token-file signer.token             a signer token for you (server token create --role signer --user NAME)
              trainguard ckpt sign checkpoint-500 --key k.key --ignore-paths logs runs.txt --signature /signatures/ckpt500.sig

            The token may also come from ${CommonOptions.TokenVariable}.

            With --server, the signed tree head the ledger acknowledges the record with is checked against the one kept
            for that log in --state-dir (it must extend it, and cover the record); a ledger that was rolled back or
            shows another history is reported with both heads.

            Exit codes: 0 signed (and recorded), 1 the ledger holds a different manifest under this manifest's id, or its
            acknowledgement is not consistent with the tree head kept from before (rolled back or split view), 2 error
            (unreadable checkpoint or key, ledger unreachable or refused, a tree head not signed by the log key: the
            signature is still written).
            """);
        command.Arguments.Add(path);
        command.AddOptions(key, signature, ignore, logKey, state, noProgress);
        server.AddTo(command);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var started = DateTimeOffset.UtcNow;
            var root = InputValidation.ExistingPath(parse.GetValue(path)!, "PATH");
            var keyFile = InputValidation.ExistingFile(parse.GetValue(key), "--key")!;
            using var privateKey = LoadKey(() => SigningKeys.LoadPrivateKeyFile(keyFile), "--key", keyFile, "a PEM private key");
            var signaturePath = InputValidation.WritableFile(parse.GetValue(signature)?.FullName ?? CheckpointSigning.DefaultSignaturePath(root), "--signature");
            var connection = Connect(server, parse, parse.GetValue(logKey) is { } k ? InputValidation.LogKey(k) : null);
            using var _ = connection?.Api;
            var options = new CkptSignOptions
            {
                Path = root,
                PrivateKey = privateKey,
                SignaturePath = signaturePath,
                IgnorePaths = parse.GetValue(ignore) ?? [],
                Ledger = connection,
            };
            CkptSignResult result;
            try
            {
                result = !parse.GetValue(noProgress) && ProgressDisplay.CanShow(stderr)
                    ? await ProgressDisplay.RunAsync<ModelHashProgress, CkptSignResult>(stderr, p => CheckpointSigning.SignAsync(options with { Progress = p }, ct), Describe)
                    : await CheckpointSigning.SignAsync(options, ct);
            }
            catch (MalformedInputException ex)
            {
                throw new CliException($"{root}: {ex.Message}", ex);
            }
            catch (Exception ex) when (connection is not null && (ex is HttpRequestException or MalformedInputException || (ex is TaskCanceledException && !ct.IsCancellationRequested)))
            {
                var why = ex is TaskCanceledException ? "no answer before --timeout" : ex.Message;
                throw new CliException($"--server {connection.Server}: {why}. The signature was written to {signaturePath} but NOT recorded in the ledger; run the same command again when the ledger is reachable.", ex);
            }

            if (result.Ledger?.Warning is { } warning)
            {
                await stderr.WriteLineAsync($"trainguard: warning: {warning}");
            }

            var acknowledgement = connection is not null && result.Ledger is { } recorded
                ? await CheckAcknowledgementAsync(connection, recorded, CommonOptions.ResolveStateDirectory(parse.GetValue(state)), stderr, ct)
                : null;
            var conflict = result.Ledger is { Warning: not null, Existing: not null } || acknowledgement is { IsAcknowledged: false };
            var report = ResultReports.Create("ckpt sign", result.Path, "signature", SignJson(result, acknowledgement), text => WriteSignText(result, acknowledgement, text), started, result.Elapsed, conflict ? ExitCodes.Findings : ExitCodes.Clean);
            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }

    private static Command Verify(TextWriter stdout, TextWriter stderr)
    {
        var path = new Argument<string>("PATH") { Description = "The checkpoint folder or file that was signed." };
        var signature = CommonOptions.Signature("The signature (default: model.sig inside a folder, PATH.sig beside a file).");
        var key = CommonOptions.PublicKey(required: false);
        var chain = new Option<FileInfo[]>("--cert-chain")
        {
            Description = "For certificate signatures: PEM file(s) of the trusted CA certificates (root and intermediates; repeatable). The signing certificate must chain to them, checked at the signing time the bundle gives; the system trust store is never used.",
            AllowMultipleArgumentsPerToken = true,
        };
        var ignore = CommonOptions.IgnorePaths("Paths to leave out when re-hashing, besides those the signature lists (e.g. --ignore-paths ignore-me).");
        var server = new ServerClientOptions(required: false, "The manifest must be recorded in its ledger, proven by an inclusion proof (needs a reader or admin token).");
        var logKey = CommonOptions.LogKey(required: false, "With --server, the ledger's tree heads must be signed with it; without it the key the server announces is used, which only proves the server is self-consistent.");
        var noProgress = CommonOptions.NoProgress();
        var events = new Option<FileInfo?>("--events") { Description = "Append a 'checkpoint-verified' event (one JSON line, docs/events.md) to FILE: the manifest digest, the rules that fired, the changed, added and deleted files." };
        var output = new ReportOptions(sarif: true);
        var command = new Command("verify", $"""
            Verify a checkpoint against its signature before loading it: the signature (with --key, or with --cert-chain for
            certificate signatures), then every file's SHA-256. Every changed, added and deleted file is a finding; so is a
            bad signature. With --server, the manifest must also be recorded in the TrainGuard ledger, proven by an
            inclusion proof against a signed tree head: a tampered checkpoint re-signed with a stolen key verifies
            but was never recorded, and is reported (TG-CKP-006). Rules: docs/rules/TG-CKP-0xx.md.

            Examples:
              trainguard ckpt verify runs/exp1/checkpoint-500 --key keys/trainguard.pub
              trainguard ckpt verify model.safetensors --signature model.safetensors.sig --key keys/trainguard.pub
              trainguard ckpt verify v1.0.1-certificate --cert-chain ca-cert.pem int-ca-cert.pem --ignore-paths ignore-me
              trainguard ckpt verify checkpoint-500 --key keys/trainguard.pub \
                  --server http://ledger:8470 --token-file reader.token --log-key log.vkey    needs a reader or admin token
              trainguard ckpt verify checkpoint-500 --key k.pub --format sarif -o verify.sarif
              trainguard ckpt verify checkpoint-500 --key k.pub --events /var/log/trainguard/ckpt.jsonl

            The token may also come from ${CommonOptions.TokenVariable}.

            Exit codes: 0 verified (and recorded), 1 findings (changed, added or deleted files; manifest not or
            differently recorded), 2 error (bad signature, untrusted certificate, unreadable checkpoint, ledger
            unreachable or its proof invalid, bad usage).
            """);
        command.Arguments.Add(path);
        command.AddOptions(signature, key, chain, ignore, logKey, noProgress, events);
        server.AddTo(command);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var root = InputValidation.ExistingPath(parse.GetValue(path)!, "PATH");
            var signaturePath = InputValidation.ExistingFile(parse.GetValue(signature), "--signature") ?? CheckpointSigning.DefaultSignaturePath(root);
            if (!File.Exists(signaturePath))
            {
                throw new CliException($"no signature at {signaturePath}; name it with --signature");
            }

            var keyFile = InputValidation.ExistingFile(parse.GetValue(key), "--key");
            var chainFiles = parse.GetValue(chain) ?? [];
            if (keyFile is null && chainFiles.Length == 0)
            {
                throw new CliException("give the signer's public key (--key PUB.pem) or, for certificate signatures, the trusted CA certificates (--cert-chain CA.pem)");
            }

            var eventsFile = parse.GetValue(events) is { } e ? InputValidation.WritableFile(e.FullName, "--events") : null;
            using var publicKey = keyFile is null ? null : LoadKey(() => SigningKeys.LoadPublicKeyFile(keyFile), "--key", keyFile, "a PEM public key or certificate");
            var trusted = chainFiles.Length == 0 ? null : LoadCertificates(chainFiles);
            try
            {
                var pinned = parse.GetValue(logKey) is { } k ? InputValidation.LogKey(k) : null;
                var connection = Connect(server, parse, pinned);
                using var _ = connection?.Api;
                var options = new CkptVerifyOptions
                {
                    Path = root,
                    SignaturePath = signaturePath,
                    PublicKey = publicKey,
                    TrustedCertificates = trusted,
                    IgnorePaths = parse.GetValue(ignore) ?? [],
                    Ledger = connection,
                };
                var report = !parse.GetValue(noProgress) && ProgressDisplay.CanShow(stderr)
                    ? await ProgressDisplay.RunAsync<ModelHashProgress, Report>(stderr, p => CheckpointSigning.VerifyAsync(options with { Progress = p }, ct), Describe)
                    : await CheckpointSigning.VerifyAsync(options, ct);
                if (eventsFile is not null)
                {
                    await File.AppendAllTextAsync(eventsFile, CheckpointSigning.VerifiedEvent(root, report, DateTimeOffset.UtcNow).ToJsonLine() + "\n", ct);
                }

                // The text writer lists items and findings; what was proven (signer, chain, ledger record) follows.
                var notes = report.Items[0].Members ?? [];
                var details = new CommandDetails(new JsonObject(), text =>
                {
                    foreach (var note in notes)
                    {
                        text.WriteLine("  " + TextSanitizer.Escape(note, 600));
                    }
                })
                { ReplacesItemText = false };
                return output.Write(parse, report with { Details = details }, stdout, stderr);
            }
            finally
            {
                if (trusted is not null)
                {
                    foreach (var certificate in trusted)
                    {
                        certificate.Dispose();
                    }
                }
            }
        });
        return command;
    }

    private static (double Done, double Total, string Label) Describe(ModelHashProgress p) =>
        (p.BytesDone, p.BytesTotal, $"hashing {p.FilesDone}/{p.FilesTotal} {p.LastFile}");

    private static ECDsa LoadKey(Func<ECDsa> load, string option, string file, string what)
    {
        try
        {
            return load();
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            throw new CliException($"{option}: {file} is not {what} on a supported curve (P-256, P-384, P-521): {ex.Message}", ex);
        }
    }

    private static X509Certificate2Collection LoadCertificates(FileInfo[] files)
    {
        var collection = new X509Certificate2Collection();
        foreach (var file in files)
        {
            if (!file.Exists)
            {
                throw new CliException($"--cert-chain: file {file.FullName} does not exist");
            }

            var before = collection.Count;
            try
            {
                collection.ImportFromPemFile(file.FullName);
            }
            catch (CryptographicException ex)
            {
                throw new CliException($"--cert-chain: {file.FullName} is not PEM certificates: {ex.Message}", ex);
            }

            if (collection.Count == before)
            {
                throw new CliException($"--cert-chain: {file.FullName} holds no PEM certificate");
            }
        }

        return collection;
    }

    /// <summary>The record's acknowledgement checked against the kept tree head; an untrusted head or a failed check is an error (exit 2).</summary>
    private static async Task<TreeHeadAcknowledgement?> CheckAcknowledgementAsync(LedgerConnection connection, LedgerRecordResult recorded, string stateDirectory, TextWriter stderr, CancellationToken ct)
    {
        TreeHeadAcknowledgement? acknowledgement;
        try
        {
            acknowledgement = await CheckpointLedger.CheckAcknowledgementAsync(connection, recorded, stateDirectory, ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or MalformedInputException)
        {
            throw new CliException($"--server {connection.Server}: the record (leaf {recorded.Index}) was made, but its acknowledgement could not be checked: {ex.Message}", ex);
        }

        if (acknowledgement is { Advance.Change: TreeHeadChange.Untrusted } untrusted)
        {
            throw new CliException($"--server {connection.Server}: the ledger answered the record (leaf {recorded.Index}) with a tree head that is no acknowledgement: {untrusted.Advance.Problem} (checked with the {untrusted.KeySource})");
        }

        if (acknowledgement is { IsAcknowledged: false } failed)
        {
            await stderr.WriteLineAsync(failed.Advance.IsEvidence
                ? $"trainguard: warning: the ledger's tree head is not consistent with the one kept in {failed.StateFile}: {failed.Advance.Problem}"
                : $"trainguard: warning: the ledger's tree head (size {failed.Advance.New?.Size}) does not cover the record at leaf {recorded.Index}");
        }

        return acknowledgement;
    }

    private static JsonObject SignJson(CkptSignResult result, TreeHeadAcknowledgement? acknowledgement)
    {
        var obj = new JsonObject
        {
            ["path"] = result.Path,
            ["signature"] = result.SignaturePath,
            ["model_name"] = result.ModelName,
            ["files"] = result.Files,
            ["bytes"] = result.Bytes,
            ["root_digest"] = result.RootDigest,
            ["manifest_digest"] = result.ManifestDigest,
            ["key_hint"] = result.KeyHint,
            ["event_id"] = result.EventId,
        };
        if (result.Ledger is { } recorded)
        {
            obj["ledger"] = new JsonObject
            {
                ["index"] = recorded.Index,
                ["already_recorded"] = recorded.AlreadyRecorded,
                ["recorded_by"] = recorded.Existing?.UserName,
                ["recorded_at"] = recorded.Existing?.Timestamp,
                ["warning"] = recorded.Warning,
            };
            if (acknowledgement is { } ack)
            {
                obj["ledger"]!["tree_head"] = new JsonObject
                {
                    ["size"] = ack.Advance.New?.Size,
                    ["change"] = TreeHeadEvidence.Change(ack.Advance.Change),
                    ["covers_record"] = ack.CoversEvent,
                    ["acknowledged"] = ack.IsAcknowledged,
                    ["key"] = ack.KeySource,
                    ["state_file"] = ack.StateFile,
                };
                if (ack.Advance.IsEvidence)
                {
                    obj["evidence"] = TreeHeadEvidence.Json(ack.Advance, null);
                }
            }
        }

        return obj;
    }

    private static void WriteSignText(CkptSignResult result, TreeHeadAcknowledgement? acknowledgement, TextWriter stdout)
    {
        var inv = CultureInfo.InvariantCulture;
        stdout.WriteLine(string.Create(inv, $"signed {result.ModelName}: {result.Files:N0} file(s), {result.Bytes:N0} bytes, key {result.KeyHint[..16]}…"));
        stdout.WriteLine($"  signature        {result.SignaturePath}");
        stdout.WriteLine($"  manifest digest  {result.ManifestDigest}");
        stdout.WriteLine($"  root digest      {result.RootDigest}");
        if (result.Ledger is { } ledger)
        {
            var line = ledger switch
            {
                { Warning: not null, Existing: not null } => $"CONFLICT: {ledger.Warning}",
                { Warning: not null } => $"already recorded; {ledger.Warning}",
                { AlreadyRecorded: true, Existing: { } e } => $"already recorded at leaf {e.Index} (event {e.EventId}) by {e.UserName ?? "?"} on {e.HostName ?? "?"} at {e.Timestamp ?? "?"}",
                { AlreadyRecorded: true } => string.Create(inv, $"already recorded at leaf {ledger.Index} (event {ledger.EventId})"),
                _ => string.Create(inv, $"recorded at leaf {ledger.Index} (event {ledger.EventId})"),
            };
            stdout.WriteLine($"  ledger           {line}");
        }

        if (acknowledgement is { } ack)
        {
            stdout.WriteLine(ack.IsAcknowledged
                ? string.Create(inv, $"  tree head        size {ack.Advance.New!.Size}, {TreeHeadEvidence.Change(ack.Advance.Change)}, consistent with the kept head ({ack.KeySource})")
                : string.Create(inv, $"  tree head        NOT AN ACKNOWLEDGEMENT: {ack.Advance.Problem ?? $"size {ack.Advance.New?.Size} does not cover the record"}"));
            if (ack.Advance.IsEvidence)
            {
                TreeHeadEvidence.WriteText(ack.Advance, null, stdout);
            }
        }

        stdout.WriteLine(string.Create(inv, $"  elapsed          {result.Elapsed.TotalSeconds:F2} s"));
    }
}
