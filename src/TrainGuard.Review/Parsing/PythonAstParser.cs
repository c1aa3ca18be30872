using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using TrainGuard.Rules;

namespace TrainGuard.Review.Parsing;

/// <summary>
/// The fallback parser: CPython's own <c>ast</c> module in <c>/usr/bin/python3 -I -S</c> (isolated: no user site, no
/// <c>PYTHON*</c> variables, no <c>site</c> import, so no <c>.pth</c> file of any environment runs), started once with a
/// working directory outside the reviewed repository, its script passed with <c>-c</c>, and every file's source sent on
/// its standard input as data (<c>Parsing/python_ast_dump.py</c>). The source is parsed, never compiled or run.
/// </summary>
public sealed class PythonAstParser : IPythonParser
{
    public const string DefaultInterpreter = "/usr/bin/python3";

    /// <summary>Largest answer read back (a tree is a few times its source).</summary>
    private const int MaxAnswerBytes = 512 * 1024 * 1024;

    private readonly Process _process;
    private readonly Stream _input;
    private readonly Stream _output;

    private PythonAstParser(Process process)
    {
        _process = process;
        _input = process.StandardInput.BaseStream;
        _output = process.StandardOutput.BaseStream;
    }

    public string Name => "python-ast";

    /// <summary>Starts the interpreter; throws <see cref="InvalidOperationException"/> naming it when it cannot be started.</summary>
    public static PythonAstParser Start(string interpreter = DefaultInterpreter)
    {
        if (!File.Exists(interpreter))
        {
            throw new InvalidOperationException($"the fallback parser needs {interpreter}, which does not exist");
        }

        var script = RuleYaml.ReadResource(typeof(PythonAstParser).Assembly, "TrainGuard.Review.Parsing.python_ast_dump.py");
        var start = new ProcessStartInfo(interpreter)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var argument in new[] { "-I", "-S", "-B", "-c", script })
        {
            start.ArgumentList.Add(argument);
        }

        // Nothing of the caller's environment reaches the interpreter (-I already ignores PYTHON* variables).
        start.Environment.Clear();
        start.Environment["PATH"] = "/usr/bin:/bin";
        start.Environment["LC_ALL"] = "C.UTF-8";
        try
        {
            var process = Process.Start(start) ?? throw new InvalidOperationException($"{interpreter} could not be started");
            process.ErrorDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            return new PythonAstParser(process);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"{interpreter} could not be started: {ex.Message}", ex);
        }
    }

    public PythonParse Parse(byte[] source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Span<byte> header = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(header, source.Length);
        try
        {
            _input.Write(header);
            _input.Write(source);
            _input.Flush();
            _output.ReadExactly(header);
            var length = BinaryPrimitives.ReadInt32BigEndian(header);
            if (length is < 0 or > MaxAnswerBytes)
            {
                return new PythonParse(null, true, $"the ast parser answered a frame of {length} bytes", null, Name);
            }

            var answer = new byte[length];
            _output.ReadExactly(answer);
            using var document = JsonDocument.Parse(answer, new JsonDocumentOptions { MaxDepth = 4096 });
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                var line = root.TryGetProperty("line", out var l) && l.TryGetInt32(out var n) ? n : (int?)null;
                return new PythonParse(null, true, root.TryGetProperty("error", out var e) ? e.GetString() : "syntax error", line, Name);
            }

            return new PythonParse(Node(root), false, null, null, Name);
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or JsonException or InvalidOperationException)
        {
            return new PythonParse(null, true, $"the ast parser failed: {ex.Message}", null, Name);
        }
    }

    private static PyNode Node(JsonElement element)
    {
        var kind = element[0].GetString() ?? "Other";
        var line = element[1].GetInt32();
        var name = element[2].ValueKind == JsonValueKind.String ? element[2].GetString() : null;
        var value = element[3].ValueKind == JsonValueKind.String ? element[3].GetString() : null;
        var children = new List<PyNode>(element[4].GetArrayLength());
        foreach (var child in element[4].EnumerateArray())
        {
            children.Add(Node(child));
        }

        return new PyNode(kind, line, name, value, children);
    }

    public void Dispose()
    {
        try
        {
            _input.Dispose();
            if (!_process.WaitForExit(2000))
            {
                _process.Kill();
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
