using System.Diagnostics;

namespace TrainGuard.Access.Tests;

/// <summary>
/// A temporary root standing for <c>/</c>: accounts in its etc/passwd and etc/group, folders and files with real
/// owners (made-up uids, given with chown: the tests run as root), modes, ACLs (setfacl) and capabilities (setcap).
/// </summary>
public sealed class FixtureRoot : IDisposable
{
    public const string Passwd = """
        root:x:0:0:root:/root:/bin/bash
        mlops:x:1001:1001::/home/mlops:/bin/bash
        alice:x:1002:1002::/home/alice:/bin/bash
        bob:x:1003:1003::/home/bob:/bin/bash
        intern7:x:1007:1007::/home/intern7:/bin/bash
        carol:x:1004:2000::/home/carol:/bin/bash
        """;

    public const string Group = """
        root:x:0:
        mlops:x:1001:
        alice:x:1002:
        bob:x:1003:
        intern7:x:1007:
        ml-maintainers:x:1500:mlops
        ml-shared:x:2000:intern7
        """;

    public const string SitePackages = "/opt/envs/torch/lib/python3.11/site-packages";

    public FixtureRoot()
    {
        Path = Directory.CreateTempSubdirectory("tg-access-").FullName;
        Run("chmod", "0755", Path);
        Write("/etc/passwd", Passwd + "\n");
        Write("/etc/group", Group + "\n");
    }

    public string Path { get; }

    public string Host(string path) => System.IO.Path.Combine(Path, path.TrimStart('/'));

    /// <summary>The shared PyTorch as its maintainers keep it: mlops:ml-maintainers, folders 0755, files 0644.</summary>
    public void SharedTorch()
    {
        foreach (var file in new[] { "torch/__init__.py", "torch/optim/adamw.py", "torch/optim/sgd.py", "numpy/__init__.py" })
        {
            Write(SitePackages + "/" + file, "x = 1\n");
        }

        Run("chown", "-R", "1001:1500", Host("/opt/envs/torch"));
    }

    public void Write(string path, string text)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Host(path))!);
        File.WriteAllText(Host(path), text);
    }

    public void Mkdir(string path) => Directory.CreateDirectory(Host(path));

    public void Chmod(string path, string octal) => Run("chmod", octal, Host(path));

    public void Chown(string path, string owner) => Run("chown", owner, Host(path));

    public void Setfacl(string path, params string[] args) => Run("setfacl", [.. args, Host(path)]);

    public void Setcap(string path, string caps) => Run("setcap", caps, Host(path));

    public string Policy(string yaml)
    {
        var file = System.IO.Path.Combine(Path, "access-policy.yaml");
        File.WriteAllText(file, yaml);
        return file;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);

    public static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)}: {error}");
    }
}
