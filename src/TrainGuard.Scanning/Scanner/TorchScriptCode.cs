using TrainGuard.Findings;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Scanning.Scanner;

/// <summary>
/// Judges the <c>code/</c> files of a TorchScript archive (what <c>torch.jit.load</c> compiles, and <c>torch.load</c>
/// runs too: torch 1.13 to 2.x hand any zip holding <c>constants.pkl</c> to <c>torch.jit.load</c>). TorchScript can
/// not import Python modules, so what it can do is the ops it calls: <c>torch.from_file(path, shared=True)</c> creates
/// and writes a file, <c>torch.save</c> writes one, <c>torch.load</c>/<c>torch.jit.load</c> load another file, and
/// <c>torch.ops.load_library</c> loads native code. A <c>__setstate__</c> method runs while the archive loads; any other
/// method when the model is called. Hand-written code files may name anything: those calls are judged by the
/// pickle policy like imports.
/// </summary>
internal static class TorchScriptCode
{
    private static readonly Dictionary<string, (string RuleId, string What)> Ops = new(StringComparer.Ordinal)
    {
        ["torch.from_file"] = (RuleIds.FileSystemTampering, "maps a file into a tensor; with shared=True it creates the file, extends it to the size given and writes every change to the tensor into it"),
        ["torch.save"] = (RuleIds.FileSystemTampering, "writes a file"),
        ["torch.load"] = (RuleIds.NestedDeserialization, "loads another file (a pickle)"),
        ["torch.jit.load"] = (RuleIds.NestedDeserialization, "loads another TorchScript archive"),
        ["torch.ops.load_library"] = (RuleIds.CodeExecution, "loads a native library, running its initialisers"),
        ["torch.classes.load_library"] = (RuleIds.CodeExecution, "loads a native library, running its initialisers"),
        ["ops.load_library"] = (RuleIds.CodeExecution, "loads a native library, running its initialisers"),
    };

    /// <summary>Op namespaces that come with torch; any other is a custom op from a native library the loading process must have loaded.</summary>
    private static readonly HashSet<string> TorchOpNamespaces = new(StringComparer.Ordinal)
    {
        "aten", "prim", "quantized", "_quantized", "sparse", "cuda", "mkldnn", "mkldnn_prepacked", "_caffe2", "profiler", "_nnapi", "xnnpack", "prepacked", "fbgemm", "quantized_decomposed", "onednn",
    };

    /// <summary>Findings for one code file (<paramref name="source"/> of member <paramref name="member"/>).</summary>
    public static IEnumerable<(string RuleId, string Message, Dictionary<string, string> Evidence, string Global, string Call)> Judge(string source, string member, PicklePolicy policy)
    {
        foreach (var call in PythonSourceCalls.Find(source))
        {
            var when = call.Function is { } f && f.EndsWith(".__setstate__", StringComparison.Ordinal)
                ? $"in {f}, which torch.jit.load (and torch.load of this archive) runs while loading"
                : call.Function is { } g ? $"in {g}, which runs when it is called" : "at the top level of the file";
            var evidence = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["code_member"] = TextSanitizer.Escape(member, 300),
                ["code_line"] = call.Line.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            if (call.Function is { } function)
            {
                evidence["function"] = TextSanitizer.Escape(function, 200);
            }

            if (Ops.TryGetValue(call.Name, out var op))
            {
                yield return (op.RuleId, $"TorchScript code calls {call.Text} (line {call.Line}, {when}): {call.Name} {op.What}", evidence, call.Name, call.Text);
                continue;
            }

            var parts = call.Name.Split('.');
            var opNamespace = parts is ["torch", "ops", var ns, ..] ? ns : parts is ["ops", var ns2, ..] ? ns2 : null;
            if (opNamespace is not null && !TorchOpNamespaces.Contains(opNamespace))
            {
                yield return (RuleIds.UnknownGlobal, $"TorchScript code calls the custom op {call.Text} (line {call.Line}, {when}): namespace '{TextSanitizer.Escape(opNamespace, 80)}' is not one torch ships, so it runs native code from a library the loader must have loaded", evidence, call.Name, call.Text);
                continue;
            }

            if (parts[0] is "torch" or "ops" or "annotate" or "uninitialized" or "unchecked_cast" or "isinstance" or "len" or "int" or "float" or "bool" or "str" or "range" or "__torch__")
            {
                continue;
            }

            var judgement = policy.Judge(call.Name);
            if (judgement.Status == GlobalStatus.Dangerous)
            {
                yield return (judgement.Rule!.Id, $"code in a TorchScript archive calls {call.Text} (line {call.Line}, {when}): {judgement.Name} ({judgement.Rule.Name})", evidence, judgement.Name, call.Text);
            }
        }
    }
}
