using System.Text;
using TrainGuard.Agent.Snapshots;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Tests.Snapshots;

public sealed class AuthorizedKeysParserTests
{
    // Public keys generated with ssh-keygen; the fingerprints are what `ssh-keygen -lf` printed for them.
    public const string Ed25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGqA3kBJSEpKljlyUeQxfEr7yDl/szhZjQGfTzuY8y8v alice@laptop";
    public const string Ed25519Fingerprint = "SHA256:EYDNaYFj0OtR7QvM/4rN5sRQnWSAYWn6vPWMzlb+vJo";
    public const string Rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDIkzey0krrT3SfU6SP170xojlBS773djSXBcHq8vZ2D9/wqMqApXelToNUoK2ZCzhqVDKWh/YkB6O1M9Zvd7CS/GGtXkQefeqALbLlt6MmSU+eif7kNrjS6Lv76ZUUcP0EQjxxJJTqdrv0q11T+53T0SLKzsDV4BX0xzEwPLSevQ==";
    public const string RsaFingerprint = "SHA256:qtAMjHcS8JFeidoXNSN8eN2goWzb8ghTyi7kr/xFlE8";
    public const string Ecdsa = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBK6fDw3Wa69tNJBj5/X80TQjenoilic9fIqShaTnslIZjgWOEHidy98cZRSqx2eIpWgJsSfNAJLd5flB3NIYuMg= ops key";
    public const string EcdsaFingerprint = "SHA256:lgHuAGbQ49kMGGwojxy1OCpBHzSRzjAKrfNT+G/Lyms";

    [Theory]
    [InlineData(Ed25519, "ssh-ed25519", Ed25519Fingerprint, "alice@laptop")]
    [InlineData(Rsa, "ssh-rsa", RsaFingerprint, null)]
    [InlineData(Ecdsa, "ecdsa-sha2-nistp256", EcdsaFingerprint, "ops key")]
    public void Fingerprints_match_ssh_keygen_for_each_key_type(string line, string type, string fingerprint, string? comment)
    {
        var key = AuthorizedKeysParser.ParseLine(line, 1);
        Assert.Equal(type, key.KeyType);
        Assert.Equal(fingerprint, key.Fingerprint);
        Assert.Equal(comment, key.Comment);
        Assert.Empty(key.Options);
    }

    [Fact]
    public void Options_with_quoted_commas_spaces_and_escaped_quotes_are_split_correctly()
    {
        var line = "command=\"/bin/sh -c \\\"echo a,b\\\"\",no-pty,from=\"10.0.0.1,10.0.0.2\",restrict " + Ed25519;
        var key = AuthorizedKeysParser.ParseLine(line, 3);
        Assert.Equal(["command", "no-pty", "from", "restrict"], key.Options.Select(o => o.Name));
        Assert.Equal("/bin/sh -c \"echo a,b\"", key.OptionValue("command"));
        Assert.Equal("10.0.0.1,10.0.0.2", key.OptionValue("from"));
        Assert.Null(key.Options[1].Value);
        Assert.Equal(Ed25519Fingerprint, key.Fingerprint);
        Assert.Equal("alice@laptop", key.Comment);
        Assert.Equal(3, key.Line);
    }

    [Theory]
    [InlineData("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAAAgQDIkzey0krrT3SfU6SP170xojlBS773djSXBcHq8vZ2D9/wqMqApXelToNUoK2ZCzhqVDKWh/YkB6O1M9Zvd7CS/GGtXkQefeqALbLlt6MmSU+eif7kNrjS6Lv76ZUUcP0EQjxxJJTqdrv0q11T+53T0SLKzsDV4BX0xzEwPLSevQ==", "does not match")]
    [InlineData("ssh-ed25519 not*base64", "not valid base64")]
    [InlineData("ssh-ed25519", "without a key")]
    [InlineData("command=\"echo unterminated " + Ed25519, "unterminated")]
    [InlineData("command=unquoted " + Ed25519, "double quotes")]
    [InlineData("ssh-foo AAAA", "unknown key type")]
    [InlineData("ssh-ed25519 AAAA", "shorter than its type")]
    [InlineData("ssh-ed25519 /////w==", "declares a type name")]
    public void Malformed_lines_are_rejected_with_a_reason(string line, string reason)
    {
        var ex = Assert.Throws<MalformedInputException>(() => AuthorizedKeysParser.ParseLine(line, 1));
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_keeps_good_keys_and_lists_bad_lines_with_their_numbers()
    {
        var text = "# keys\n" + Ed25519 + "\n\ngarbage line\r\n" + Ecdsa + "\n";
        var file = AuthorizedKeysParser.Parse(Encoding.UTF8.GetBytes(text));
        Assert.Equal([2, 5], file.Keys.Select(k => k.Line));
        Assert.Equal(4, Assert.Single(file.Errors).Line);
    }

    [Fact]
    public void Lines_that_are_not_keys_are_kept_as_facts_with_the_hash_of_the_whole_line()
    {
        var overlong = "ssh-ed25519 " + new string('A', 100_000);
        var text = Ed25519 + "\nssh-xmss@openssh.com AAAA future\n" + overlong + "\n";
        var file = AuthorizedKeysParser.Parse(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        Assert.Single(file.Keys);
        Assert.Equal([2, 3], file.Unparsed.Select(u => u.Line));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("ssh-xmss@openssh.com AAAA future"u8)), file.Unparsed[0].Sha256);
        Assert.Equal(overlong.Length, file.Unparsed[1].Bytes);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(overlong))), file.Unparsed[1].Sha256);
    }

    [Fact]
    public void Keys_past_the_per_file_limit_are_one_fact_hashing_the_rest()
    {
        var text = string.Concat(Enumerable.Repeat(Ed25519 + "\n", 5)) + Rsa + "\n";
        var file = AuthorizedKeysParser.Parse(new MemoryStream(Encoding.UTF8.GetBytes(text)), maxKeys: 3);
        Assert.Equal(3, file.Keys.Count);
        var rest = Assert.Single(file.Unparsed);
        Assert.Equal(4, rest.Line);
        Assert.Contains("3 more lines", rest.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Authorized_keys_parser_throws_only_malformed_input_on_fuzzed_files()
    {
        var seeds = new List<byte[]>
        {
            Encoding.UTF8.GetBytes(Ed25519 + "\n" + "command=\"a,b\",no-pty " + Rsa + "\n"),
            Encoding.UTF8.GetBytes(Ecdsa),
        };
        FuzzHarness.Run(AuthorizedKeysParser.Fuzz, seeds, 3000, 8785, Audit.FuzzTests.Alphabet);
    }
}
