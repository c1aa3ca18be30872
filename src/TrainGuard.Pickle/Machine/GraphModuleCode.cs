using TrainGuard.Parsing;
using TrainGuard.Pickle.Objects;

namespace TrainGuard.Pickle.Machine;

/// <summary>
/// The Python source a pickled torch.fx <c>GraphModule</c> runs at load: <c>reduce_graph_module(body, import_block)</c>,
/// <c>reduce_deploy_graph_module(importer, body, import_block)</c> and <c>reduce_package_graph_module(importer, body,
/// name)</c> <c>exec</c> the import block followed by <c>body['_code']</c> (<c>body['code']</c> in older files). The body is
/// the module's whole <c>__dict__</c>, whose <c>_code</c> entry is usually past the entries the machine keeps per
/// container, so the pickle is read again as values (<see cref="PickleObjectReader"/>, nothing imported or called)
/// and the code attached to those calls as <see cref="PickleCall.Code"/>.
/// </summary>
internal static class GraphModuleCode
{
    private static readonly HashSet<string> Reducers = new(StringComparer.Ordinal)
    {
        "torch.fx.graph_module.reduce_graph_module",
        "torch.fx.graph_module.reduce_package_graph_module",
        "torch.fx.graph_module.reduce_deploy_graph_module",
    };

    private static readonly PickleObjectLimits Limits = new() { MaxPickleBytes = 256 * 1024 * 1024, MaxNodes = 2_000_000, MaxItems = 4_000_000 };

    public static void Attach(ReadOnlySpan<byte> data, PickleAnalysis analysis)
    {
        var indices = new List<int>();
        for (var i = 0; i < analysis.Calls.Count; i++)
        {
            if (analysis.Calls[i].ResolvedGlobal is { } r && Reducers.Contains(r))
            {
                indices.Add(i);
            }
        }

        if (indices.Count == 0 || data.Length > Limits.MaxPickleBytes)
        {
            return;
        }

        PickleObjectResult result;
        try
        {
            result = PickleObjectReader.Read(data, Limits);
        }
        catch (MalformedInputException)
        {
            return; // the machine's own analysis reports why
        }

        var byOffset = new Dictionary<long, string>();
        foreach (var o in PyWalk.Objects(result.Root))
        {
            if (o.CallableName is { } name && Reducers.Contains(name) && Code(o) is { } code)
            {
                byOffset.TryAdd(o.Offset, code);
            }
        }

        foreach (var i in indices)
        {
            var call = analysis.Calls[i];
            if (!byOffset.TryGetValue(call.Offset, out var code) && indices.Count == 1 && byOffset.Count == 1)
            {
                code = byOffset.Values.First();
            }

            if (code is not null)
            {
                analysis.Calls[i] = call with { Code = code };
            }
        }
    }

    private static string? Code(PyObject call)
    {
        var args = call.Arguments;
        string? code = null;
        string? imports = null;
        for (var a = 0; a < Math.Min(3, args.Count); a++)
        {
            if (args[a] is PyStr { Value: var text } && a > 0)
            {
                imports ??= text;
            }
            else if (code is null && args[a].AsDict() is { } body)
            {
                code = (body.Find("_code") ?? body.Find("code"))?.AsString();
            }
        }

        return code is null ? null : imports is null ? code : imports + "\n" + code;
    }
}
