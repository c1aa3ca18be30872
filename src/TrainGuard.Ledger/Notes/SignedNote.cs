using System.Buffers.Binary;
using System.Text;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Notes;

/// <summary>
/// A C2SP signed note: UTF-8 text ending in a newline, a blank line, then one or more lines
/// <c>— &lt;key name&gt; &lt;base64(key ID || signature)&gt;</c>. Parsing follows golang.org/x/mod/sumdb/note:
/// the text is separated from the signatures by the <em>last</em> blank line, the whole message must be
/// valid UTF-8 without control characters other than newline, and every signature line must be well formed.
/// </summary>
public sealed class SignedNote
{
    /// <summary>Largest note accepted (signatures included).</summary>
    public const int MaxMessageBytes = 1 << 20;

    /// <summary>Most signature lines accepted (the spec requires at least 16).</summary>
    public const int MaxSignatures = 100;

    /// <summary>Em dash (U+2014) and a space: the start of every signature line.</summary>
    internal const string SignaturePrefix = "\u2014 ";

    private static ReadOnlySpan<byte> SignaturePrefixUtf8 => [0xE2, 0x80, 0x94, 0x20];

    private SignedNote(string text, IReadOnlyList<NoteSignature> signatures)
    {
        Text = text;
        Signatures = signatures;
    }

    /// <summary>The signed text, including its final newline but not the separating blank line.</summary>
    public string Text { get; }

    /// <summary>All signature lines, in order, whether or not their keys are known.</summary>
    public IReadOnlyList<NoteSignature> Signatures { get; }

    /// <summary>Parses a note; malformed input throws <see cref="MalformedInputException"/> naming the byte offset.</summary>
    public static SignedNote Parse(ReadOnlySpan<byte> message)
    {
        if (message.Length > MaxMessageBytes)
        {
            MalformedInputException.ThrowLimit("signed note size", MaxMessageBytes, MaxMessageBytes);
        }

        CheckCharacters(message);

        var split = message.LastIndexOf("\n\n"u8);
        if (split < 0)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "signed note: no blank line separates the text from the signatures", message.Length);
        }

        var text = Encoding.UTF8.GetString(message[..(split + 1)]);
        var signatureBlock = message[(split + 2)..];
        var blockOffset = split + 2;
        if (signatureBlock.IsEmpty || signatureBlock[^1] != (byte)'\n')
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "signed note: the signature block must be non-empty and end with a newline", message.Length);
        }

        var signatures = new List<NoteSignature>();
        var position = 0;
        while (position < signatureBlock.Length)
        {
            var length = signatureBlock[position..].IndexOf((byte)'\n');
            var line = signatureBlock.Slice(position, length);
            var lineOffset = blockOffset + position;
            if (signatures.Count == MaxSignatures)
            {
                MalformedInputException.ThrowLimit("number of note signatures", MaxSignatures, lineOffset);
            }

            signatures.Add(ParseSignatureLine(line, lineOffset));
            position += length + 1;
        }

        return new SignedNote(text, signatures);
    }

    /// <summary>Parses a note held in a string.</summary>
    public static SignedNote Parse(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return Parse(Encoding.UTF8.GetBytes(message));
    }

    /// <summary>Parses and verifies in one step (see <see cref="Verify"/>).</summary>
    public static NoteVerification Open(ReadOnlySpan<byte> message, IEnumerable<NoteVerifier> knownKeys) => Parse(message).Verify(knownKeys);

    /// <summary>Signs <paramref name="text"/> (which must end in a newline) with every signer and returns the note.</summary>
    public static string Sign(string text, params NoteSigner[] signers)
    {
        CheckText(text);
        ArgumentNullException.ThrowIfNull(signers);
        if (signers.Length == 0)
        {
            throw new ArgumentException("at least one signer is needed", nameof(signers));
        }

        var builder = new StringBuilder(text).Append('\n');
        foreach (var signer in signers)
        {
            builder.Append(signer.SignatureLine(text));
        }

        return builder.ToString();
    }

    /// <summary>
    /// Returns this note with signatures from <paramref name="signers"/> added (cosigning); an existing signature
    /// by the same key name and ID is replaced.
    /// </summary>
    public string AddSignatures(params NoteSigner[] signers)
    {
        ArgumentNullException.ThrowIfNull(signers);
        var builder = new StringBuilder(Text).Append('\n');
        foreach (var existing in Signatures)
        {
            if (!signers.Any(s => s.KeyId == existing.KeyId && string.Equals(s.Name, existing.KeyName, StringComparison.Ordinal)))
            {
                builder.Append(existing.ToLine());
            }
        }

        foreach (var signer in signers)
        {
            builder.Append(signer.SignatureLine(Text));
        }

        return builder.ToString();
    }

    /// <summary>
    /// Checks the signatures against <paramref name="knownKeys"/>: signatures by unknown keys (name and ID not
    /// both matching) are ignored; a signature by a known key that fails rejects the whole note; at least one
    /// known key must have signed. Repeated signatures by one key are checked once.
    /// </summary>
    public NoteVerification Verify(IEnumerable<NoteVerifier> knownKeys)
    {
        ArgumentNullException.ThrowIfNull(knownKeys);
        var known = knownKeys.ToList();
        var textBytes = Encoding.UTF8.GetBytes(Text);
        var verified = new List<NoteSignature>();
        var unverified = new List<NoteSignature>();
        var seenKnown = new HashSet<(string, uint)>();
        var seenUnknown = new HashSet<string>(StringComparer.Ordinal);
        foreach (var signature in Signatures)
        {
            var matches = known.Where(k => k.KeyId == signature.KeyId && string.Equals(k.Name, signature.KeyName, StringComparison.Ordinal)).ToList();
            if (matches.Count == 0)
            {
                if (seenUnknown.Add(signature.ToLine()))
                {
                    unverified.Add(signature);
                }

                continue;
            }

            if (matches.Count > 1)
            {
                return Failed(NoteVerificationStatus.AmbiguousKey, $"ambiguous key {signature.KeyName}+{signature.KeyId:x8}");
            }

            if (!seenKnown.Add((signature.KeyName, signature.KeyId)))
            {
                continue;
            }

            if (!matches[0].Verify(textBytes, signature.SignatureBytes.Span))
            {
                return Failed(NoteVerificationStatus.InvalidSignature, $"invalid signature for key {signature.KeyName}+{signature.KeyId:x8}");
            }

            verified.Add(signature);
        }

        return verified.Count == 0
            ? Failed(NoteVerificationStatus.NoKnownSignature, "note has no verifiable signatures")
            : new NoteVerification(this, NoteVerificationStatus.Verified, verified, unverified, null);

        NoteVerification Failed(NoteVerificationStatus status, string problem) => new(this, status, verified, unverified, problem);
    }

    /// <summary>The note as it is written: text, blank line, signature lines.</summary>
    public override string ToString()
    {
        var builder = new StringBuilder(Text).Append('\n');
        foreach (var signature in Signatures)
        {
            builder.Append(signature.ToLine());
        }

        return builder.ToString();
    }

    /// <summary>Fuzz target: must never throw anything but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        SignedNote note;
        try
        {
            note = Parse(data);
        }
        catch (MalformedInputException)
        {
            return;
        }

        var reparsed = Parse(note.ToString());
        if (!string.Equals(reparsed.Text, note.Text, StringComparison.Ordinal) || reparsed.Signatures.Count != note.Signatures.Count)
        {
            throw new InvalidOperationException("signed note does not round-trip");
        }

        _ = note.Verify([]);
    }

    internal static void CheckText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0 || text[^1] != '\n')
        {
            throw new ArgumentException("note text must end with a newline", nameof(text));
        }

        foreach (var ch in text)
        {
            if (ch < 0x20 && ch != '\n')
            {
                throw new ArgumentException("note text must not contain control characters other than newline", nameof(text));
            }
        }

        try
        {
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetByteCount(text);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException("note text is not valid Unicode", nameof(text), e);
        }
    }

    private static void CheckCharacters(ReadOnlySpan<byte> message)
    {
        var offset = 0;
        while (offset < message.Length)
        {
            var status = System.Text.Rune.DecodeFromUtf8(message[offset..], out var rune, out var consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, "signed note: not valid UTF-8", offset);
            }

            if (rune.Value < 0x20 && rune.Value != '\n')
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"signed note: control character 0x{rune.Value:x2} (only newline is allowed)", offset);
            }

            offset += consumed;
        }
    }

    private static NoteSignature ParseSignatureLine(ReadOnlySpan<byte> line, int offset)
    {
        if (!line.StartsWith(SignaturePrefixUtf8))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "signed note: a signature line must start with an em dash and a space", offset);
        }

        var body = Encoding.UTF8.GetString(line[SignaturePrefixUtf8.Length..]);
        var (name, base64) = NoteEncoding.Chop(body, ' ');
        if (!NoteEncoding.IsValidKeyName(name))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "signed note: the key name in a signature line is empty or contains a space or '+'", offset + SignaturePrefixUtf8.Length);
        }

        var base64Offset = offset + SignaturePrefixUtf8.Length + Encoding.UTF8.GetByteCount(name) + 1;
        if (!NoteEncoding.TryDecodeBase64(base64, out var decoded))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "signed note: the signature is not standard padded base64", base64Offset);
        }

        if (decoded.Length < 5)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, "signed note: a signature holds a 4-byte key ID and at least one signature byte", base64Offset);
        }

        return new NoteSignature(name, BinaryPrimitives.ReadUInt32BigEndian(decoded), base64, decoded.AsMemory(4));
    }
}
