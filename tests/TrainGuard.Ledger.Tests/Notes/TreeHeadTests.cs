using System.Text;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Tests.Support;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Tests.Notes;

public class CheckpointTests
{
    // The example checkpoint of the C2SP tlog-checkpoint specification.
    private const string SpecExample =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n" +
        "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

    [Fact]
    public void Specification_example_parses_into_origin_size_and_root()
    {
        var note = SignedNote.Parse(SpecExample);
        var checkpoint = TreeHead.Parse(note.Text);

        Assert.Equal("example.com/behind-the-sofa", checkpoint.Origin);
        Assert.Equal(20852163, checkpoint.Size);
        Assert.Equal("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", Convert.ToBase64String(checkpoint.RootHash));
        Assert.Equal(note.Text, checkpoint.ToNoteText());
        Assert.Equal("example.com/behind-the-sofa", Assert.Single(note.Signatures).KeyName);
    }

    [Fact]
    public void Signed_checkpoint_round_trips_and_is_trusted_only_with_the_log_key_and_origin()
    {
        using var log = NoteSigner.Generate("trainguard.example/ledger");
        using var other = NoteSigner.Generate("trainguard.example/ledger");
        var checkpoint = new TreeHead("trainguard.example/ledger", 42, new byte[32], ["extension line"]);
        var signed = Encoding.UTF8.GetBytes(checkpoint.Sign(log));

        var opened = TreeHead.OpenSigned(signed, [log.Verifier], "trainguard.example/ledger");
        Assert.True(opened.IsTrusted);
        Assert.Equal(42, opened.TreeHead.Size);
        Assert.Equal(["extension line"], opened.TreeHead.Extensions);

        Assert.False(TreeHead.OpenSigned(signed, [other.Verifier], "trainguard.example/ledger").IsTrusted);
        Assert.False(TreeHead.OpenSigned(signed, [log.Verifier], "another.example/log").IsTrusted);
    }

    [Fact]
    public void Empty_tree_checkpoint_has_size_zero()
    {
        var checkpoint = TreeHead.Parse("log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
        Assert.Equal(0, checkpoint.Size);
    }

    public static TheoryData<string, string> MalformedCheckpoints => new()
    {
        { "no final newline", "log\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
        { "two lines", "log\n1\n" },
        { "empty origin", "\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n" },
        { "leading zero", "log\n01\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n" },
        { "negative size", "log\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n" },
        { "size with plus", "log\n+1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n" },
        { "size overflows", "log\n9223372036854775808\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n" },
        { "root not base64", "log\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n" },
        { "root 31 bytes", "log\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuA==\n" },
        { "url-safe base64", "log\n1\n47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=\n" },
        { "empty extension line", "log\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n" },
        { "tab in origin", "l\tog\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n" },
    };

    [Theory]
    [MemberData(nameof(MalformedCheckpoints))]
    public void Malformed_checkpoint_text_is_rejected(string description, string text)
    {
        var e = Assert.Throws<MalformedInputException>(() => TreeHead.Parse(text));
        Assert.NotNull(e.Offset);
        Assert.False(string.IsNullOrEmpty(description));
    }

    [Fact]
    public void Checkpoint_parser_survives_random_and_mutated_input()
    {
        FuzzHarness.Run(TreeHead.Fuzz, [
            Encoding.UTF8.GetBytes("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"),
            Encoding.UTF8.GetBytes("log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\next two\n"),
        ], 3000, 20240901);
    }
}
