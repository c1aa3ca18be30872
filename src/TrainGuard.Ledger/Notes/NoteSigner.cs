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
    private readonly Key _key;

    private NoteSigner(string name, Key key)
    {
        Name = name;
        _key = key;
        Verifier = NoteVerifier.FromPublicKey(name, Ed25519NoteKey.Private.PublicKey(key));
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
    public string SignerKey => Ed25519NoteKey.Private.Export(_key, Name, KeyId, NoteEncoding.Ed25519Type);

    /// <summary>Generates a fresh Ed25519 key for <paramref name="name"/>.</summary>
    public static NoteSigner Generate(string name)
    {
        Ed25519NoteKey.Private.CheckName(name);
        return new NoteSigner(name, Ed25519NoteKey.Private.Generate());
    }

    /// <summary>Builds a signer from a key name and a 32-byte Ed25519 seed.</summary>
    public static NoteSigner FromSeed(string name, ReadOnlySpan<byte> seed)
    {
        Ed25519NoteKey.Private.CheckName(name);
        if (seed.Length != NoteEncoding.Ed25519KeySize)
        {
            throw new ArgumentException("an Ed25519 seed is 32 bytes", nameof(seed));
        }

        return new NoteSigner(name, Ed25519NoteKey.Private.Import(seed));
    }

    /// <summary>Parses a signer key string; anything malformed or inconsistent throws <see cref="MalformedInputException"/>.</summary>
    public static NoteSigner Parse(string signerKey)
    {
        var parsed = NoteEncoding.ParseKeyString(signerKey, isPrivate: true, NoteEncoding.Ed25519Type, "signer key", "Ed25519");
        try
        {
            var signer = new NoteSigner(parsed.Name, Ed25519NoteKey.Private.Import(parsed.Key));
            if (signer.KeyId != parsed.KeyId)
            {
                signer.Dispose();
                MalformedInputException.Throw(InputErrorKind.Corrupt, "signer key: the key ID does not match the name and the derived public key", parsed.KeyIdOffset);
            }

            return signer;
        }
        finally
        {
            Array.Clear(parsed.Key);
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
}
