using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Checkpoints.Signing;
using TrainGuard.Cli.Output;
using TrainGuard.Findings;
using TrainGuard.Integrity.Keys;
using TrainGuard.Integrity.Manifests;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Notes;
using TrainGuard.Output;
using TrainGuard.Parsing;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard ckpt sign/verify</c>: signed per-file manifests of checkpoints, recorded in the ledger.</summary>
internal static class CkptSignCommands
{
    public const string TokenVariable = "TRAINGUARD_LEDGER_TOKEN";

    public static IEnumerable<Command> Create(TextWriter stdout, TextWriter stderr) => [Sign(stdout, stderr), Verify(stdout, stderr)];

    private sealed class LedgerOptions
    {
        public Option<string?> Url { get; } = new("--ledger") { Description = "Base URL of the TrainGuard server whose ledger records the manifest, e.g. http://ledger:8470." };

        public Option<string?> Token { get; } = new("--ledger-token") { Description = $"API token for --ledger (default: ${TokenVariable}, which keeps it out of the process list)." };

        public Option<int> Timeout { get; } = new("--timeout") { Description = "Seconds allowed for each ledger request.", DefaultValueFactory = _ => 30 };

        public void AddTo(Command command)
        {
            command.Options.Add(Url);
            command.Options.Add(Token);
            command.Options.Add(Timeout);
        }

        /// <summary>Null when --ledger was not given. The caller disposes the connection's <see cref="LedgerConnection.Api"/>.</summary>
        public LedgerConnection? Connect(ParseResult parse, NoteVerifier? pinnedKey = null)
        {
            if (parse.GetValue(Url) is not { } url)
            {
                return null;
            }

            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new CliException($"--ledger: '{url}' is not an http(s) URL");
            }

            var token = parse.GetValue(Token) ?? Environment.GetEnvironmentVariable(TokenVariable);
            var api = new TrainGuardApiClient(uri, token, TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(Timeout))));
            return new LedgerConnection(api) { PinnedKey = pinnedKey };
        }
    }

    private static Option<string[]> IgnorePathsOption() => new("--ignore-paths")
    {
        Description = "Paths to leave out of the manifest, relative to the checkpoint folder (or absolute); several may follow one --ignore-paths, as in model_signing. .git* and the signature file are always left out.",
        AllowMultipleArgumentsPerToken = true,
    };

    private static Command Sign(TextWriter stdout, TextWriter stderr)
    {
        var path = new Argument<string>("PATH") { Description = "A checkpoint folder (e.g. checkpoint-500/) or a single checkpoint file." };
        var key = new Option<FileInfo>("--key") { Description = "Private signing key (PEM; 'trainguard keys new' makes one).", Required = true };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Where to write the signature (default: model.sig inside a folder, PATH.sig beside a file)." };
        var ignore = IgnorePathsOption();
        var ledger = new LedgerOptions();
        var format = new Option<string>("--format", "-f") { Description = "text or json (the signing result as one JSON object).", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var noProgress = new Option<bool>("--no-progress") { Description = "Never show a progress bar." };
        var command = new Command("sign", """
            Sign a checkpoint: every file's SHA-256 in a manifest, signed in the OpenSSF model-signing format (a Sigstore
            bundle: DSSE envelope over an in-toto statement, the format sigstore/model-transparency's 'model_signing sign
            key' writes). With --ledger, the manifest digest is also recorded in the TrainGuard ledger as a
            'checkpoint-signed' event, so 'ckpt verify --ledger' can later prove this exact content was recorded when it
            was saved, and catch a tampered checkpoint re-signed with a stolen key. Signing the same content again is fine.

            Examples:
              trainguard keys new -o keys/
              trainguard ckpt sign runs/exp1/checkpoint-500 --key keys/trainguard.key
                  writes runs/exp1/checkpoint-500/model.sig
              trainguard ckpt sign model.safetensors --key keys/trainguard.key          writes model.safetensors.sig
              TRAINGUARD_LEDGER_TOKEN=tgt_... trainguard ckpt sign checkpoint-500 --key keys/trainguard.key \
                  --ledger http://ledger:8470                                   needs an agent or admin token
              trainguard ckpt sign checkpoint-500 --key k.key --ignore-paths logs runs.txt -o /signatures/ckpt500.sig

            Exit codes: 0 signed (and recorded), 1 the ledger holds a different manifest under this manifest's id,
            2 error (unreadable checkpoint or key, ledger unreachable or refused: the signature is still written).
            """);
        command.Arguments.Add(path);
        foreach (var option in new Option[] { key, output, ignore, format, noProgress })
        {
            command.Options.Add(option);
        }

        ledger.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var root = ExistingPath(parse.GetValue(path)!);
            var keyFile = EnvCommand.ExistingFile(parse.GetValue(key), "--key")!;
            using var privateKey = LoadKey(() => SigningKeys.LoadPrivateKeyFile(keyFile), "--key", keyFile, "a PEM private key");
            var signaturePath = parse.GetValue(output)?.FullName ?? CheckpointSigning.DefaultSignaturePath(root);
            if (Path.GetDirectoryName(signaturePath) is { } folder && !Directory.Exists(folder))
            {
                throw new CliException($"--output: folder {folder} does not exist");
            }

            var connection = ledger.Connect(parse);
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
                throw new CliException($"--ledger {connection.Server}: {why}. The signature was written to {signaturePath} but NOT recorded in the ledger; run the same command again when the ledger is reachable.", ex);
            }

            WriteSignResult(parse.GetValue(format) == "json", result, stdout);
            if (result.Ledger?.Warning is { } warning)
            {
                await stderr.WriteLineAsync($"trainguard: warning: {warning}");
                return result.Ledger.Existing is null ? ExitCodes.Clean : ExitCodes.Findings;
            }

            return ExitCodes.Clean;
        });
        return command;
    }

    private static Command Verify(TextWriter stdout, TextWriter stderr)
    {
        var path = new Argument<string>("PATH") { Description = "The checkpoint folder or file that was signed." };
        var sig = new Option<FileInfo?>("--sig") { Description = "The signature (default: model.sig inside a folder, PATH.sig beside a file)." };
        var key = new Option<FileInfo?>("--key") { Description = "Public key (PEM) that must have signed it." };
        var chain = new Option<FileInfo[]>("--cert-chain")
        {
            Description = "For certificate signatures: PEM file(s) of the trusted CA certificates (root and intermediates; repeatable). The signing certificate must chain to them, checked at the signing time the bundle gives; the system trust store is never used.",
            AllowMultipleArgumentsPerToken = true,
        };
        var ignore = IgnorePathsOption();
        ignore.Description = "Paths to leave out when re-hashing, besides those the signature lists (e.g. --ignore-paths ignore-me).";
        var ledger = new LedgerOptions();
        var ledgerKey = new Option<string?>("--ledger-key") { Description = "The log's verifier key (name+keyid+base64, from 'trainguard server key show'), or a file holding it. Without it the key the server announces is used, which only proves the server is self-consistent." };
        var noProgress = new Option<bool>("--no-progress") { Description = "Never show a progress bar." };
        var events = new Option<FileInfo?>("--events") { Description = "Append a 'checkpoint-verified' event (one JSON line, docs/events.md) to FILE: the manifest digest, the rules that fired, the changed, added and deleted files." };
        var output = new ReportOutput();
        var command = new Command("verify", """
            Verify a checkpoint against its signature before loading it: the signature (with --key, or with --cert-chain for
            certificate signatures), then every file's SHA-256. Every changed, added and deleted file is a finding; so is a
            bad signature. With --ledger, the manifest must also be recorded in the TrainGuard ledger, proven by an
            inclusion proof against a signed log checkpoint: a tampered checkpoint re-signed with a stolen key verifies
            but was never recorded, and is reported (TG-CKP-006). Rules: docs/rules/TG-CKP-0xx.md.

            Examples:
              trainguard ckpt verify runs/exp1/checkpoint-500 --key keys/trainguard.pub
              trainguard ckpt verify model.safetensors --sig model.safetensors.sig --key keys/trainguard.pub
              trainguard ckpt verify v1.0.1-certificate --cert-chain ca-cert.pem int-ca-cert.pem --ignore-paths ignore-me
              TRAINGUARD_LEDGER_TOKEN=tgt_... trainguard ckpt verify checkpoint-500 --key keys/trainguard.pub \
                  --ledger http://ledger:8470 --ledger-key "$(cat log.vkey)"          needs a reader or admin token
              trainguard ckpt verify checkpoint-500 --key k.pub --format sarif -o verify.sarif
              trainguard ckpt verify checkpoint-500 --key k.pub --events /var/log/trainguard/ckpt.jsonl

            Exit codes: 0 verified (and recorded), 1 findings (changed, added or deleted files; manifest not or
            differently recorded), 2 error (bad signature, untrusted certificate, unreadable checkpoint, ledger
            unreachable or its proof invalid, bad usage).
            """);
        command.Arguments.Add(path);
        foreach (var option in new Option[] { sig, key, chain, ignore, ledgerKey, noProgress, events })
        {
            command.Options.Add(option);
        }

        ledger.AddTo(command);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var root = ExistingPath(parse.GetValue(path)!);
            var signaturePath = EnvCommand.ExistingFile(parse.GetValue(sig), "--sig") ?? CheckpointSigning.DefaultSignaturePath(root);
            if (!File.Exists(signaturePath))
            {
                throw new CliException($"no signature at {signaturePath}; name it with --sig");
            }

            var keyFile = EnvCommand.ExistingFile(parse.GetValue(key), "--key");
            var chainFiles = parse.GetValue(chain) ?? [];
            if (keyFile is null && chainFiles.Length == 0)
            {
                throw new CliException("give the signer's public key (--key PUB.pem) or, for certificate signatures, the trusted CA certificates (--cert-chain CA.pem)");
            }

            using var publicKey = keyFile is null ? null : LoadKey(() => SigningKeys.LoadPublicKeyFile(keyFile), "--key", keyFile, "a PEM public key or certificate");
            var trusted = chainFiles.Length == 0 ? null : LoadCertificates(chainFiles);
            try
            {
                var pinned = parse.GetValue(ledgerKey) is { } k ? ParseLogKey(k) : null;
                var connection = ledger.Connect(parse, pinned);
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
                if (parse.GetValue(events) is { } eventsFile)
                {
                    if (eventsFile.Directory is { Exists: false } directory)
                    {
                        throw new CliException($"--events: folder {directory.FullName} does not exist");
                    }

                    await File.AppendAllTextAsync(eventsFile.FullName, CheckpointSigning.VerifiedEvent(root, report, DateTimeOffset.UtcNow).ToJsonLine() + "\n", ct);
                }

                var code = output.Write(parse, report, stdout, stderr);
                if (ReportOutput.ParseFormat(parse.GetValue(output.Format)) == OutputFormat.Text && parse.GetValue(output.OutputFile) is null)
                {
                    // The text writer lists items and findings; what was proven (signer, chain, ledger record) follows.
                    foreach (var note in report.Items[0].Members ?? [])
                    {
                        await stdout.WriteLineAsync("  " + TextSanitizer.Escape(note, 600));
                    }
                }

                return code;
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

    private static string ExistingPath(string value)
    {
        var full = Path.GetFullPath(value);
        return File.Exists(full) || Directory.Exists(full) ? full.TrimEnd('/') : throw new CliException($"PATH: {full} does not exist");
    }

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

    private static NoteVerifier ParseLogKey(string value)
    {
        var text = File.Exists(value) ? File.ReadAllText(value).Trim() : value.Trim();
        try
        {
            return NoteVerifier.Parse(text);
        }
        catch (MalformedInputException ex)
        {
            throw new CliException($"--ledger-key: {ex.Message}", ex);
        }
    }

    private static void WriteSignResult(bool json, CkptSignResult result, TextWriter stdout)
    {
        if (json)
        {
            var obj = new JsonObject
            {
                ["command"] = "ckpt sign",
                ["path"] = result.Path,
                ["signature"] = result.SignaturePath,
                ["model_name"] = result.ModelName,
                ["files"] = result.Files,
                ["bytes"] = result.Bytes,
                ["root_digest"] = result.RootDigest,
                ["manifest_digest"] = result.ManifestDigest,
                ["key_hint"] = result.KeyHint,
                ["event_id"] = result.EventId,
                ["elapsed_ms"] = Math.Round(result.Elapsed.TotalMilliseconds, 1),
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
            }

            stdout.WriteLine(obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
            return;
        }

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

        stdout.WriteLine(string.Create(inv, $"  elapsed          {result.Elapsed.TotalSeconds:F2} s"));
    }
}
