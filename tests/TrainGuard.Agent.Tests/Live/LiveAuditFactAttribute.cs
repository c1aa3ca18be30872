using System.Diagnostics;

namespace TrainGuard.Agent.Tests.Live;

/// <summary>
/// A fact that runs only where the machine allows live auditing: root, and <c>auditctl -s</c> succeeds
/// (auditd installed, the kernel's audit netlink reachable, not a container without CAP_AUDIT_CONTROL), with the
/// auditd daemon running so records reach audit.log.
/// Otherwise it is skipped with the failing command and its output as the reason.
/// </summary>
public sealed class LiveAuditFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Reason = new(Probe);

    public LiveAuditFactAttribute()
    {
        if (Reason.Value is { } reason)
        {
            Skip = reason;
        }
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "live audit test needs Linux";
        }

        if (Environment.UserName != "root")
        {
            return $"live audit test needs root (running as {Environment.UserName})";
        }

        var (code, output) = Run("auditctl", "-s");
        if (code != 0)
        {
            return $"this machine does not allow live auditing: 'auditctl -s' failed ({output})";
        }

        // The kernel accepts rules, but without the daemon nothing reaches audit.log (.ci/run starts auditd).
        var pid = output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("pid ", StringComparison.Ordinal));
        return pid is "pid 0" ? "auditd is not running ('auditctl -s' shows pid 0), so no record reaches audit.log: start auditd (bash .ci/run does)" : null;
    }

    public static (int Code, string Output) Run(string file, params string[] args)
    {
        try
        {
            var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args)
            {
                info.ArgumentList.Add(a);
            }

            using var p = Process.Start(info)!;
            var stdout = p.StandardOutput.ReadToEnd();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, (stdout + stderr).Trim());
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, $"{file}: {ex.Message}");
        }
    }
}
