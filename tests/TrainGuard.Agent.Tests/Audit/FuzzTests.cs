using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Sshd;
using TrainGuard.Agent.Tests.Support;

namespace TrainGuard.Agent.Tests.Audit;

public sealed class FuzzTests
{
    private static readonly IReadOnlyList<byte[]> AuditSeeds = SeedLines(Samples.EnrichedAudit, Samples.SshSessionAudit);
    private static readonly IReadOnlyList<byte[]> SshdSeeds = SeedLines(Samples.SshdVerbose);

    [Fact]
    public void Audit_parser_and_collector_never_throw_on_random_or_mutated_input()
    {
        FuzzDriver.Run(AuditRecordParser.Fuzz, AuditSeeds, iterations: 3000);
    }

    [Fact]
    public void Sshd_collector_never_throws_on_random_or_mutated_input()
    {
        FuzzDriver.Run(SshdCollector.Fuzz, SshdSeeds, iterations: 3000);
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
