using NSec.Cryptography;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Notes;

/// <summary>
/// An Ed25519 signed-note verifier key, written <c>&lt;name&gt;+&lt;hex key ID&gt;+&lt;base64(0x01 || public key)&gt;</c>
/// exactly as golang.org/x/mod/sumdb/note does.
/// </summary>
public sealed class NoteVerifier
{
    private readonly PublicKey _publicKey;

    private NoteVerifier(string name, uint keyId, byte[] publicKey)
    {
        Name = name;
        KeyId = keyId;
        PublicKeyBytes = publicKey;
        _publicKey = PublicKey.Import(SignatureAlgorithm.Ed25519, publicKey, KeyBlobFormat.RawPublicKey);
    }

    /// <summary>The key name that appears in signature lines.</summary>
    public string Name { get; }

    /// <summary>First four bytes of SHA-256(name || 0x0A || 0x01 || public key), big-endian.</summary>
    public uint KeyId { get; }

    /// <summary>The raw 32-byte Ed25519 public key.</summary>
    public byte[] PublicKeyBytes { get; }

    /// <summary>The verifier key string (<c>name+keyid+base64</c>).</summary>
    public string VerifierKey => $"{Name}+{KeyId:x8}+{Convert.ToBase64String([NoteEncoding.Ed25519Type, .. PublicKeyBytes])}";

    /// <summary>Builds a verifier from a key name and a raw 32-byte Ed25519 public key.</summary>
    public static NoteVerifier FromPublicKey(string name, ReadOnlySpan<byte> publicKey)
    {
        if (!NoteEncoding.IsValidKeyName(name))
        {
            throw new ArgumentException("key names must be non-empty without spaces or '+'", nameof(name));
        }

        if (publicKey.Length != NoteEncoding.Ed25519KeySize)
        {
            throw new ArgumentException("an Ed25519 public key is 32 bytes", nameof(publicKey));
        }

        byte[] typed = [NoteEncoding.Ed25519Type, .. publicKey];
        return new NoteVerifier(name, NoteEncoding.KeyId(name, typed), publicKey.ToArray());
    }

    /// <summary>Parses a verifier key string; anything malformed or inconsistent throws <see cref="MalformedInputException"/>.</summary>
    public static NoteVerifier Parse(string verifierKey)
    {
        ArgumentNullException.ThrowIfNull(verifierKey);
        var (name, rest) = NoteEncoding.Chop(verifierKey, '+');
        var (hex, key64) = NoteEncoding.Chop(rest, '+');
        var keyIdOffset = name.Length + 1;
        if (!NoteEncoding.IsValidKeyName(name))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "verifier key: the key name is empty or contains a space or '+'", 0);
        }

        if (!NoteEncoding.TryParseKeyId(hex, out var keyId))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "verifier key: the key ID must be exactly 8 hex digits", keyIdOffset);
        }

        var keyOffset = keyIdOffset + hex.Length + 1;
        if (!NoteEncoding.TryDecodeBase64(key64, out var typed) || typed.Length == 0)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "verifier key: the public key is not standard base64", keyOffset);
        }

        if (NoteEncoding.KeyId(name, typed) != keyId)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, "verifier key: the key ID does not match the name and public key", keyIdOffset);
        }

        if (typed[0] != NoteEncoding.Ed25519Type)
        {
            MalformedInputException.Throw(InputErrorKind.Unsupported, $"verifier key: unsupported signature type 0x{typed[0]:x2} (only Ed25519, 0x01)", keyOffset);
        }

        if (typed.Length != 1 + NoteEncoding.Ed25519KeySize)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "verifier key: an Ed25519 public key is 32 bytes", keyOffset);
        }

        return new NoteVerifier(name, keyId, typed[1..]);
    }

    /// <summary>Checks an Ed25519 signature (without the 4-byte key ID) over <paramref name="message"/>.</summary>
    public bool Verify(ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature) =>
        signature.Length == NoteEncoding.Ed25519SignatureSize && SignatureAlgorithm.Ed25519.Verify(_publicKey, message, signature);

    public override string ToString() => VerifierKey;
}
