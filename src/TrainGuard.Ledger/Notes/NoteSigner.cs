using System.Text;
using NSec.Cryptography;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Notes;

/// <summary>
/// An Ed25519 signed-note signer. Its key string is <c>PRIVATE+KEY+&lt;name&gt;+&lt;hex key ID&gt;+&lt;base64(0x01 || seed)&gt;</c>
/// as golang.org/x/mod/sumdb/note writes it; keep that string secret.
/// </summary>
public sealed class NoteSigner : IDisposable
{
    private const string PrivatePrefix = "PRIVATE";
    private const string KeyPrefix = "KEY";

    private readonly Key _key;

    private NoteSigner(string name, Key key)
    {
        Name = name;
        _key = key;
        Verifier = NoteVerifier.FromPublicKey(name, key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    /// <summary>The key name written in signature lines.</summary>
    public string Name { get; }

    /// <summary>The key ID of the public half.</summary>
    public uint KeyId => Verifier.KeyId;

    /// <summary>The matching verifier (safe to publish).</summary>
    public NoteVerifier Verifier { get; }

    /// <summary>The public verifier key string.</summary>
    public string VerifierKey => Verifier.VerifierKey;

    /// <summary>The private signer key string. Secret.</summary>
    public string SignerKey
    {
        get
        {
            var seed = _key.Export(KeyBlobFormat.RawPrivateKey);
            try
            {
                return $"{PrivatePrefix}+{KeyPrefix}+{Name}+{KeyId:x8}+{Convert.ToBase64String([NoteEncoding.Ed25519Type, .. seed])}";
            }
            finally
            {
                Array.Clear(seed);
            }
        }
    }

    /// <summary>Generates a fresh Ed25519 key for <paramref name="name"/>.</summary>
    public static NoteSigner Generate(string name)
    {
        CheckName(name);
        var key = Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return new NoteSigner(name, key);
    }

    /// <summary>Builds a signer from a key name and a 32-byte Ed25519 seed.</summary>
    public static NoteSigner FromSeed(string name, ReadOnlySpan<byte> seed)
    {
        CheckName(name);
        if (seed.Length != NoteEncoding.Ed25519KeySize)
        {
            throw new ArgumentException("an Ed25519 seed is 32 bytes", nameof(seed));
        }

        return new NoteSigner(name, ImportSeed(seed));
    }

    /// <summary>Parses a signer key string; anything malformed or inconsistent throws <see cref="MalformedInputException"/>.</summary>
    public static NoteSigner Parse(string signerKey)
    {
        ArgumentNullException.ThrowIfNull(signerKey);
        var (private1, rest1) = NoteEncoding.Chop(signerKey, '+');
        var (private2, rest2) = NoteEncoding.Chop(rest1, '+');
        var (name, rest3) = NoteEncoding.Chop(rest2, '+');
        var (hex, key64) = NoteEncoding.Chop(rest3, '+');
        if (!string.Equals(private1, PrivatePrefix, StringComparison.Ordinal) || !string.Equals(private2, KeyPrefix, StringComparison.Ordinal))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "signer key: must start with PRIVATE+KEY+", 0);
        }

        var nameOffset = PrivatePrefix.Length + KeyPrefix.Length + 2;
        if (!NoteEncoding.IsValidKeyName(name))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "signer key: the key name is empty or contains a space or '+'", nameOffset);
        }

        var keyIdOffset = nameOffset + name.Length + 1;
        if (!NoteEncoding.TryParseKeyId(hex, out var keyId))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "signer key: the key ID must be exactly 8 hex digits", keyIdOffset);
        }

        var keyOffset = keyIdOffset + hex.Length + 1;
        if (!NoteEncoding.TryDecodeBase64(key64, out var typed) || typed.Length == 0)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "signer key: the private key is not standard base64", keyOffset);
        }

        try
        {
            if (typed[0] != NoteEncoding.Ed25519Type)
            {
                MalformedInputException.Throw(InputErrorKind.Unsupported, $"signer key: unsupported signature type 0x{typed[0]:x2} (only Ed25519, 0x01)", keyOffset);
            }

            if (typed.Length != 1 + NoteEncoding.Ed25519KeySize)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "signer key: an Ed25519 seed is 32 bytes", keyOffset);
            }

            var signer = new NoteSigner(name, ImportSeed(typed.AsSpan(1)));
            if (signer.KeyId != keyId)
            {
                signer.Dispose();
                MalformedInputException.Throw(InputErrorKind.Corrupt, "signer key: the key ID does not match the name and the derived public key", keyIdOffset);
            }

            return signer;
        }
        finally
        {
            Array.Clear(typed);
        }
    }

    /// <summary>Signs <paramref name="message"/> and returns the 64-byte Ed25519 signature.</summary>
    public byte[] Sign(ReadOnlySpan<byte> message) => SignatureAlgorithm.Ed25519.Sign(_key, message);

    /// <summary>The signature line for <paramref name="text"/>: <c>— name base64(keyid || signature)</c> plus newline.</summary>
    internal string SignatureLine(string text)
    {
        var signature = Sign(Encoding.UTF8.GetBytes(text));
        var keyId = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(keyId, KeyId);
        return $"{SignedNote.SignaturePrefix}{Name} {Convert.ToBase64String([.. keyId, .. signature])}\n";
    }

    public void Dispose() => _key.Dispose();

    public override string ToString() => VerifierKey;

    private static Key ImportSeed(ReadOnlySpan<byte> seed) =>
        Key.Import(SignatureAlgorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });

    private static void CheckName(string name)
    {
        if (!NoteEncoding.IsValidKeyName(name))
        {
            throw new ArgumentException("key names must be non-empty without spaces or '+'", nameof(name));
        }
    }
}
