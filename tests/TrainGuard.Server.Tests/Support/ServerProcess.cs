using System.Diagnostics;
using TrainGuard.Cli.Commands;

namespace TrainGuard.Server.Tests.Support;

/// <summary>The built CLI running <c>trainguard server</c> as a child process (so it can be killed with SIGKILL).</summary>
public sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task _drainErrors;
    private readonly System.Text.StringBuilder _errors;

    private ServerProcess(Process process, Uri baseAddress, Task drainErrors, System.Text.StringBuilder errors)
    {
        _process = process;
        BaseAddress = baseAddress;
        _drainErrors = drainErrors;
        _errors = errors;
    }

    public Uri BaseAddress { get; }

    /// <summary>What the server wrote to standard error so far (its log).</summary>
    public string Errors
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString();
            }
        }
    }

    /// <summary>Starts the server; <paramref name="extraArgs"/> follow the defaults (a <c>--log-level</c> among them replaces <c>warning</c>).</summary>
    public static async Task<ServerProcess> StartAsync(string dataDirectory, string database, params string[] extraArgs)
    {
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase) ? path : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var level = extraArgs.Contains("--log-level") ? [] : new[] { "--log-level", "warning" };
        foreach (var arg in new[] { TestPaths.CliAssembly, "server", "run", "--data-dir", dataDirectory, "--db", database, "--urls", "http://127.0.0.1:0", "--log-format", "text" }.Concat(level).Concat(extraArgs))
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server process");
        var errors = new System.Text.StringBuilder();
        var drain = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
            {
                lock (errors)
                {
                    errors.AppendLine(line);
                }
            }
        });

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith(ServerCommand.ListeningPrefix, StringComparison.Ordinal))
                {
                    var url = line[ServerCommand.ListeningPrefix.Length..].Split(' ')[0];
                    return new ServerProcess(process, new Uri(url.TrimEnd('/') + "/"), drain, errors);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        string text;
        lock (errors)
        {
            text = errors.ToString();
        }

        throw new InvalidOperationException($"the server process did not start (exit {process.ExitCode}): {text}");
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
        await _drainErrors;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}
