namespace TrainGuard.Ledger.Notes;

/// <summary>One signature line of a note: the key name, the 32-bit key ID, and the signature bytes.</summary>
public sealed class NoteSignature
{
    internal NoteSignature(string keyName, uint keyId, string base64, ReadOnlyMemory<byte> signatureBytes)
    {
        KeyName = keyName;
        KeyId = keyId;
        Base64 = base64;
        SignatureBytes = signatureBytes;
    }

    public string KeyName { get; }

    public uint KeyId { get; }

    /// <summary>The base64 text as written (key ID and signature).</summary>
    public string Base64 { get; }

    /// <summary>The signature without its 4-byte key ID prefix.</summary>
    public ReadOnlyMemory<byte> SignatureBytes { get; }

    /// <summary>The line as it appears in the note, newline included.</summary>
    public string ToLine() => $"{SignedNote.SignaturePrefix}{KeyName} {Base64}\n";

    public override string ToString() => $"{KeyName}+{KeyId:x8}";
}
