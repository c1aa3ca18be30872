using TrainGuard.Agent.Tests.Support;

namespace TrainGuard.Agent.Tests.Snapshots;

/// <summary>A fake node root: etc/passwd, home folders, /proc/net and /proc/PID/fd fixtures, cron/sudoers/preload files.</summary>
public sealed class NodeFixture : IDisposable
{
    public const string Passwd = """
        root:x:0:0:root:/root:/bin/bash
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
        alice:x:1600:1600:Alice:/home/alice:/bin/bash
        bob:x:1500:1500:Bob:/home/bob:/bin/bash
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
        """;

    public const string TcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    public NodeFixture()
    {
        Dir = new TempDir();
        Write("etc/passwd", Passwd + "\n");
        Write("home/alice/.ssh/authorized_keys", AuthorizedKeysParserTests.Ed25519 + "\n");
        Write("proc/net/tcp", TcpHeader
            + "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0\n"
            + "   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1600        0 1002 1 0000000000000000 100 0 0 10 0\n");
        Write("proc/net/tcp6", TcpHeader
            + "   0: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 100 0 0 10 0\n");
        Write("proc/net/udp", TcpHeader);
        Write("proc/net/udp6", TcpHeader);
        Write("proc/100/comm", "sshd\n");
        Directory.CreateDirectory(Dir.Combine("proc", "100", "fd"));
        File.CreateSymbolicLink(Dir.Combine("proc", "100", "fd", "3"), "socket:[1001]");
        File.CreateSymbolicLink(Dir.Combine("proc", "100", "exe"), "/usr/sbin/sshd");
        Write("etc/crontab", "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n");
        Write("etc/sudoers.d/admins", "%sudo ALL=(ALL:ALL) ALL\n");
    }

    public TempDir Dir { get; }

    public string Root => Dir.Path;

    public string Write(string relative, string text) => Dir.Write(relative, text.Replace("\r\n", "\n", StringComparison.Ordinal));

    public void Append(string relative, string text) => File.AppendAllText(Dir.Combine(relative), text);

    /// <summary>Adds a listening socket owned by a new process.</summary>
    public void Listen(string file, string line, int pid, long inode, string comm)
    {
        Append("proc/net/" + file, line + "\n");
        Write($"proc/{pid}/comm", comm + "\n");
        Directory.CreateDirectory(Dir.Combine("proc", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "fd"));
        File.CreateSymbolicLink(Dir.Combine("proc", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "fd", "7"), $"socket:[{inode}]");
    }

    public void Dispose() => Dir.Dispose();
}
