using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TrainGuard.Cli.Tests;

/// <summary>
/// Every <c>trainguard</c> line of the README's code blocks runs as written, in order, with the built CLI, on a copy
/// of the bundled samples (and packaging/) in a fresh folder, and exits as expected. The one change made to the
/// lines: port 8470 becomes a free port, so the test never collides with a server already running on the machine.
/// The <c>trainguard server run</c> line is started first, in the background, and stopped at the end.
/// </summary>
public sealed class ReadmeCommandTests
{
    private const string DefaultPort = "8470";

    /// <summary>The exit code of every README command line (exactly as written, comment removed).</summary>
    private static readonly Dictionary<string, int> Expected = new(StringComparer.Ordinal)
    {
        ["trainguard scan samples/demo/runs"] = 1,
        ["trainguard scan samples/demo/runs/clean --format json"] = 0,
        ["trainguard scan samples/demo/runs -q"] = 1,
        ["trainguard scan samples/demo/runs --allow mylib.layers.Block"] = 1,
        ["trainguard scan samples/demo/runs --format sarif -o scan.sarif"] = 1,
        ["trainguard env verify --site samples/env/site-packages"] = 0,
        ["trainguard env verify --site samples/env/edited-site-packages --package torch --format json"] = 1,
        ["trainguard keys new --dir keys"] = 0,
        ["trainguard env baseline --site samples/env/site-packages --key keys/trainguard.key --baseline env.sig"] = 0,
        ["trainguard env diff --baseline env.sig --key keys/trainguard.pub"] = 0,
        ["trainguard ckpt sign samples/demo/runs/clean/checkpoint-20 --key keys/trainguard.key"] = 0,
        ["trainguard ckpt verify samples/demo/runs/clean/checkpoint-20 --key keys/trainguard.pub"] = 0,
        ["trainguard ckpt inspect samples/demo/runs/clean/checkpoint-20"] = 0,
        ["trainguard ckpt check samples/demo/runs/clean/checkpoint-20 --run samples/demo/run.yaml"] = 0,
        ["trainguard ckpt check samples/demo/sabotaged/checkpoint-20 --run samples/demo/run.yaml"] = 1,
        ["trainguard ckpt diff samples/demo/runs/clean/checkpoint-20 samples/demo/sabotaged/checkpoint-20"] = 1,
        ["trainguard ckpt convert samples/demo/runs/clean/checkpoint-20/pytorch_model.bin model.safetensors"] = 0,
        ["trainguard server token create --role signer --user \"$(id -un)\" > signer.token"] = 0,
        ["trainguard server token create --role reader > reader.token"] = 0,
        ["trainguard server key show > log.vkey"] = 0,
        ["trainguard ckpt sign samples/demo/runs/clean/checkpoint-20 --key keys/trainguard.key --server http://127.0.0.1:8470 --token-file signer.token"] = 0,
        ["trainguard ckpt verify samples/demo/runs/clean/checkpoint-20 --key keys/trainguard.pub --server http://127.0.0.1:8470 --token-file reader.token --log-key log.vkey"] = 0,
        ["trainguard agent audit-rules > trainguard.rules"] = 0,
        ["trainguard agent run --once --config packaging/agent.yaml --root samples/agent/node"] = 0,
        ["trainguard agent replay --audit samples/agent/audit.log --auth samples/agent/auth.log --passwd samples/agent/passwd"] = 0,
        ["trainguard agent spool verify samples/agent/spool"] = 0,
        ["trainguard server token create --role agent --host vm > vm.token"] = 0,
        ["trainguard server token create --role agent --host gpu-node-2 > gpu-node-2.token"] = 0,
        ["trainguard agent ship samples/incident/vm.jsonl --host vm --server http://127.0.0.1:8470 --token-file vm.token"] = 0,
        ["trainguard agent ship samples/incident/gpu-node-2.jsonl --host gpu-node-2 --server http://127.0.0.1:8470 --token-file gpu-node-2.token"] = 0,
        ["trainguard rules check samples/rules/site.yaml --builtin"] = 0,
        ["trainguard rules test samples/rules --builtin"] = 0,
        ["trainguard rules run --since 2026-12-01T00:00:00Z"] = 1, // the incident shipped by the agent section makes its alerts
        ["trainguard review --repo samples/review/training.git --range base..main"] = 1,
        ["trainguard review --repo samples/review/training.git --range base..reviewed --allowed-signers samples/review/allowed_signers --policy samples/review/policy.yaml"] = 0,
        ["trainguard review --repo samples/review/training.git --range base..main --allowed-signers samples/review/allowed_signers --policy samples/review/policy.yaml --fail-on high --format sarif -o review.sarif"] = 1,
        ["trainguard server token create --role agent --host gpu-node-17 > gpu-node-17.token"] = 0,
        ["trainguard server token create --role signer --user alice --expires 90d > alice.token"] = 0,
        ["trainguard server token list"] = 0,
        ["trainguard ledger verify --server http://127.0.0.1:8470 --log-key log.vkey --save head.txt"] = 0,
        ["trainguard ledger verify --server http://127.0.0.1:8470 --log-key log.vkey --tree-head head.txt --save head.txt"] = 0,
        ["trainguard ledger audit --log-key log.vkey"] = 0,
        ["trainguard ledger verify --server http://tg.example.org:8470 --log-key log.vkey"] = 2,
        ["trainguard server webhook add --name soc --url https://soc.example.org/hooks/trainguard > soc.whsec"] = 0,
        ["trainguard server webhook list"] = 0,
        ["trainguard server webhook deliveries"] = 0,
        ["trainguard server webhook remove --name soc"] = 0,
        ["trainguard ledger audit --log-key log.vkey --tree-head head.txt"] = 0,
        ["trainguard keys new --witness witness.example/w1 --dir witness"] = 0,
        ["trainguard ledger witness --server http://127.0.0.1:8470 --log-key log.vkey --key witness/witness.key --once"] = 0,
        ["trainguard server token create --role responder > responder.token"] = 0,
        ["trainguard alerts list --server http://127.0.0.1:8470 --token-file responder.token"] = 1,
        ["trainguard alerts list --user intern7 --severity critical -f json --server http://127.0.0.1:8470 --token-file reader.token"] = 1,
        ["trainguard alerts show --rule TG-DET-006 --user intern7 --server http://127.0.0.1:8470 --token-file reader.token"] = 0,
        ["trainguard alerts ack --rule TG-DET-006 --user intern7 --assignee alice --note \"looking\" --server http://127.0.0.1:8470 --token-file responder.token"] = 0,
        ["trainguard alerts close --rule TG-DET-006 --user intern7 --classification tp --note \"uid-0 account removed, intern7 disabled\" --server http://127.0.0.1:8470 --token-file responder.token"] = 0,
        ["trainguard alerts ack --rule TG-DET-004 --user intern7 --server http://127.0.0.1:8470 --token-file reader.token"] = 2,
        ["trainguard timeline --user intern7 --server http://127.0.0.1:8470 --token-file reader.token"] = 1,
        ["trainguard timeline --host gpu-node-2 --since 2026-12-07T00:00:00Z --server http://127.0.0.1:8470 --token-file reader.token"] = 1,
        ["trainguard runs compare samples/runs/clean.jsonl samples/runs/rerun.jsonl"] = 1,
        ["trainguard runs inspect samples/runs/rerun.jsonl --run samples/runs/run.yaml"] = 1,
        ["trainguard runs inspect samples/runs/clean.jsonl --run samples/runs/run.yaml -f json"] = 0,
    };

    private const string ServerLine = "trainguard server run --urls http://127.0.0.1:8470";

    [Fact]
    public void Every_readme_command_line_has_an_expected_exit_code_and_every_expectation_a_line()
    {
        var lines = ReadmeCommands().Select(c => c.Command).ToList();

        Assert.Contains(ServerLine, lines);
        var unexpected = lines.Where(l => l != ServerLine && !Expected.ContainsKey(l)).ToList();
        var missing = Expected.Keys.Where(k => !lines.Contains(k)).ToList();
        Assert.True(unexpected.Count == 0, "README lines without an expected exit code (add them to Expected):\n" + string.Join('\n', unexpected));
        Assert.True(missing.Count == 0, "expected lines no longer in the README:\n" + string.Join('\n', missing));
        var readme = File.ReadAllText(CliRunner.Repo("README.md"));
        Assert.Contains("bash scripts/demo.sh", readme, StringComparison.Ordinal);
        Assert.Contains("bash scripts/test.sh", readme, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_readme_command_line_runs_as_written_and_exits_as_expected()
    {
        var commands = ReadmeCommands();
        using var work = new Workspace();
        var port = FreePort();
        string Rewrite(string line) => line.Replace("127.0.0.1:" + DefaultPort, "127.0.0.1:" + port, StringComparison.Ordinal);

        await using var server = await work.StartServerAsync(Rewrite(ServerLine));
        var failures = new List<string>();
        foreach (var (number, command) in commands.Where(c => c.Command != ServerLine))
        {
            var (code, stdout, stderr) = await work.RunAsync(Rewrite(command));
            var expected = Expected.TryGetValue(command, out var e) ? e : -1;
            if (code != expected)
            {
                failures.Add($"README.md:{number}: {command}\n  exit {code}, expected {expected}\n  stdout: {Tail(stdout)}\n  stderr: {Tail(stderr)}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures) + "\nserver: " + server.Errors);
        Assert.True(File.Exists(Path.Combine(work.Root, "head.txt")), "ledger verify --save head.txt kept no tree head");
        Assert.True(Directory.Exists(Path.Combine(work.State, "trainguard", "agent-once")), "agent run --once did not keep its state under $XDG_STATE_HOME");
        Assert.Contains("2.1.0", await File.ReadAllTextAsync(Path.Combine(work.Root, "scan.sarif")), StringComparison.Ordinal);
        Assert.Contains("partialFingerprints", await File.ReadAllTextAsync(Path.Combine(work.Root, "review.sarif")), StringComparison.Ordinal);
    }

    /// <summary>The <c>trainguard</c> lines of the README's fenced code blocks, with their line numbers, comments removed.</summary>
    private static List<(int Number, string Command)> ReadmeCommands()
    {
        var result = new List<(int, string)>();
        var inBlock = false;
        var number = 0;
        foreach (var line in File.ReadLines(CliRunner.Repo("README.md")))
        {
            number++;
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                inBlock = !inBlock;
                continue;
            }

            var command = ShellWords.StripComment(line).Trim();
            if (inBlock && command.StartsWith("trainguard ", StringComparison.Ordinal))
            {
                result.Add((number, command));
            }
        }

        return result;
    }

    private static string Tail(string text) => text.Length <= 2000 ? text : "..." + text[^2000..];

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A fresh folder with copies of samples/ and packaging/, a <c>trainguard</c> on PATH and private state folders.</summary>
    private sealed class Workspace : IDisposable
    {
        private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

        private readonly string _path;

        public Workspace()
        {
            Root = Directory.CreateTempSubdirectory("tg-readme-").FullName;
            CopyTree(CliRunner.Repo("samples"), Path.Combine(Root, "samples"));
            CopyTree(CliRunner.Repo("packaging"), Path.Combine(Root, "packaging"));
            var bin = Directory.CreateDirectory(Path.Combine(Root, ".bin")).FullName;
            var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase) ? path : "dotnet";
            var wrapper = Path.Combine(bin, "trainguard");
            File.WriteAllText(wrapper, $"#!/bin/sh\nexec \"{host}\" \"{Path.Combine(AppContext.BaseDirectory, "trainguard.dll")}\" \"$@\"\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            _path = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        }

        public string Root { get; }

        public string State => Path.Combine(Root, ".state");

        public async Task<(int Code, string Stdout, string Stderr)> RunAsync(string command)
        {
            using var process = Process.Start(Start(command))!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(CommandTimeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                return (-2, await stdout, $"did not finish within {CommandTimeout}\n" + await stderr);
            }

            return (process.ExitCode, await stdout, await stderr);
        }

        public async Task<BackgroundServer> StartServerAsync(string command)
        {
            var process = Process.Start(Start(command))!;
            var errors = new StringBuilder();
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
            var server = new BackgroundServer(process, errors, drain);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            try
            {
                while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
                {
                    if (line.StartsWith(Commands.ServerCommand.ListeningPrefix, StringComparison.Ordinal))
                    {
                        _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                        return server;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }

            await server.DisposeAsync();
            throw new InvalidOperationException($"'{command}' did not start listening: {server.Errors}");
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private ProcessStartInfo Start(string command)
        {
            var start = new ProcessStartInfo("bash")
            {
                WorkingDirectory = Root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add("--noprofile");
            start.ArgumentList.Add("--norc");
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(command);
            start.Environment["PATH"] = _path;
            start.Environment["TRAINGUARD_DATA_DIR"] = Path.Combine(Root, ".data");
            start.Environment["XDG_STATE_HOME"] = State;
            start.Environment["XDG_DATA_HOME"] = Path.Combine(Root, ".share");
            start.Environment.Remove(Options.CommonOptions.TokenVariable);
            start.Environment.Remove("CI");
            return start;
        }

        private static void CopyTree(string from, string to)
        {
            Directory.CreateDirectory(to);
            foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            {
                Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
            }

            foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            {
                File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
            }
        }
    }

    /// <summary>The README's server, stopped (and its stderr kept for failure messages) at the end of the test.</summary>
    private sealed class BackgroundServer(Process process, StringBuilder errors, Task drain) : IAsyncDisposable
    {
        public string Errors
        {
            get
            {
                lock (errors)
                {
                    return errors.ToString();
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            await drain.WaitAsync(TimeSpan.FromSeconds(10));
            process.Dispose();
        }
    }
}
