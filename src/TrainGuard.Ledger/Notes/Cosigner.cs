using System.Buffers.Binary;
using NSec.Cryptography;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Notes;

/// <summary>
/// A witness's Ed25519 key for C2SP <c>cosignature/v1</c> (signature type 0x04). Its key string is
/// <c>PRIVATE+KEY+&lt;name&gt;+&lt;hex key ID&gt;+&lt;base64(0x04 || seed)&gt;</c>, the signed-note layout with the
/// cosignature type byte; keep it secret. The name is the witness's identity (a schema-less URL by convention).
/// </summary>
public sealed class Cosigner : IDisposable
{
    private readonly Key _key;

    private Cosigner(string name, Key key)
    {
        Name = name;
        _key = key;
        Verifier = CosignerVerifier.FromPublicKey(name, Ed25519NoteKey.Private.PublicKey(key));
    }

    /// <summary>The witness name written in its cosignature lines.</summary>
    public string Name { get; }

    public uint KeyId => Verifier.KeyId;

    /// <summary>The public half, for the log's <c>--witness-key</c> and for clients.</summary>
    public CosignerVerifier Verifier { get; }

    /// <summary>The private key string. Secret.</summary>
    public string SignerKey => Ed25519NoteKey.Private.Export(_key, Name, KeyId, NoteEncoding.CosignatureV1Type);

    /// <summary>Generates a fresh witness key named <paramref name="name"/>.</summary>
    public static Cosigner Generate(string name)
    {
        Ed25519NoteKey.Private.CheckName(name);
        return new Cosigner(name, Ed25519NoteKey.Private.Generate());
    }

    /// <summary>Parses a witness key string; anything malformed or inconsistent throws <see cref="MalformedInputException"/>.</summary>
    public static Cosigner Parse(string signerKey)
    {
        var parsed = NoteEncoding.ParseKeyString(signerKey, isPrivate: true, NoteEncoding.CosignatureV1Type, "witness key", "cosignature/v1 Ed25519");
        try
        {
            var cosigner = new Cosigner(parsed.Name, Ed25519NoteKey.Private.Import(parsed.Key));
            if (cosigner.KeyId != parsed.KeyId)
            {
                cosigner.Dispose();
                MalformedInputException.Throw(InputErrorKind.Corrupt, "witness key: the key ID does not match the name and the derived public key", parsed.KeyIdOffset);
            }

            return cosigner;
        }
        finally
        {
            Array.Clear(parsed.Key);
        }
    }

    /// <summary>
    /// Cosigns a tree head: the signature line <c>— name base64(key ID || u64 timestamp || Ed25519 signature)</c> over
    /// <see cref="Cosignature.Message"/> of <paramref name="noteText"/> at <paramref name="time"/> (whole seconds).
    /// </summary>
    public string Cosign(string noteText, DateTimeOffset time)
    {
        SignedNote.CheckText(noteText);
        var seconds = time.ToUnixTimeSeconds();
        ArgumentOutOfRangeException.ThrowIfNegative(seconds, nameof(time));
        var signature = SignatureAlgorithm.Ed25519.Sign(_key, Cosignature.Message(noteText, seconds));
        var blob = new byte[4 + Cosignature.SignatureBytes];
        BinaryPrimitives.WriteUInt32BigEndian(blob, KeyId);
        BinaryPrimitives.WriteUInt64BigEndian(blob.AsSpan(4), (ulong)seconds);
        signature.CopyTo(blob.AsSpan(4 + sizeof(ulong)));
        return $"{SignedNote.SignaturePrefix}{Name} {Convert.ToBase64String(blob)}\n";
    }

    public void Dispose() => _key.Dispose();

    public override string ToString() => Verifier.VerifierKey;
}
