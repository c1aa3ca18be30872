using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;
using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Tests.Notes;

/// <summary>C2SP tlog-cosignature <c>cosignature/v1</c>: key IDs, the signed message, the signature layout, key strings.</summary>
public sealed class CosignatureTests
{
    // The example of the C2SP tlog-cosignature specification: a checkpoint cosigned by witness.example.com/w1.
    private const string SpecText = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    private const string SpecCosignature = "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
    private const string SpecLogSignature = "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

    [Fact]
    public void Specification_example_cosignature_carries_a_key_id_a_big_endian_timestamp_and_a_64_byte_signature()
    {
        var note = SignedNote.Parse(SpecText + "\n" + SpecLogSignature + SpecCosignature);
        var cosignature = note.Signatures[1];

        Assert.Equal("witness.example.com/w1", cosignature.KeyName);
        Assert.Equal(72, cosignature.SignatureBytes.Length);
        Assert.Equal(1679315147UL, BinaryPrimitives.ReadUInt64BigEndian(cosignature.SignatureBytes.Span));
    }

    [Fact]
    public void Message_is_the_header_line_the_time_line_and_the_whole_note_text()
    {
        Assert.Equal(
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            Encoding.UTF8.GetString(Cosignature.Message(SpecText, 1679315147)));
    }

    [Fact]
    public void Cosignature_line_is_an_ed25519_signature_over_the_spec_message_checked_independently()
    {
        using var witness = Cosigner.Generate("witness.example/w1");
        var at = DateTimeOffset.FromUnixTimeSeconds(1700000000);

        var line = witness.Cosign(SpecText, at);

        // Taken apart by hand, as the specification lays it out.
        Assert.StartsWith("\u2014 witness.example/w1 ", line, StringComparison.Ordinal);
        var blob = Convert.FromBase64String(line["\u2014 witness.example/w1 ".Length..^1]);
        Assert.Equal(4 + 8 + 64, blob.Length);
        var expectedKeyId = SHA256.HashData([.. Encoding.UTF8.GetBytes("witness.example/w1\n"), 0x04, .. witness.Verifier.PublicKeyBytes])[..4];
        Assert.Equal(expectedKeyId, blob[..4]);
        Assert.Equal(1700000000UL, BinaryPrimitives.ReadUInt64BigEndian(blob.AsSpan(4)));
        var message = Encoding.UTF8.GetBytes("cosignature/v1\ntime 1700000000\n" + SpecText);
        var publicKey = PublicKey.Import(SignatureAlgorithm.Ed25519, witness.Verifier.PublicKeyBytes, KeyBlobFormat.RawPublicKey);
        Assert.True(SignatureAlgorithm.Ed25519.Verify(publicKey, message, blob.AsSpan(12)));
    }

    [Fact]
    public void Verifier_accepts_the_witness_cosignature_and_reads_its_time()
    {
        using var witness = Cosigner.Generate("witness.example/w1");
        var note = SignedNote.Parse(SpecText + "\n" + SpecLogSignature + witness.Cosign(SpecText, DateTimeOffset.FromUnixTimeSeconds(1700000123)));

        var cosignature = witness.Verifier.Verify(note.Text, note.Signatures[1]);

        Assert.NotNull(cosignature);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000123), cosignature.Time);
        Assert.Equal("witness.example/w1", cosignature.Witness);
        Assert.Null(witness.Verifier.Verify(note.Text, note.Signatures[0]));
    }

    [Fact]
    public void Cosignature_does_not_verify_over_another_tree_head_another_time_or_from_another_key()
    {
        using var witness = Cosigner.Generate("witness.example/w1");
        using var impostor = Cosigner.Generate("witness.example/w1");
        var line = witness.Cosign(SpecText, DateTimeOffset.FromUnixTimeSeconds(1700000000));
        var signature = SignedNote.Parse(SpecText + "\n" + line).Signatures[0];
        var otherText = SpecText.Replace("20852163", "20852164", StringComparison.Ordinal);

        Assert.Null(witness.Verifier.Verify(otherText, signature));
        Assert.Null(impostor.Verifier.Verify(SpecText, signature));

        // The same signature bytes under another timestamp.
        var blob = Convert.FromBase64String(line["\u2014 witness.example/w1 ".Length..^1]);
        BinaryPrimitives.WriteUInt64BigEndian(blob.AsSpan(4), 1700000001);
        var moved = SignedNote.Parse(SpecText + "\n\u2014 witness.example/w1 " + Convert.ToBase64String(blob) + "\n").Signatures[0];
        Assert.Null(witness.Verifier.Verify(SpecText, moved));

        // A timestamp above 2^63-1 is refused outright.
        BinaryPrimitives.WriteUInt64BigEndian(blob.AsSpan(4), ulong.MaxValue);
        var huge = SignedNote.Parse(SpecText + "\n\u2014 witness.example/w1 " + Convert.ToBase64String(blob) + "\n").Signatures[0];
        Assert.Null(witness.Verifier.Verify(SpecText, huge));
    }

    [Fact]
    public void Log_note_verification_ignores_cosignature_lines_so_cosigned_heads_still_open()
    {
        using var log = NoteSigner.Generate("example.com/log");
        using var witness = Cosigner.Generate("example.com/log");
        var head = new TreeHead("example.com/log", 5, new byte[32]);
        var note = head.Sign(log) + witness.Cosign(head.ToNoteText(), DateTimeOffset.UtcNow);

        var opened = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(note), [log.Verifier]);

        Assert.True(opened.IsTrusted);
        Assert.Single(opened.Verification.UnverifiedSignatures);
        Assert.NotEqual(log.KeyId, witness.KeyId);
    }

    [Fact]
    public void Witness_key_strings_round_trip_and_carry_the_cosignature_type_byte()
    {
        using var witness = Cosigner.Generate("witness.example/w1");
        using var reloaded = Cosigner.Parse(witness.SignerKey);
        var verifier = CosignerVerifier.Parse(witness.Verifier.VerifierKey);

        Assert.StartsWith("PRIVATE+KEY+witness.example/w1+", witness.SignerKey, StringComparison.Ordinal);
        Assert.Equal(0x04, Convert.FromBase64String(witness.Verifier.VerifierKey.Split('+', 3)[2])[0]);
        Assert.Equal(witness.Verifier.VerifierKey, reloaded.Verifier.VerifierKey);
        Assert.Equal(witness.KeyId, verifier.KeyId);
        var line = reloaded.Cosign(SpecText, DateTimeOffset.UtcNow);
        Assert.NotNull(verifier.Verify(SpecText, SignedNote.Parse(SpecText + "\n" + line).Signatures[0]));
    }

    [Fact]
    public void Log_keys_are_refused_as_witness_keys_and_witness_keys_as_log_keys()
    {
        using var log = NoteSigner.Generate("example.com/log");
        using var witness = Cosigner.Generate("example.com/w1");

        var e = Assert.Throws<MalformedInputException>(() => CosignerVerifier.Parse(log.VerifierKey));
        Assert.Contains("unsupported signature type 0x01", e.Message, StringComparison.Ordinal);
        Assert.Throws<MalformedInputException>(() => Cosigner.Parse(log.SignerKey));
        Assert.Throws<MalformedInputException>(() => NoteVerifier.Parse(witness.Verifier.VerifierKey));
        var typeError = Assert.Throws<MalformedInputException>(() => NoteSigner.Parse(witness.SignerKey));
        Assert.Contains("unsupported signature type 0x04", typeError.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("PRIVATE+KEY+")]
    [InlineData("PRIVATE+KEY+w+0000000+BAAA")]
    [InlineData("PRIVATE+KEY+w+00000000+not base64")]
    [InlineData("PRIVATE+KEY+w+00000000+BA==")]
    [InlineData("PRIVATE+KEY+w 1+00000000+BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("PRIVATE+KEY+w+00000000+BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void Malformed_witness_key_strings_are_malformed_input(string key)
    {
        Assert.Throws<MalformedInputException>(() =>
        {
            using var cosigner = Cosigner.Parse(key);
        });
    }
}
