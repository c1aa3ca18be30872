using System.Text;
using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Sshd;
using TrainGuard.Events;

namespace TrainGuard.Agent.Tests.Support;

/// <summary>The real audit and sshd captures of <c>tests/fixtures/audit</c> (provenance in its README.md).</summary>
public static class Samples
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string AuditDirectory => Path.Combine(RepoRoot, "tests", "fixtures", "audit");

    /// <summary>The insider incident recorded by <c>scripts/capture-audit.sh</c>.</summary>
    public static string InsiderIncident => Path.Combine(AuditDirectory, "insider-incident");

    public static string EnrichedAudit => Path.Combine(AuditDirectory, "sample-audit-enriched.log");

    public static string SshSessionAudit => Path.Combine(AuditDirectory, "sample-ssh-session-audit.log");

    public static string SshdVerbose => Path.Combine(AuditDirectory, "sample-sshd-verbose.log");

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "TrainGuard.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("TrainGuard.slnx not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>Runs the collectors over text or files and keeps what they emit.</summary>
public static class Collect
{
    public static (List<EventRecord> Events, CollectorStats Stats) Audit(string text, AuditCollectorOptions? options = null) =>
        Audit(Encoding.UTF8.GetBytes(text), options);

    public static (List<EventRecord> Events, CollectorStats Stats) Audit(byte[] bytes, AuditCollectorOptions? options = null)
    {
        var events = new List<EventRecord>();
        var collector = new AuditCollector(options ?? new AuditCollectorOptions { HostName = "node1" }, events.Add);
        collector.ProcessStream(new MemoryStream(bytes));
        collector.Flush();
        return (events, collector.Stats);
    }

    public static (List<EventRecord> Events, CollectorStats Stats) AuditFile(string path, AuditCollectorOptions? options = null) =>
        Audit(File.ReadAllBytes(path), options);

    public static (List<EventRecord> Events, CollectorStats Stats) Sshd(string text, SshdCollectorOptions? options = null)
    {
        var events = new List<EventRecord>();
        var collector = new SshdCollector(options ?? new SshdCollectorOptions { HostName = "node1", ReferenceTime = new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero) }, events.Add);
        collector.ProcessStream(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        return (events, collector.Stats);
    }
}
