using System.Diagnostics;
using TrainGuard.Agent.Common;
using TrainGuard.Agent.Sshd;

namespace TrainGuard.Agent.Runtime;

/// <summary>
/// Follows sshd's entries in the systemd journal: runs <c>journalctl -o json --all --follow</c> for the sshd
/// syslog identifiers (forgeries carry them too, which is how they are caught) and feeds each line to the sshd
/// collector, which judges it by the journal's trusted fields. Resumes after the last entry read
/// (<c>--after-cursor</c>, the cursor kept in the state folder), or from the start of the current boot the first
/// time; a journalctl that exits is started again after a pause.
/// </summary>
public sealed class JournalFollower(string command, string cursorPath, SshdCollector collector, object gate, Action<string> log)
{
    private static readonly TimeSpan RestartDelay = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan SaveInterval = TimeSpan.FromSeconds(5);

    private string? _savedCursor = File.Exists(cursorPath) ? File.ReadAllText(cursorPath).Trim() : null;
    private long _lineNumber;

    /// <summary>The journalctl arguments for the next start.</summary>
    public IReadOnlyList<string> Arguments()
    {
        var args = new List<string> { "-o", "json", "--all", "--follow", "--no-pager", "--lines=all" };
        args.Add(string.IsNullOrEmpty(_savedCursor) ? "--boot" : "--after-cursor=" + _savedCursor);
        args.AddRange(["SYSLOG_IDENTIFIER=sshd", "SYSLOG_IDENTIFIER=sshd-session", "SYSLOG_IDENTIFIER=sshd-auth"]);
        return args;
    }

    /// <summary>Runs until cancelled (the journalctl process is killed then).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var info = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in Arguments())
            {
                info.ArgumentList.Add(arg);
            }

            Process? process = null;
            try
            {
                process = Process.Start(info) ?? throw new InvalidOperationException("no process");
                var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
                using (cancellationToken.Register(() => Kill(process)))
                {
                    await Task.Factory.StartNew(() => Read(process.StandardOutput.BaseStream), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                    await process.WaitForExitAsync(CancellationToken.None);
                }

                SaveCursor();
                if (!cancellationToken.IsCancellationRequested)
                {
                    log($"sshd: {command} exited with {process.ExitCode} ({Findings.TextSanitizer.Escape((await stderr).Trim(), 300)}); starting it again in {RestartDelay.TotalSeconds:0} s");
                }
            }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
            {
                log($"sshd: cannot run {command} ({ex.Message}); trying again in {RestartDelay.TotalSeconds:0} s");
            }
            finally
            {
                process?.Dispose();
            }

            try
            {
                await Task.Delay(RestartDelay, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Read(Stream stdout)
    {
        var lastSave = Stopwatch.StartNew();
        new LineReader { OverlongHandler = _ => _lineNumber++ }.Read(stdout, (line, _, terminated) =>
        {
            lock (gate)
            {
                collector.ProcessLine(line, ++_lineNumber, terminated);
            }

            if (lastSave.Elapsed >= SaveInterval)
            {
                SaveCursor();
                lastSave.Restart();
            }
        });
    }

    private void SaveCursor()
    {
        string? cursor;
        lock (gate)
        {
            cursor = collector.LastJournalCursor;
        }

        if (cursor is not null && cursor != _savedCursor)
        {
            DurableFile.WriteAllText(cursorPath, cursor + "\n");
            _savedCursor = cursor;
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}
