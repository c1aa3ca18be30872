using System.Text;
using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Snapshots;
using TrainGuard.Agent.Sshd;
using TrainGuard.Agent.Tests.Snapshots;
using TrainGuard.Agent.Tests.Support;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Tests.Audit;

/// <summary>The agent's parsers under the shared fuzz harness: only <see cref="MalformedInputException"/> may escape.</summary>
public sealed class FuzzTests
{
    /// <summary>Bytes that matter to the agent's text formats: audit key=value pairs, quotes, separators, hex digits.</summary>
    public static readonly byte[] Alphabet = "type=SYSCALL msg=audit(1.2:3): a0=\"x\" '\u001d\n =0123456789abcdef:()."u8.ToArray();

    [Fact]
    public void Audit_parser_and_collector_never_throw_on_random_or_mutated_input()
    {
        FuzzHarness.Run(AuditRecordParser.Fuzz, SeedLines(Samples.EnrichedAudit, Samples.SshSessionAudit), 3000, 8785, Alphabet);
    }

    [Fact]
    public void Sshd_collector_never_throws_on_random_or_mutated_input()
    {
        FuzzHarness.Run(SshdCollector.Fuzz, SeedLines(Samples.SshdVerbose), 3000, 8785, Alphabet);
    }

    [Fact]
    public void Passwd_and_group_parser_never_throws_on_random_or_mutated_input()
    {
        byte[][] seeds =
        [
            Encoding.UTF8.GetBytes(NodeFixture.Passwd + "\n"),
            Encoding.UTF8.GetBytes("root:x:0:0:root:/root:/bin/bash\r\ntoor:x:0:0::/:/bin/sh\n#comment\n\0root:x:0:\nsudo:x:27:alice,bob\n"),
        ];
        FuzzHarness.Run(PasswdFile.Fuzz, seeds, 3000, 1, ":\n\r#0123456789-+\0"u8.ToArray());
    }

    [Fact]
    public void Proc_net_parser_throws_only_malformed_input_on_random_or_mutated_lines()
    {
        byte[][] seeds =
        [
            Encoding.ASCII.GetBytes(NodeFixture.TcpHeader
                + "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0\n"
                + "   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1600        0 1002 1 0000000000000000 100 0 0 10 0\n"),
            Encoding.ASCII.GetBytes("   0: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 100 0 0 10 0\n"),
            Encoding.ASCII.GetBytes("   5: 00000000:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4242 2 0000000000000000 0\n"),
        ];
        FuzzHarness.Run(ProcNet.Fuzz, seeds, 3000, 2, " :0123456789ABCDEFabcdef\n"u8.ToArray());
    }

    [Fact]
    public void Snapshot_state_file_throws_only_malformed_input_and_diffs_whatever_it_accepts()
    {
        using var node = new NodeFixture();
        var snapshot = new SnapshotReader(new SnapshotOptions { Root = node.Root }).Read(new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero));
        byte[][] seeds =
        [
            Encoding.UTF8.GetBytes(snapshot.ToJson()),
            Encoding.UTF8.GetBytes("{\"taken_at\":\"2026-11-22T08:00:00+00:00\",\"persistence\":[{\"path\":\"/etc/crontab\",\"kind\":\"cron\",\"sha256\":\"00\",\"size\":1,\"mtime_ms\":0,\"lines\":[\"a\"]}]}"),
        ];
        FuzzHarness.Run(NodeSnapshot.Fuzz, seeds, 2000, 3, "{}[],:\"0123456789null-T"u8.ToArray());
    }

    [Theory]
    [InlineData("{\"accounts\":null}")]
    [InlineData("{\"accounts\":[null]}")]
    [InlineData("{\"accounts\":[{\"uid\":0}]}")]
    [InlineData("{\"persistence\":[{\"path\":\"/a\",\"kind\":\"cron\",\"sha256\":\"x\"},{\"path\":\"/a\",\"kind\":\"cron\",\"sha256\":\"y\"}]}")]
    [InlineData("{\"persistence\":[{\"path\":\"/a\",\"kind\":\"cron\",\"sha256\":\"x\",\"lines\":[null]}]}")]
    [InlineData("null")]
    [InlineData("[1,2]")]
    public void A_damaged_snapshot_state_file_is_malformed_input_and_loads_as_no_previous_snapshot(string json)
    {
        // Before, each of these either crashed the diff (null lists, null names, a path listed twice) or escaped as another exception type.
        Assert.Throws<MalformedInputException>(() => NodeSnapshot.Parse(json));
        using var dir = new TempDir();
        Assert.Null(NodeSnapshot.Load(dir.Write("snapshot.json", json)));
    }

    private static List<byte[]> SeedLines(params string[] paths)
    {
        var seeds = new List<byte[]>();
        foreach (var path in paths)
        {
            var bytes = File.ReadAllBytes(path);
            seeds.Add(bytes);
            var start = 0;
            for (var i = 0; i < bytes.Length; i++)
            {
                if (bytes[i] == (byte)'\n')
                {
                    seeds.Add(bytes[start..(i + 1)]);
                    start = i + 1;
                }
            }
        }

        return seeds;
    }
}
