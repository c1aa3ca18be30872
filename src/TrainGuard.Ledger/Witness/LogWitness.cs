using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Verification;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Witness;

/// <summary>One round of <see cref="LogWitness.RunOnceAsync"/>: what the server's head was, and what the witness did with it.</summary>
/// <param name="Advance">How the server's signed tree head relates to the one the witness kept.</param>
/// <param name="Cosignature">The witness's <c>cosignature/v1</c> line, when the head was consistent.</param>
/// <param name="Receipt">The server's answer to the submitted cosignature, when it was submitted.</param>
/// <param name="StateFile">Where the witness keeps its head of this log (null when the head was unusable).</param>
public sealed record WitnessRound(TreeHeadAdvance Advance, string? Cosignature, CosignatureReceipt? Receipt, string? StateFile, DateTimeOffset At)
{
    /// <summary>The head and the cosignature as one note (what a client would verify), when cosigned.</summary>
    public string? CosignedNote { get; init; }
}

/// <summary>
/// A C2SP witness that follows a TrainGuard server from the outside: each round fetches the server's signed tree head
/// (<c>/checkpoint</c>), checks it against the head it kept for that log (<see cref="TreeHeadTracker"/>, one file per
/// log origin and key under the state directory: a larger head needs a verified consistency proof, a smaller one is
/// a rollback, a diverging one a split view), and cosigns only a consistent head (C2SP <c>tlog-cosignature</c>,
/// <c>cosignature/v1</c>), optionally handing the cosignature to the server. A rollback or split view is never
/// cosigned and leaves the kept head untouched, so every later round reports it again.
/// </summary>
public sealed class LogWitness
{
    private readonly TrainGuardApiClient _server;
    private readonly NoteVerifier _logKey;
    private readonly Cosigner _cosigner;
    private readonly string _stateDirectory;
    private readonly TimeProvider _time;

    public LogWitness(TrainGuardApiClient server, NoteVerifier logKey, Cosigner cosigner, string stateDirectory, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(logKey);
        ArgumentNullException.ThrowIfNull(cosigner);
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        _server = server;
        _logKey = logKey;
        _cosigner = cosigner;
        _stateDirectory = stateDirectory;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// Fetches, checks, keeps and cosigns the server's current tree head; with <paramref name="submit"/> posts the
    /// cosignature to the server.
    /// </summary>
    /// <exception cref="TrainGuardApiException">The server could not be reached or answered with an error.</exception>
    /// <exception cref="MalformedInputException">An answer that is not what a TrainGuard server sends, or a kept head that is not signed by the log key.</exception>
    /// <exception cref="IOException">The state could not be written.</exception>
    public async Task<WitnessRound> RunOnceAsync(bool submit, CancellationToken cancellationToken = default)
    {
        var note = await _server.GetTreeHeadAsync(cancellationToken);
        var (advance, stateFile) = await TreeHeadTracker.AdvanceInDirectoryAsync(_stateDirectory, _logKey, note, _server.GetConsistencyProofAsync, cancellationToken);
        var at = _time.GetUtcNow();
        if (!advance.IsConsistent)
        {
            return new WitnessRound(advance, null, null, stateFile, at);
        }

        // Cosign the head's text; the cosigned note carries the log's own signature and the new cosignature.
        var signed = SignedNote.Parse(note);
        var line = _cosigner.Cosign(signed.Text, at);
        var logLines = string.Concat(signed.Signatures.Where(_logKey.Names).Select(s => s.ToLine()));
        var cosigned = signed.Text + "\n" + logLines + line;
        var receipt = submit ? await _server.SubmitCosignatureAsync(cosigned, cancellationToken) : null;
        return new WitnessRound(advance, line, receipt, stateFile, at) { CosignedNote = cosigned };
    }
}
