using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Notes;

/// <summary>
/// An Ed25519 signed-note verifier key, written <c>&lt;name&gt;+&lt;hex key ID&gt;+&lt;base64(0x01 || public key)&gt;</c>
/// exactly as golang.org/x/mod/sumdb/note does.
/// </summary>
public sealed class NoteVerifier : Ed25519NoteKey
{
    private NoteVerifier(string name, ReadOnlySpan<byte> publicKey)
        : base(name, NoteEncoding.Ed25519Type, publicKey)
    {
    }

    /// <summary>Builds a verifier from a key name and a raw 32-byte Ed25519 public key.</summary>
    public static NoteVerifier FromPublicKey(string name, ReadOnlySpan<byte> publicKey) => new(name, publicKey);

    /// <summary>Parses a verifier key string; anything malformed or inconsistent throws <see cref="MalformedInputException"/>.</summary>
    public static NoteVerifier Parse(string verifierKey)
    {
        var parsed = NoteEncoding.ParseKeyString(verifierKey, isPrivate: false, NoteEncoding.Ed25519Type, "verifier key", "Ed25519");
        return new NoteVerifier(parsed.Name, parsed.Key);
    }

    /// <summary>Checks an Ed25519 signature (without the 4-byte key ID) over <paramref name="message"/>.</summary>
    public bool Verify(ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature) => VerifyEd25519(message, signature);
}
