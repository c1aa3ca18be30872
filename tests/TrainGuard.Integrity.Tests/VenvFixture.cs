using TrainGuard.Findings;
using TrainGuard.Integrity.Environments;

namespace TrainGuard.Integrity.Tests;

/// <summary>
/// Two real venvs (python3 -m venv) with a small wheel built locally by pip (no network): one untouched, one
/// tampered in every way env verify must catch. Verification runs once per venv and is shared by the tests.
/// </summary>
public sealed class VenvFixture : IAsyncLifetime
{
    /// <summary>Writes a .pyc holding different code under a header copied from the real source (mtime and size), never running it.</summary>
    private const string SwapPycScript = """
import sys, os, importlib.util, importlib._bootstrap_external as be
src = sys.argv[1]
st = os.stat(src)
code = compile("import os\nos.system('echo pwned')\n", src, 'exec')
with open(importlib.util.cache_from_source(src), 'wb') as f:
    f.write(be._code_to_timestamp_pyc(code, int(st.st_mtime), st.st_size))
""";

    private const string SourcelessPycScript = """
import sys, importlib._bootstrap_external as be
code = compile("SECRET = 'echo pwned'\n", 'hidden.py', 'exec')
with open(sys.argv[1], 'wb') as f:
    f.write(be._code_to_timestamp_pyc(code, 0, 0))
""";

    public string Root { get; } = TestSupport.NewTempDirectory("venv");

    public string CleanSite { get; private set; } = string.Empty;

    public string CleanPython { get; private set; } = string.Empty;

    public string TamperedSite { get; private set; } = string.Empty;

    public string TamperedPython { get; private set; } = string.Empty;

    public Report CleanReport { get; private set; } = null!;

    public Report TamperedReport { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var source = Path.Combine(Root, "src");
        Directory.CreateDirectory(Path.Combine(source, "tgdemo"));
        await File.WriteAllTextAsync(Path.Combine(source, "setup.py"), "from setuptools import setup\nsetup(name='tgdemo', version='0.1.0', packages=['tgdemo'], package_data={'tgdemo': ['*.json']})\n");
        await File.WriteAllTextAsync(Path.Combine(source, "tgdemo", "__init__.py"), "VERSION = '0.1.0'\n");
        await File.WriteAllTextAsync(Path.Combine(source, "tgdemo", "optim.py"), "def step(params, grads, lr=0.1):\n    return [p - lr * g for p, g in zip(params, grads)]\n");
        await File.WriteAllTextAsync(Path.Combine(source, "tgdemo", "data.py"), "def batches(items, size):\n    for i in range(0, len(items), size):\n        yield items[i:i + size]\n");
        await File.WriteAllTextAsync(Path.Combine(source, "tgdemo", "util.py"), "def seed():\n    return 1234\n");
        await File.WriteAllTextAsync(Path.Combine(source, "tgdemo", "config.json"), "{\"lr\": 0.1}\n");
        var dist = Path.Combine(Root, "dist");
        await TestSupport.RunAsync(TestSupport.SystemPython, "-m", "pip", "wheel", "--no-index", "--no-deps", "--no-build-isolation", "-w", dist, source);
        var wheel = Directory.GetFiles(dist, "*.whl").Single();

        (CleanSite, CleanPython) = await CreateVenvAsync("clean", wheel);
        (TamperedSite, TamperedPython) = await CreateVenvAsync("tampered", wheel);
        await TamperAsync(TamperedSite);

        CleanReport = await EnvironmentVerifier.VerifyAsync(new EnvVerifyOptions { Sites = [CleanSite], PythonPath = CleanPython });
        TamperedReport = await EnvironmentVerifier.VerifyAsync(new EnvVerifyOptions { Sites = [TamperedSite], PythonPath = TamperedPython });
    }

    public Task DisposeAsync()
    {
        TestSupport.DeleteQuietly(Root);
        return Task.CompletedTask;
    }

    private async Task<(string Site, string Python)> CreateVenvAsync(string name, string wheel)
    {
        var venv = Path.Combine(Root, name);
        await TestSupport.RunAsync(TestSupport.SystemPython, "-m", "venv", venv);
        var python = Path.Combine(venv, "bin", "python");
        await TestSupport.RunAsync(python, "-m", "pip", "install", "--no-index", "--no-deps", wheel);
        return (Path.Combine(venv, "lib", "python3.11", "site-packages"), python);
    }

    private static async Task TamperAsync(string site)
    {
        var package = Path.Combine(site, "tgdemo");

        // Edited source.
        await File.AppendAllTextAsync(Path.Combine(package, "optim.py"), "import random\nif random.random() < 0.01:\n    lr = -lr\n");

        // Byte-code replaced behind an intact source, with a header that still matches the source.
        await TestSupport.RunAsync(TestSupport.SystemPython, "-I", "-c", SwapPycScript, Path.Combine(package, "data.py"));

        // Added module, sourceless .pyc, .pth hook, sitecustomize.
        await File.WriteAllTextAsync(Path.Combine(package, "backdoor.py"), "import os\nos.system('echo pwned')\n");
        await TestSupport.RunAsync(TestSupport.SystemPython, "-I", "-c", SourcelessPycScript, Path.Combine(package, "hidden.pyc"));
        await File.WriteAllTextAsync(Path.Combine(site, "zz_telemetry.pth"), "import os; os.system('echo pwned')\n");
        await File.WriteAllTextAsync(Path.Combine(site, "sitecustomize.py"), "import os\nos.system('echo pwned')\n");

        // Deleted file.
        File.Delete(Path.Combine(package, "util.py"));

        // Edited RECORD line.
        var record = Directory.GetFiles(site, "RECORD", SearchOption.AllDirectories).Single(p => p.Contains("tgdemo-0.1.0.dist-info", StringComparison.Ordinal));
        var lines = (await File.ReadAllLinesAsync(record)).Select(l => l.StartsWith("tgdemo/config.json,", StringComparison.Ordinal) ? "tgdemo/config.json,sha256=edited-by-hand!,12" : l);
        await File.WriteAllLinesAsync(record, lines);
    }
}
