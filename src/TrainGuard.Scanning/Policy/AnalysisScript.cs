using TrainGuard.Parsing;
using TrainGuard.Pickle;

namespace TrainGuard.Scanning.Policy;

/// <summary>
/// Builds a <see cref="PickleAnalysis"/> from the small script language the structural rules' samples use
/// (documented at the top of <c>src/TrainGuard.Scanning/Rules/pickle-structure.yaml</c>), so rule data can
/// carry its own test cases without a pickle machine (<see cref="ScanRuleFamily"/> runs them). Every statement
/// advances the offset by 0x10. A statement it does not know is a configuration error (<see cref="InputErrorKind.Config"/>).
/// </summary>
internal sealed class AnalysisScript
{
    private long _offset;

    private AnalysisScript(long startOffset) => _offset = startOffset;

    public PickleAnalysis Analysis { get; } = new() { PickleCount = 1 };

    public PolicyOptions Options { get; private set; } = new();

    public static AnalysisScript Parse(string script) => Parse(script, 0);

    private static AnalysisScript Parse(string script, long startOffset)
    {
        var result = new AnalysisScript(startOffset);
        foreach (var statement in SplitStatements(script))
        {
            result.Run(statement);
        }

        result.Analysis.EndOffset = result._offset;
        return result;
    }

    private long Next() => _offset += 0x10;

    private void Run(string statement)
    {
        var space = statement.IndexOf(' ', StringComparison.Ordinal);
        var verb = space < 0 ? statement : statement[..space];
        var rest = space < 0 ? string.Empty : statement[(space + 1)..].Trim();
        switch (verb)
        {
            case "import":
                Import(rest, reuse: false);
                break;
            case "call":
            {
                var name = rest[..rest.IndexOf('(', StringComparison.Ordinal)];
                var global = Import(name, reuse: true);
                Analysis.Calls.Add(new PickleCall(name, name, rest, "REDUCE", Next(), [global]));
                break;
            }

            case "getattr":
            {
                var parts = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var getattr = Import("builtins.getattr", reuse: true);
                var target = Import(parts[0], reuse: true);
                Analysis.Calls.Add(new PickleCall("getattr", "builtins.getattr", $"getattr({parts[0]}, '{parts[1]}')", "REDUCE", Next(), [getattr, target]));
                break;
            }

            case "dyncall":
            {
                var uses = rest.LastIndexOf(" uses ", StringComparison.Ordinal);
                var rendered = rest[..uses].Trim();
                var globals = rest[(uses + 6)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(g => Import(g, reuse: true)).ToArray();
                Analysis.Calls.Add(new PickleCall(rendered[..rendered.LastIndexOf('(')], null, rendered, "REDUCE", Next(), globals));
                break;
            }

            case "build":
            {
                var global = Import(rest, reuse: true);
                Analysis.Calls.Add(new PickleCall($"{rest}().__setstate__", $"{rest}.__setstate__", $"{rest}().__setstate__({{...}})", "BUILD", Next(), [global]));
                break;
            }

            case "fxcode":
            {
                var global = Import("torch.fx.graph_module.reduce_graph_module", reuse: true);
                var code = rest.Replace("\\n", "\n", StringComparison.Ordinal);
                Analysis.Calls.Add(new PickleCall("torch.fx.graph_module.reduce_graph_module", "torch.fx.graph_module.reduce_graph_module", "torch.fx.graph_module.reduce_graph_module({...}, 'import torch')", "REDUCE", Next(), [global]) { Code = code });
                break;
            }

            case "mutate":
            {
                var global = Import(rest, reuse: true);
                Analysis.Calls.Add(new PickleCall($"{rest}.__setstate__", null, $"{rest}.__setstate__({{...}})", "BUILD", Next(), [global]) { Mutates = rest });
                break;
            }

            case "nested":
            {
                var brace = rest.IndexOf('{', StringComparison.Ordinal);
                var via = rest[..brace].Trim();
                var inner = rest[(brace + 1)..rest.LastIndexOf('}')];
                var at = Next();
                Analysis.Nested.Add(new NestedPickle(at, via, Parse(inner, 0).Analysis));
                break;
            }

            case "trailing":
                Analysis.TrailingDataOffset = Next();
                break;
            case "error":
                Analysis.Error = MalformedInputException.Create(InputErrorKind.Syntax, rest, Next());
                break;
            case "limit":
                Analysis.Error = MalformedInputException.Create(InputErrorKind.OverLimit, rest, Next());
                break;
            case "profile":
                Options = Options with { Profile = ProfileNames.Parse(rest) };
                break;
            case "allow":
                Options = Options with { ExtraAllowed = [.. Options.ExtraAllowed, rest] };
                break;
            default:
                throw MalformedInputException.Create(InputErrorKind.Config, $"unknown statement '{statement}'");
        }
    }

    private PickleGlobal Import(string fullName, bool reuse)
    {
        if (reuse && Analysis.Globals.FirstOrDefault(g => g.FullName == fullName) is { } existing)
        {
            return existing;
        }

        var dot = fullName.LastIndexOf('.');
        var global = new PickleGlobal(fullName[..dot], fullName[(dot + 1)..], Next(), "STACK_GLOBAL");
        Analysis.Globals.Add(global);
        return global;
    }

    private static IEnumerable<string> SplitStatements(string script)
    {
        var depth = 0;
        var quote = '\0';
        var start = 0;
        for (var i = 0; i < script.Length; i++)
        {
            var ch = script[i];
            if (quote != '\0')
            {
                if (ch == quote)
                {
                    quote = '\0';
                }

                continue;
            }

            switch (ch)
            {
                case '\'' or '"':
                    quote = ch;
                    break;
                case '{':
                    depth++;
                    break;
                case '}':
                    depth--;
                    break;
                case ';' when depth == 0:
                    if (script[start..i].Trim() is { Length: > 0 } statement)
                    {
                        yield return statement;
                    }

                    start = i + 1;
                    break;
            }
        }

        if (script[start..].Trim() is { Length: > 0 } last)
        {
            yield return last;
        }
    }
}
