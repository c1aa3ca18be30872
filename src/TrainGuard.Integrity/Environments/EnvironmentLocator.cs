using System.Diagnostics;
using System.Text.Json;

namespace TrainGuard.Integrity.Environments;

/// <summary>How a site directory was found.</summary>
public enum SiteKind
{
    /// <summary>Given with <c>--site</c>.</summary>
    Explicit,
    Venv,
    Conda,
    System,
    User,
}

/// <summary>A folder Python imports packages from, and how TrainGuard found it.</summary>
public sealed record SiteDirectory(string Path, SiteKind Kind, string Provenance);

/// <summary>What to look at. With no sites and no interpreter: <c>$VIRTUAL_ENV</c>, then <c>$CONDA_PREFIX</c>, then the system Python.</summary>
public sealed record EnvLocateOptions
{
    /// <summary>Site directories given explicitly (<c>--site DIR</c>); when set, nothing else is searched.</summary>
    public IReadOnlyList<string> Sites { get; init; } = [];

    /// <summary>The environment's interpreter (<c>--python PATH</c>). Read from disk (pyvenv.cfg, lib/pythonX.Y) unless <see cref="UseInterpreter"/>.</summary>
    public string? PythonPath { get; init; }

    /// <summary>Ask the interpreter for its paths, run only as <c>python -I -S -B</c> so no .pth hook or sitecustomize runs.</summary>
    public bool UseInterpreter { get; init; }

    /// <summary>Include the user site (<c>~/.local/lib/pythonX.Y/site-packages</c>) for non-venv environments.</summary>
    public bool IncludeUserSite { get; init; } = true;

    /// <summary>Environment variables to read (<c>VIRTUAL_ENV</c>, <c>CONDA_PREFIX</c>, <c>HOME</c>); defaults to the process environment.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>Root prefix for system paths (tests); "/" by default.</summary>
    public string SystemRoot { get; init; } = "/";
}

/// <summary>The located environment: site directories plus what is needed for byte-code and stdlib checks.</summary>
public sealed record LocatedEnvironment(
    IReadOnlyList<SiteDirectory> Sites,
    string? Interpreter,
    IReadOnlyList<string> StdlibDirectories,
    IReadOnlyList<string> Notes);

/// <summary>
/// Finds an environment's package folders without running its interpreter (pyvenv.cfg, conda-meta,
/// lib/pythonX.Y layouts, Debian's dist-packages), or, when asked, by running it in isolated mode.
/// </summary>
public static class EnvironmentLocator
{
    /// <summary>Prints the interpreter's paths as JSON. Runs with -I -S -B: site is imported explicitly, so site.main() and .pth files never run.</summary>
    internal const string ProbeScript =
        "import sys, sysconfig, json, site\n" +
        "site.venv(None)\n" +
        "p = sysconfig.get_paths()\n" +
        "print(json.dumps({'prefix': sys.prefix, 'base_prefix': sys.base_prefix, 'purelib': p.get('purelib'), 'platlib': p.get('platlib'), 'stdlib': p.get('stdlib'), " +
        "'platstdlib': p.get('platstdlib'), 'site_packages': site.getsitepackages(), 'user_site': site.getusersitepackages(), 'cache_tag': sys.implementation.cache_tag, " +
        "'version': '%d.%d' % sys.version_info[:2]}))\n";

    public static LocatedEnvironment Locate(EnvLocateOptions options)
    {
        var notes = new List<string>();
        var sites = new List<SiteDirectory>();
        var stdlib = new List<string>();
        var env = options.Environment ?? ReadProcessEnvironment();
        string? interpreter = options.PythonPath is null ? null : Path.GetFullPath(options.PythonPath);

        if (options.Sites.Count > 0)
        {
            foreach (var site in options.Sites)
            {
                var full = Path.GetFullPath(site);
                if (!Directory.Exists(full))
                {
                    throw new DirectoryNotFoundException($"site directory not found: {full}");
                }

                Add(sites, new SiteDirectory(full, SiteKind.Explicit, "--site"));
            }

            if (interpreter is not null)
            {
                stdlib.AddRange(StaticLayout(interpreter, options, env, notes).Stdlib);
            }

            return new LocatedEnvironment(sites, interpreter, stdlib, notes);
        }

        if (interpreter is not null && options.UseInterpreter)
        {
            var probed = Probe(interpreter);
            foreach (var s in probed.Sites)
            {
                Add(sites, s);
            }

            stdlib.AddRange(probed.Stdlib);
            notes.Add($"paths from {interpreter} -I -S -B");
            return new LocatedEnvironment(sites, interpreter, stdlib, notes);
        }

        if (interpreter is null)
        {
            if (env.TryGetValue("VIRTUAL_ENV", out var venv) && venv.Length > 0 && File.Exists(Path.Combine(venv, "pyvenv.cfg")))
            {
                interpreter = Path.Combine(venv, "bin", "python");
                notes.Add("environment from $VIRTUAL_ENV");
            }
            else if (env.TryGetValue("CONDA_PREFIX", out var conda) && conda.Length > 0 && Directory.Exists(conda))
            {
                interpreter = Path.Combine(conda, "bin", "python");
                notes.Add("environment from $CONDA_PREFIX");
            }
            else
            {
                interpreter = Path.Combine(options.SystemRoot, "usr", "bin", "python3");
                notes.Add("system Python");
            }
        }

        var layout = StaticLayout(interpreter, options, env, notes);
        foreach (var s in layout.Sites)
        {
            Add(sites, s);
        }

        stdlib.AddRange(layout.Stdlib);
        return new LocatedEnvironment(sites, File.Exists(interpreter) ? interpreter : null, stdlib, notes);
    }

    private static (List<SiteDirectory> Sites, List<string> Stdlib) StaticLayout(string interpreter, EnvLocateOptions options, IReadOnlyDictionary<string, string> env, List<string> notes)
    {
        var sites = new List<SiteDirectory>();
        var stdlib = new List<string>();
        var binDir = Path.GetDirectoryName(interpreter) ?? "/";
        var prefix = Path.GetDirectoryName(binDir) ?? "/";
        var cfg = Path.Combine(prefix, "pyvenv.cfg");
        var includeSystem = true;
        var basePrefix = prefix;
        if (File.Exists(cfg))
        {
            includeSystem = false;
            foreach (var line in File.ReadLines(cfg))
            {
                var eq = line.IndexOf('=', StringComparison.Ordinal);
                if (eq < 0)
                {
                    continue;
                }

                var key = line[..eq].Trim();
                var value = line[(eq + 1)..].Trim();
                if (key == "include-system-site-packages")
                {
                    includeSystem = value.Equals("true", StringComparison.OrdinalIgnoreCase);
                }
                else if (key == "home")
                {
                    basePrefix = Path.GetDirectoryName(value.TrimEnd('/')) ?? "/";
                }
            }

            foreach (var dir in VersionedLibDirs(prefix))
            {
                AddIfExists(sites, Path.Combine(dir, "site-packages"), SiteKind.Venv, $"venv {prefix} (pyvenv.cfg)");
            }

            if (!includeSystem)
            {
                stdlib.AddRange(VersionedLibDirs(basePrefix));
                return (sites, stdlib);
            }
        }
        else if (Directory.Exists(Path.Combine(prefix, "conda-meta")))
        {
            foreach (var dir in VersionedLibDirs(prefix))
            {
                AddIfExists(sites, Path.Combine(dir, "site-packages"), SiteKind.Conda, $"conda {prefix} (conda-meta)");
                stdlib.Add(dir);
            }

            return (sites, stdlib);
        }

        // System layout (Debian: /usr/local/lib/pythonX.Y/dist-packages, /usr/lib/python3/dist-packages, /usr/lib/pythonX.Y/dist-packages).
        var versions = VersionedLibDirs(basePrefix).Select(Path.GetFileName).OfType<string>().ToList();
        var local = Path.Combine(basePrefix, "local", "lib");
        foreach (var v in versions)
        {
            AddIfExists(sites, Path.Combine(local, v, "dist-packages"), SiteKind.System, $"system {basePrefix}/local (Debian layout)");
        }

        foreach (var v in versions)
        {
            AddIfExists(sites, Path.Combine(basePrefix, "lib", v, "site-packages"), SiteKind.System, $"system {basePrefix}");
        }

        AddIfExists(sites, Path.Combine(basePrefix, "lib", "python3", "dist-packages"), SiteKind.System, $"system {basePrefix} (Debian layout)");
        foreach (var v in versions)
        {
            AddIfExists(sites, Path.Combine(basePrefix, "lib", v, "dist-packages"), SiteKind.System, $"system {basePrefix} (Debian layout)");
            stdlib.Add(Path.Combine(basePrefix, "lib", v));
        }

        if (options.IncludeUserSite && env.TryGetValue("HOME", out var home) && home.Length > 0)
        {
            foreach (var v in versions)
            {
                AddIfExists(sites, Path.Combine(home, ".local", "lib", v, "site-packages"), SiteKind.User, "user site (~/.local)");
            }
        }

        if (sites.Count == 0)
        {
            notes.Add($"no site directory found for {interpreter}");
        }

        return (sites, stdlib);
    }

    private static IEnumerable<string> VersionedLibDirs(string prefix)
    {
        var lib = Path.Combine(prefix, "lib");
        if (!Directory.Exists(lib))
        {
            return [];
        }

        return Directory.EnumerateDirectories(lib, "python3.*")
            .Where(d => Path.GetFileName(d).Length > "python3.".Length && char.IsAsciiDigit(Path.GetFileName(d)["python3.".Length]))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    private static (List<SiteDirectory> Sites, List<string> Stdlib) Probe(string interpreter)
    {
        var start = new ProcessStartInfo(interpreter)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in (ReadOnlySpan<string>)["-I", "-S", "-B", "-c", ProbeScript])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {interpreter}");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(30_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{interpreter} -I -S did not answer within 30 s");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{interpreter} -I -S failed (exit {process.ExitCode}): {Findings.TextSanitizer.Escape(error, 300)}");
        }

        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        var prefix = root.GetProperty("prefix").GetString() ?? string.Empty;
        var basePrefix = root.GetProperty("base_prefix").GetString() ?? string.Empty;
        var kind = prefix != basePrefix ? SiteKind.Venv : Directory.Exists(Path.Combine(prefix, "conda-meta")) ? SiteKind.Conda : SiteKind.System;
        var sites = new List<SiteDirectory>();
        foreach (var name in (ReadOnlySpan<string>)["purelib", "platlib"])
        {
            if (root.GetProperty(name).GetString() is { } path)
            {
                AddIfExists(sites, path, kind, $"sysconfig {name} of {interpreter}");
            }
        }

        foreach (var element in root.GetProperty("site_packages").EnumerateArray())
        {
            if (element.GetString() is { } path)
            {
                AddIfExists(sites, path, kind, $"site.getsitepackages() of {interpreter}");
            }
        }

        if (kind != SiteKind.Venv && root.GetProperty("user_site").GetString() is { } user)
        {
            AddIfExists(sites, user, SiteKind.User, "user site");
        }

        var stdlib = new List<string>();
        foreach (var name in (ReadOnlySpan<string>)["stdlib", "platstdlib"])
        {
            if (root.GetProperty(name).GetString() is { } path && Directory.Exists(path) && !stdlib.Contains(path))
            {
                stdlib.Add(path);
            }
        }

        return (sites, stdlib);
    }

    private static void AddIfExists(List<SiteDirectory> sites, string path, SiteKind kind, string provenance)
    {
        if (Directory.Exists(path))
        {
            Add(sites, new SiteDirectory(Path.GetFullPath(path), kind, provenance));
        }
    }

    private static void Add(List<SiteDirectory> sites, SiteDirectory site)
    {
        if (!sites.Any(s => s.Path == site.Path))
        {
            sites.Add(site);
        }
    }

    private static Dictionary<string, string> ReadProcessEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in (ReadOnlySpan<string>)["VIRTUAL_ENV", "CONDA_PREFIX", "HOME"])
        {
            if (System.Environment.GetEnvironmentVariable(key) is { } value)
            {
                result[key] = value;
            }
        }

        return result;
    }
}
