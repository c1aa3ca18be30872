using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Notes;

/// <summary>
/// A witness's public key for C2SP <c>cosignature/v1</c>, written as a signed-note verifier key with signature type
/// 0x04: <c>&lt;name&gt;+&lt;hex key ID&gt;+&lt;base64(0x04 || public key)&gt;</c>, key ID =
/// SHA-256(name || 0x0A || 0x04 || public key)[:4].
/// </summary>
public sealed class CosignerVerifier : Ed25519NoteKey
{
    private CosignerVerifier(string name, ReadOnlySpan<byte> publicKey)
        : base(name, NoteEncoding.CosignatureV1Type, publicKey)
    {
    }

    /// <summary>Builds a verifier from a witness name and a raw 32-byte Ed25519 public key.</summary>
    public static CosignerVerifier FromPublicKey(string name, ReadOnlySpan<byte> publicKey) => new(name, publicKey);

    /// <summary>Parses a witness verifier key string; anything malformed or inconsistent throws <see cref="MalformedInputException"/>.</summary>
    public static CosignerVerifier Parse(string verifierKey)
    {
        var parsed = NoteEncoding.ParseKeyString(verifierKey, isPrivate: false, NoteEncoding.CosignatureV1Type, "witness verifier key", "cosignature/v1 Ed25519");
        return new CosignerVerifier(parsed.Name, parsed.Key);
    }

    /// <summary>
    /// Checks a signature line of this witness over <paramref name="noteText"/>: the cosignature with its time when
    /// it verifies, null when it does not (wrong key, malformed, timestamp above 2^63-1, or a bad signature).
    /// </summary>
    public Cosignature? Verify(string noteText, NoteSignature signature)
    {
        ArgumentNullException.ThrowIfNull(noteText);
        if (!Names(signature) || !Cosignature.TrySplit(signature.SignatureBytes.Span, out var seconds, out var ed25519) || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return null;
        }

        return VerifyEd25519(Cosignature.Message(noteText, seconds), ed25519)
            ? new Cosignature(Name, KeyId, DateTimeOffset.FromUnixTimeSeconds(seconds), signature.ToLine())
            : null;
    }
}
