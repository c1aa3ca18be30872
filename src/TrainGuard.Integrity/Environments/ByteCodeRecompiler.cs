using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace TrainGuard.Integrity.Environments;

/// <summary>The outcome of comparing one .pyc with a fresh compilation of its source.</summary>
public enum RecompileOutcome
{
    Match,
    Mismatch,

    /// <summary>Compiled by another Python version than the interpreter: not comparable.</summary>
    OtherVersion,
    Error,
}

/// <summary>One .pyc to compare with its source: optimisation level from the file name (<c>.opt-1</c>, <c>.opt-2</c>).</summary>
public sealed record RecompileRequest(string PycPath, string SourcePath, int Optimize);

public sealed record RecompileResult(string PycPath, RecompileOutcome Outcome, string Detail);

/// <summary>
/// Compares .pyc files with their sources using the environment's own interpreter in isolated mode
/// (<c>-I -S -B</c>: no site, no .pth, no sitecustomize, no byte-code written). The helper compiles the
/// source with <c>compile()</c> and reads the .pyc's code object with <c>marshal.loads</c>; it never
/// executes either. Code objects compare by byte-code, constants, names and line tables.
/// </summary>
public static class ByteCodeRecompiler
{
    internal const string HelperScript = """
import sys, json, marshal, importlib.util
magic = importlib.util.MAGIC_NUMBER
for line in sys.stdin:
    req = json.loads(line)
    out = {'pyc': req['pyc']}
    try:
        with open(req['pyc'], 'rb') as f:
            data = f.read()
        if data[:4] != magic:
            out['outcome'] = 'other-version'; out['detail'] = 'magic ' + data[:2][::-1].hex()
        else:
            with open(req['src'], 'rb') as f:
                src = f.read()
            fresh = compile(src, req['src'], 'exec', dont_inherit=True, optimize=req['opt'])
            stored = marshal.loads(data[16:])
            if type(stored) is not type(fresh):
                out['outcome'] = 'mismatch'; out['detail'] = 'the .pyc does not hold a code object'
            elif stored == fresh:
                out['outcome'] = 'match'; out['detail'] = ''
            else:
                names = sorted(set(stored.co_names) - set(fresh.co_names))[:20]
                consts = [repr(c)[:80] for c in stored.co_consts if isinstance(c, (str, bytes)) and c not in fresh.co_consts][:10]
                out['outcome'] = 'mismatch'; out['detail'] = 'extra names ' + repr(names) + '; extra constants ' + repr(consts)
    except Exception as e:
        out['outcome'] = 'error'; out['detail'] = type(e).__name__ + ': ' + str(e)[:200]
    sys.stdout.write(json.dumps(out) + '\n')
    sys.stdout.flush()
""";

    /// <summary>The interpreter's cache tag (<c>cpython-311</c>), asked in isolated mode; null when it cannot run.</summary>
    public static async Task<string?> CacheTagAsync(string interpreter, CancellationToken cancellationToken)
    {
        var (code, output, _) = await RunAsync(interpreter, "import sys; print(sys.implementation.cache_tag)", string.Empty, TimeSpan.FromSeconds(30), cancellationToken);
        return code == 0 ? output.Trim() : null;
    }

    public static async Task<IReadOnlyList<RecompileResult>> CompareAsync(string interpreter, IReadOnlyList<RecompileRequest> requests, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (requests.Count == 0)
        {
            return [];
        }

        var input = new StringBuilder();
        foreach (var r in requests)
        {
            input.Append(JsonSerializer.Serialize(new Dictionary<string, object> { ["pyc"] = r.PycPath, ["src"] = r.SourcePath, ["opt"] = r.Optimize })).Append('\n');
        }

        var (code, output, error) = await RunAsync(interpreter, HelperScript, input.ToString(), timeout, cancellationToken);
        var results = new List<RecompileResult>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            var outcome = root.GetProperty("outcome").GetString() switch
            {
                "match" => RecompileOutcome.Match,
                "mismatch" => RecompileOutcome.Mismatch,
                "other-version" => RecompileOutcome.OtherVersion,
                _ => RecompileOutcome.Error,
            };
            results.Add(new RecompileResult(root.GetProperty("pyc").GetString() ?? string.Empty, outcome, root.GetProperty("detail").GetString() ?? string.Empty));
        }

        if (code != 0 && results.Count < requests.Count)
        {
            var done = results.Select(r => r.PycPath).ToHashSet(StringComparer.Ordinal);
            foreach (var r in requests.Where(r => !done.Contains(r.PycPath)))
            {
                results.Add(new RecompileResult(r.PycPath, RecompileOutcome.Error, $"interpreter exited with {code}: {Findings.TextSanitizer.Escape(error, 200)}"));
            }
        }

        return results;
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(string interpreter, string script, string input, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(interpreter)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var arg in (ReadOnlySpan<string>)["-I", "-S", "-B", "-c", script])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {interpreter}");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            var outputTask = process.StandardOutput.ReadToEndAsync(cts.Token);
            var errorTask = process.StandardError.ReadToEndAsync(cts.Token);
            await process.StandardInput.WriteAsync(input.AsMemory(), cts.Token);
            process.StandardInput.Close();
            await process.WaitForExitAsync(cts.Token);
            return (process.ExitCode, await outputTask, await errorTask);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
    }
}
