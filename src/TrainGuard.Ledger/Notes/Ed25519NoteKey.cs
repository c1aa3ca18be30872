using NSec.Cryptography;

namespace TrainGuard.Ledger.Notes;

/// <summary>
/// The public half of an Ed25519 key in the signed-note key layout: a name, a signature type byte, the 32-byte key,
/// and the key ID SHA-256(name || 0x0A || type || key)[:4]. Log keys (<see cref="NoteVerifier"/>, type 0x01) and
/// witness keys (<see cref="CosignerVerifier"/>, type 0x04) differ only in the type and in what they sign.
/// </summary>
public abstract class Ed25519NoteKey
{
    private readonly PublicKey _publicKey;
    private readonly byte _type;

    private protected Ed25519NoteKey(string name, byte type, ReadOnlySpan<byte> publicKey)
    {
        if (!NoteEncoding.IsValidKeyName(name))
        {
            throw new ArgumentException("key names must be non-empty without spaces or '+'", nameof(name));
        }

        if (publicKey.Length != NoteEncoding.Ed25519KeySize)
        {
            throw new ArgumentException("an Ed25519 public key is 32 bytes", nameof(publicKey));
        }

        Name = name;
        _type = type;
        PublicKeyBytes = publicKey.ToArray();
        KeyId = NoteEncoding.KeyId(name, [type, .. publicKey]);
        _publicKey = PublicKey.Import(SignatureAlgorithm.Ed25519, publicKey, KeyBlobFormat.RawPublicKey);
    }

    /// <summary>The key name that appears in signature lines.</summary>
    public string Name { get; }

    /// <summary>First four bytes of SHA-256(name || 0x0A || type || public key), big-endian.</summary>
    public uint KeyId { get; }

    /// <summary>The raw 32-byte Ed25519 public key.</summary>
    public byte[] PublicKeyBytes { get; }

    /// <summary>The verifier key string (<c>name+keyid+base64(type || key)</c>).</summary>
    public string VerifierKey => NoteEncoding.FormatKeyString(isPrivate: false, Name, KeyId, _type, PublicKeyBytes);

    /// <summary>True when <paramref name="signature"/> names this key (name and key ID): only then is it checked.</summary>
    public bool Names(NoteSignature signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        return signature.KeyId == KeyId && string.Equals(signature.KeyName, Name, StringComparison.Ordinal);
    }

    public override string ToString() => VerifierKey;

    /// <summary>Checks a raw 64-byte Ed25519 signature over <paramref name="message"/>.</summary>
    private protected bool VerifyEd25519(ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature) =>
        signature.Length == NoteEncoding.Ed25519SignatureSize && SignatureAlgorithm.Ed25519.Verify(_publicKey, message, signature);

    /// <summary>Generates, imports and exports the private halves (<see cref="NoteSigner"/>, <see cref="Cosigner"/>).</summary>
    internal static class Private
    {
        public static Key Generate() =>
            Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });

        public static Key Import(ReadOnlySpan<byte> seed) =>
            Key.Import(SignatureAlgorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });

        public static byte[] PublicKey(Key key) => key.PublicKey.Export(KeyBlobFormat.RawPublicKey);

        /// <summary>The private key string <c>PRIVATE+KEY+name+keyid+base64(type || seed)</c>. Secret.</summary>
        public static string Export(Key key, string name, uint keyId, byte type)
        {
            var seed = key.Export(KeyBlobFormat.RawPrivateKey);
            try
            {
                return NoteEncoding.FormatKeyString(isPrivate: true, name, keyId, type, seed);
            }
            finally
            {
                Array.Clear(seed);
            }
        }

        public static void CheckName(string name)
        {
            if (!NoteEncoding.IsValidKeyName(name))
            {
                throw new ArgumentException("key names must be non-empty without spaces or '+'", nameof(name));
            }
        }
    }
}
