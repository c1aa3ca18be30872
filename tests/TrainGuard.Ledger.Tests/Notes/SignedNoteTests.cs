using System.Text;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Tests.Support;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Tests.Notes;

/// <summary>
/// Signed notes, checked against the public vectors of golang.org/x/mod/sumdb/note (note_test.go):
/// a fixed Ed25519 key ("PeterNeumann") whose signature over a fixed text is reproduced byte for byte.
/// </summary>
public class SignedNoteTests
{
    private const string PeterVerifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    private const string PeterSignerKey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    private const string EnochVerifierKey = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";

    private const string Text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    private const string PeterSig = "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    private const string EnochSig = "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    [Fact]
    public void Signing_the_go_vector_text_with_the_go_vector_key_reproduces_the_go_signature_exactly()
    {
        using var signer = NoteSigner.Parse(PeterSignerKey);
        Assert.Equal("PeterNeumann", signer.Name);
        Assert.Equal(0xc74f20a3u, signer.KeyId);
        Assert.Equal(PeterVerifierKey, signer.VerifierKey);
        Assert.Equal(PeterSignerKey, signer.SignerKey);

        Assert.Equal(Text + "\n" + PeterSig, SignedNote.Sign(Text, signer));
    }

    [Fact]
    public void Go_vector_note_opens_with_one_verified_and_one_unknown_signature()
    {
        var result = Open(Text + "\n" + PeterSig + EnochSig, PeterVerifierKey);

        Assert.True(result.IsVerified);
        Assert.Equal(Text, result.Note.Text);
        Assert.Equal("PeterNeumann", Assert.Single(result.VerifiedSignatures).KeyName);
        var unknown = Assert.Single(result.UnverifiedSignatures);
        Assert.Equal(("EnochRoot", 0xaf0cfe78u), (unknown.KeyName, unknown.KeyId));
    }

    [Fact]
    public void Note_signed_by_several_keys_verifies_every_known_signature()
    {
        var result = Open(Text + "\n" + PeterSig + EnochSig, PeterVerifierKey, EnochVerifierKey);

        Assert.True(result.IsVerified);
        Assert.Equal(["PeterNeumann", "EnochRoot"], result.VerifiedSignatures.Select(s => s.KeyName));
        Assert.Empty(result.UnverifiedSignatures);
    }

    [Fact]
    public void Note_without_any_known_signature_is_not_verified()
    {
        var result = Open(Text + "\n" + PeterSig + EnochSig);

        Assert.Equal(NoteVerificationStatus.NoKnownSignature, result.Status);
        Assert.Equal(2, result.UnverifiedSignatures.Count);
    }

    [Fact]
    public void Tampered_text_fails_the_known_signature()
    {
        var result = Open(Text.Replace("answer", "Answer", StringComparison.Ordinal) + "\n" + PeterSig, PeterVerifierKey);

        Assert.Equal(NoteVerificationStatus.InvalidSignature, result.Status);
        Assert.False(result.IsVerified);
    }

    [Fact]
    public void Corrupted_signature_bytes_from_a_known_key_reject_the_note()
    {
        var result = Open(Text + "\n" + PeterSig[..60] + "ABCD" + PeterSig[60..], PeterVerifierKey);

        Assert.Equal(NoteVerificationStatus.InvalidSignature, result.Status);
    }

    [Fact]
    public void Signature_from_a_different_key_with_the_same_name_is_ignored_as_unknown()
    {
        using var impostor = NoteSigner.Generate("PeterNeumann");
        var result = SignedNote.Open(Encoding.UTF8.GetBytes(SignedNote.Sign(Text, impostor)), [NoteVerifier.Parse(PeterVerifierKey)]);

        Assert.Equal(NoteVerificationStatus.NoKnownSignature, result.Status);
        Assert.Single(result.UnverifiedSignatures);
    }

    [Fact]
    public void Duplicate_known_key_is_ambiguous_only_when_it_signed()
    {
        var enoch = NoteVerifier.Parse(EnochVerifierKey);
        var peter = NoteVerifier.Parse(PeterVerifierKey);

        Assert.Equal(NoteVerificationStatus.AmbiguousKey, SignedNote.Open(Bytes(Text + "\n" + EnochSig), [enoch, peter, enoch]).Status);
        Assert.True(SignedNote.Open(Bytes(Text + "\n" + PeterSig), [enoch, peter, enoch]).IsVerified);
    }

    [Fact]
    public void Repeated_signatures_are_verified_once_and_unknown_repeats_are_dropped()
    {
        var result = Open(Text + "\n" + PeterSig + PeterSig + EnochSig + EnochSig, PeterVerifierKey);

        Assert.Single(result.VerifiedSignatures);
        Assert.Single(result.UnverifiedSignatures);
    }

    [Fact]
    public void More_than_one_hundred_signatures_exceed_the_limit()
    {
        var e = Assert.Throws<MalformedInputException>(() => SignedNote.Parse(Text + "\n" + string.Concat(Enumerable.Repeat(PeterSig, 101))));
        Assert.True(e.LimitExceeded);
    }

    public static TheoryData<string, string> MalformedNotes => new()
    {
        { "text only", Text },
        { "missing blank line", Text + PeterSig },
        { "blank line but no signatures", Text + "\n" },
        { "signature without final newline", Text + "\n" + PeterSig[..^1] },
        { "control character", "\u0001" + Text + "\n" + PeterSig },
        { "space in key name", Text + "\n\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n" },
        { "plus in key name", Text + "\n\u2014 Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n" },
        { "unexpected line after signatures", Text + "\n" + PeterSig + "Unexpected line.\n" },
        { "hyphen instead of em dash", Text + "\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n" },
        { "bad base64", Text + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n" },
        { "base64 with inner space", Text + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSN XgKvqfqdngotpRZb6KE6RyyBwJnAM=\n" },
        { "signature too short for a key id", Text + "\n\u2014 PeterNeumann AAAA\n" },
        { "missing signature", Text + "\n\u2014 PeterNeumann\n" },
        { "carriage return line ending", Text + "\n" + PeterSig.Replace("\n", "\r\n", StringComparison.Ordinal) },
    };

    [Theory]
    [MemberData(nameof(MalformedNotes))]
    public void Malformed_note_is_rejected_with_an_offset(string description, string note)
    {
        var e = Assert.Throws<MalformedInputException>(() => SignedNote.Parse(note));
        Assert.NotNull(e.Offset);
        Assert.False(string.IsNullOrWhiteSpace(description));
    }

    [Fact]
    public void Invalid_utf8_is_rejected()
    {
        var bytes = Bytes(Text + "\n" + PeterSig);
        bytes[3] = 0xff;
        Assert.Throws<MalformedInputException>(() => SignedNote.Parse(bytes));
    }

    [Fact]
    public void Generated_key_round_trips_through_its_key_strings_and_signs_verifiable_notes()
    {
        using var signer = NoteSigner.Generate("trainguard.example/ledger");
        using var reloaded = NoteSigner.Parse(signer.SignerKey);
        var verifier = NoteVerifier.Parse(signer.VerifierKey);
        Assert.Equal(signer.VerifierKey, reloaded.VerifierKey);
        Assert.StartsWith("PRIVATE+KEY+trainguard.example/ledger+", signer.SignerKey, StringComparison.Ordinal);

        var note = SignedNote.Sign("hello\n\nwith a blank line inside\n", reloaded);
        var result = SignedNote.Open(Bytes(note), [verifier]);
        Assert.True(result.IsVerified);
        Assert.Equal("hello\n\nwith a blank line inside\n", result.Note.Text);
        Assert.Equal(note, result.Note.ToString());
    }

    [Fact]
    public void Cosigning_adds_a_signature_and_replaces_an_older_one_by_the_same_key()
    {
        using var log = NoteSigner.Generate("log.example");
        using var witness = NoteSigner.Generate("witness.example");
        var note = SignedNote.Parse(SignedNote.Sign(Text, log));

        var cosigned = SignedNote.Parse(note.AddSignatures(witness, log));

        Assert.Equal(["witness.example", "log.example"], cosigned.Signatures.Select(s => s.KeyName));
        Assert.True(cosigned.Verify([log.Verifier, witness.Verifier]).IsVerified);
    }

    [Fact]
    public void Sign_refuses_text_without_a_final_newline_or_with_control_characters()
    {
        using var signer = NoteSigner.Generate("log.example");
        Assert.Throws<ArgumentException>(() => SignedNote.Sign("abc", signer));
        Assert.Throws<ArgumentException>(() => SignedNote.Sign("a\tb\n", signer));
    }

    [Fact]
    public void Every_mangling_of_the_go_verifier_key_is_rejected()
    {
        Assert.Equal(PeterVerifierKey, NoteVerifier.Parse(PeterVerifierKey).VerifierKey);
        foreach (var mangled in Manglings(PeterVerifierKey))
        {
            Assert.Throws<MalformedInputException>(() => NoteVerifier.Parse(mangled));
        }

        // Wrong key length and unknown algorithm, each with a key ID recomputed to match.
        Assert.Throws<MalformedInputException>(() => NoteVerifier.Parse("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="));
        Assert.Throws<MalformedInputException>(() => NoteVerifier.Parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"));
    }

    [Fact]
    public void Every_mangling_of_the_go_signer_key_is_rejected()
    {
        foreach (var mangled in Manglings(PeterSignerKey))
        {
            Assert.Throws<MalformedInputException>(() =>
            {
                using var signer = NoteSigner.Parse(mangled);
            });
        }
    }

    [Fact]
    public void Note_parser_survives_random_and_mutated_input()
    {
        using var signer = NoteSigner.Generate("fuzz.example");
        FuzzHarness.Run(SignedNote.Fuzz, [Bytes(Text + "\n" + PeterSig + EnochSig), Bytes(SignedNote.Sign("a\n\nb\n", signer))], 3000, 20240901, NoteAlphabet);
    }

    [Fact]
    public void Verifier_and_signer_keys_and_note_verification_throw_only_malformed_input()
    {
        using var signer = NoteSigner.Generate("fuzz.example");
        byte[][] seeds =
        [
            Bytes(PeterVerifierKey + "\n" + Text + "\n" + PeterSig + EnochSig),
            Bytes(EnochVerifierKey + "\n" + Text + "\n" + PeterSig + EnochSig),
            Bytes(PeterSignerKey + "\n" + Text + "\n" + PeterSig),
            Bytes(signer.VerifierKey + "\n" + SignedNote.Sign("a\n\nb\n", signer)),
        ];
        FuzzHarness.Run(FuzzKeysAndVerification, seeds, 3000, 20240902, NoteAlphabet);
    }

    /// <summary>
    /// Fuzz target for the key and verification side of signed notes: the first line is a verifier key (or a
    /// signer key, whose verifier is used), the rest a note opened against it.
    /// </summary>
    internal static void FuzzKeysAndVerification(ReadOnlySpan<byte> data)
    {
        var newline = data.IndexOf((byte)'\n');
        var key = Encoding.UTF8.GetString(newline < 0 ? data : data[..newline]);
        var message = newline < 0 ? [] : data[(newline + 1)..];
        NoteVerifier verifier;
        if (key.StartsWith("PRIVATE+KEY+", StringComparison.Ordinal))
        {
            using var signer = NoteSigner.Parse(key);
            verifier = signer.Verifier;
            _ = SignedNote.Sign("fuzz\n", signer);
        }
        else
        {
            verifier = NoteVerifier.Parse(key);
        }

        _ = NoteVerifier.Parse(verifier.VerifierKey);
        _ = SignedNote.Open(message, [verifier]);
    }

    /// <summary>Bytes that matter to signed notes: newline, the em dash of signature lines, key separators, base64 padding.</summary>
    private static readonly byte[] NoteAlphabet = "\n\u2014 +=0\r"u8.ToArray();

    private static IEnumerable<string> Manglings(string key)
    {
        // Every proper substring and every single-byte increment, as golang.org/x/mod/sumdb/note tests.
        for (var i = 0; i <= key.Length; i++)
        {
            for (var j = i + 1; j <= key.Length; j++)
            {
                if (i != 0 || j != key.Length)
                {
                    yield return key[i..j];
                }
            }
        }

        for (var i = 0; i < key.Length; i++)
        {
            var chars = key.ToCharArray();
            chars[i]++;
            yield return new string(chars);
        }
    }

    private static NoteVerification Open(string note, params string[] verifierKeys) =>
        SignedNote.Open(Bytes(note), verifierKeys.Select(NoteVerifier.Parse));

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
