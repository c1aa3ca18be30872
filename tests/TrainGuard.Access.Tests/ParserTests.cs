using TrainGuard.Access.Acl;
using TrainGuard.Access.Analysis;
using TrainGuard.Access.Sudo;
using TrainGuard.Parsing;

namespace TrainGuard.Access.Tests;

public sealed class ParserTests
{
    /// <summary>user::rw- user:1234:rw- group::r-- mask::rw- other::r-- as the kernel stores it.</summary>
    private static readonly byte[] Acl = Convert.FromHexString("02000000" + "01000600FFFFFFFF" + "02000600D2040000" + "04000400FFFFFFFF" + "10000600FFFFFFFF" + "20000400FFFFFFFF");

    [Fact]
    public void Acl_parses_entries_and_masks_named_ones()
    {
        var acl = PosixAcl.Parse(Acl, "f");
        Assert.Equal(5, acl.Entries.Count);
        var named = Assert.Single(acl.Named);
        Assert.Equal((AclTag.User, 6, 1234u), (named.Tag, named.Permissions, named.Id));
        Assert.Equal(6, acl.Mask);
        Assert.Equal(6, acl.Effective(named));
    }

    [Theory]
    [InlineData("0200", "shorter than its 4-byte header")]
    [InlineData("01000000", "ACL version 1")]
    [InlineData("0200000001000600", "whole 8-byte entries")]
    [InlineData("0200000040000600FFFFFFFF", "unknown ACL entry tag 0x40")]
    [InlineData("0200000001000900FFFFFFFF", "outside rwx")]
    public void A_malformed_acl_is_an_error_naming_the_file_and_offset(string hex, string expected)
    {
        var ex = Assert.Throws<MalformedInputException>(() => PosixAcl.Parse(Convert.FromHexString(hex), "/opt/x"));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("/opt/x", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Acl_parser_fuzz_throws_only_its_own_error() =>
        FuzzHarness.Run(data => PosixAcl.Parse(data, "fuzz"), [Acl], 3000, alphabet: [0, 1, 2, 4, 6, 7, 8, 0x10, 0x20, 0xFF]);

    [Theory]
    [InlineData("01000002" + "02000000" + "00000000", "cap_dac_override")]
    [InlineData("01000003" + "0B000000" + "00000000" + "00000000" + "00000000" + "00000000", "cap_chown,cap_dac_override,cap_fowner")]
    [InlineData("01000002" + "00200000" + "00000000", "")]
    [InlineData("0100", "")]
    public void Capability_value_yields_the_permission_bypassing_capabilities(string hex, string expected) =>
        Assert.Equal(expected, CapabilityScan.Bypasses(Convert.FromHexString(hex)));

    [Theory]
    [InlineData("ALL", true)]
    [InlineData("/usr/bin/vim /opt/envs/x.py", true)]
    [InlineData("/bin/bash", true)]
    [InlineData("/usr/bin/python3.11", true)]
    [InlineData("/usr/bin/*", true)]
    [InlineData("/usr/bin/systemctl restart slurmd", false)]
    [InlineData("/usr/bin/nvidia-smi", false)]
    public void Sudo_commands_that_write_files_are_recognised(string command, bool writes) =>
        Assert.Equal(writes, SudoersReader.Writes(command));
}
