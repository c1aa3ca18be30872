namespace TrainGuard.Ledger.Notes;

/// <summary>Outcome of checking a note's signatures against a set of known keys.</summary>
public enum NoteVerificationStatus
{
    /// <summary>At least one known key signed, and every known key's signature verified.</summary>
    Verified,

    /// <summary>No signature is by a known key: the text must be ignored.</summary>
    NoKnownSignature,

    /// <summary>A known key's signature failed: the note is forged or altered.</summary>
    InvalidSignature,

    /// <summary>The known-key list holds two keys with the same name and ID.</summary>
    AmbiguousKey,
}

/// <summary>Result of <see cref="SignedNote.Verify"/>; the note's text may be trusted only when <see cref="IsVerified"/>.</summary>
public sealed record NoteVerification(
    SignedNote Note,
    NoteVerificationStatus Status,
    IReadOnlyList<NoteSignature> VerifiedSignatures,
    IReadOnlyList<NoteSignature> UnverifiedSignatures,
    string? Problem)
{
    public bool IsVerified => Status == NoteVerificationStatus.Verified;
}
