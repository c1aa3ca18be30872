using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using TrainGuard.Access;
using TrainGuard.Access.Policy;

namespace TrainGuard.Benchmarks;

/// <summary>
/// <c>access check</c> over the issue's trees: a site-packages of 40,000 files (400 packages of 10 folders x 10
/// files, owned by mlops:ml-maintainers, one package group-writable by ml-shared, one file with a named-user ACL)
/// and a checkpoint folder of 10,000 files (100 runs x 100 shards, one run world-writable), with sudoers rules;
/// target under 2 s. Peer in the same run: <c>getfacl -R -p</c> over the same trees (it only lists the ACLs, no
/// analysis; about 4 s here). Measured 195 ms (getfacl -R 4.0 s) on 2 shared cores at load 4-5.7. Run: <c>dotnet run -c Release --project bench/TrainGuard.Benchmarks -- --filter *AccessBenchmarks*</c>.
/// </summary>
[MemoryDiagnoser]
[WarmupCount(2)]
[IterationCount(10)]
public class AccessBenchmarks
{
    private const string Site = "opt/envs/torch/lib/python3.11/site-packages";
    private const string Checkpoints = "data/ckpt";

    private string _root = string.Empty;
    private AccessPolicy _policy = null!;

    [GlobalSetup]
    public void Setup()
    {
        _root = Directory.CreateTempSubdirectory("tg-access-bench-").FullName;
        Run("chmod", "0755", _root);
        Write("etc/passwd", "root:x:0:0::/root:/bin/bash\nmlops:x:1001:1001::/:/bin/sh\nalice:x:1002:1002::/:/bin/sh\nbob:x:1003:1003::/:/bin/sh\nintern7:x:1007:1007::/:/bin/sh\n");
        Write("etc/group", "root:x:0:\nml-maintainers:x:1500:mlops\nml-shared:x:2000:intern7,bob\n");
        Write("etc/sudoers", "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%ml-maintainers ALL=(mlops) /usr/bin/tee\nbob ALL=(root) /usr/bin/systemctl restart slurmd\n");
        for (var package = 0; package < 400; package++)
        {
            for (var folder = 0; folder < 10; folder++)
            {
                var dir = Path.Combine(_root, Site, $"pkg{package}", $"sub{folder}");
                Directory.CreateDirectory(dir);
                for (var file = 0; file < 10; file++)
                {
                    File.WriteAllBytes(Path.Combine(dir, $"m{file}.py"), []);
                }
            }
        }

        for (var run = 0; run < 100; run++)
        {
            var dir = Path.Combine(_root, Checkpoints, $"run{run}");
            Directory.CreateDirectory(dir);
            for (var shard = 0; shard < 100; shard++)
            {
                File.WriteAllBytes(Path.Combine(dir, $"shard-{shard:D5}.safetensors"), []);
            }
        }

        Run("chown", "-R", "1001:1500", Path.Combine(_root, "opt"));
        Run("chown", "-R", "1002:1002", Path.Combine(_root, "data"));
        Run("chown", "-R", "1001:2000", Path.Combine(_root, Site, "pkg7"));
        Run("chmod", "-R", "g+w", Path.Combine(_root, Site, "pkg7"));
        Run("setfacl", "-m", "u:1003:rw", Path.Combine(_root, Site, "pkg9", "sub1", "m3.py"));
        Run("chmod", "0777", Path.Combine(_root, Checkpoints, "run42"));
        _policy = AccessPolicy.Parse("bench.yaml", $"""
            assets:
              - path: /{Site}
                kind: code
                users: [mlops]
                groups: [ml-maintainers]
              - path: /{Checkpoints}
                kind: checkpoints
                users: [alice]
            """);
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    [Benchmark(Baseline = true, Description = "getfacl -R -p (40k + 10k files)")]
    public int Getfacl()
    {
        var start = new ProcessStartInfo("getfacl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-R", "-p", Path.Combine(_root, Site), Path.Combine(_root, Checkpoints) })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var length = process.StandardOutput.ReadToEnd().Length;
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return length;
    }

    [Benchmark(Description = "access check (site-packages 40k files + checkpoints 10k files)")]
    public int AccessCheckRun()
    {
        var report = AccessCheck.Run(_policy, _root);
        return report.Items.Sum(i => i.Findings.Count);
    }

    private void Write(string relative, string text)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}");
        }
    }
}
