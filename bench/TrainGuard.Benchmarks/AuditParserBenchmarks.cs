using System.Text;
using BenchmarkDotNet.Attributes;
using TrainGuard.Agent.Audit;
using TrainGuard.Agent.Sshd;

namespace TrainGuard.Benchmarks;

/// <summary>
/// Audit collector targets: at least 300,000 records per second per core for the record parser.
/// Figures are per record (OperationsPerInvoke), so records/s = 1e9 / mean ns. The corpus is the
/// real captures of tests/fixtures/audit when present (found by walking up to
/// TrainGuard.slnx), else built-in lines of the same shapes; it is repeated to 10,000 records.
/// </summary>
[MemoryDiagnoser]
public class AuditParserBenchmarks
{
    private const int Records = 10_000;

    private static readonly string[] BuiltIn =
    [
        "type=SYSCALL msg=audit(1795429306.763:7858): arch=c000003e syscall=62 success=yes exit=0 a0=707 a1=f a2=0 a3=7fab1ef0bac0 items=0 ppid=1783 pid=1793 auid=1600 uid=1600 gid=1600 euid=1600 suid=1600 fsuid=1600 egid=1600 sgid=1600 fsgid=1600 tty=(none) ses=11 comm=\"bash\" exe=\"/usr/bin/bash\" key=\"proc_kill\"\u001dARCH=x86_64 SYSCALL=kill AUID=\"alice\" UID=\"alice\" GID=\"alice\" EUID=\"alice\" SUID=\"alice\" FSUID=\"alice\" EGID=\"alice\" SGID=\"alice\" FSGID=\"alice\"",
        "type=OBJ_PID msg=audit(1795429306.763:7858): opid=1799 oauid=1600 ouid=1600 oses=11 ocomm=\"sleep\"\u001dOAUID=\"alice\" OUID=\"alice\"",
        "type=PROCTITLE msg=audit(1795429306.763:7858): proctitle=62617368002D630069643B20636174202F70726F632F73656C662F6C6F67696E756964",
        "type=USER_START msg=audit(1795429306.335:7849): pid=1738 uid=0 auid=1600 ses=11 msg='op=PAM:session_open grantors=pam_unix acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname=127.0.0.1 addr=127.0.0.1 terminal=ssh res=success'\u001dUID=\"root\" AUID=\"alice\"",
        "type=PATH msg=audit(1795429306.763:7859): item=0 name=\"/home/alice/.ssh/authorized_keys\" inode=1065010 dev=fe:00 mode=0100600 ouid=1600 ogid=1600 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\u001dOUID=\"alice\" OGID=\"alice\"",
    ];

    private byte[][] _lines = [];
    private byte[] _log = [];
    private byte[] _sshdLog = [];
    private AuditRecordParser _parser = null!;

    [GlobalSetup]
    public void Setup()
    {
        var source = FindSamples() is { } dir
            ? File.ReadAllLines(Path.Combine(dir, "sample-ssh-session-audit.log")).Concat(File.ReadAllLines(Path.Combine(dir, "sample-audit-enriched.log"))).ToArray()
            : BuiltIn;
        _lines = Enumerable.Range(0, Records).Select(i => Encoding.UTF8.GetBytes(source[i % source.Length])).ToArray();

        // A log for the whole collector: serials renumbered so every copy is a distinct event.
        var sb = new StringBuilder();
        for (var copy = 0; sb.Length < 4_000_000; copy++)
        {
            foreach (var line in source)
            {
                sb.Append(line.Replace("msg=audit(", $"msg=audit({copy}", StringComparison.Ordinal)).Append('\n');
            }
        }

        _log = Encoding.UTF8.GetBytes(sb.ToString());
        var sshd = FindSamples() is { } d ? File.ReadAllText(Path.Combine(d, "sample-sshd-verbose.log")) : "Accepted publickey for alice from 127.0.0.1 port 42332 ssh2: ED25519 SHA256:x\n";
        _sshdLog = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(sshd, 200)));
        _parser = new AuditRecordParser();
    }

    /// <summary>Parse only: line to <see cref="AuditRecord"/> (fields located, values decoded lazily).</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public int ParseRecords()
    {
        var parsed = 0;
        for (var i = 0; i < _lines.Length; i++)
        {
            if (_parser.TryParse(_lines[i], i + 1, out _, out _))
            {
                parsed++;
            }
        }

        return parsed;
    }

    /// <summary>The whole collector over a ~4 MB log: line splitting, parsing, grouping, event derivation. Per invocation.</summary>
    [Benchmark]
    public long CollectEventsFrom4MegabyteLog()
    {
        long events = 0;
        var collector = new AuditCollector(new AuditCollectorOptions { HostName = "bench" }, _ => events++);
        collector.ProcessStream(new MemoryStream(_log, writable: false));
        collector.Flush();
        return events + collector.Stats.Records;
    }

    /// <summary>The sshd collector over the VERBOSE capture repeated 200 times.</summary>
    [Benchmark]
    public long CollectSshdLogins()
    {
        long events = 0;
        var collector = new SshdCollector(new SshdCollectorOptions { HostName = "bench", ReferenceTime = DateTimeOffset.UnixEpoch }, _ => events++);
        collector.ProcessStream(new MemoryStream(_sshdLog, writable: false));
        return events;
    }

    private static string? FindSamples()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TrainGuard.slnx")))
            {
                var samples = Path.Combine(dir.FullName, "tests", "fixtures", "audit");
                return Directory.Exists(samples) ? samples : null;
            }
        }

        return null;
    }
}
