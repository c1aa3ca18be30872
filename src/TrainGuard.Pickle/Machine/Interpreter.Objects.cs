using System.Text;
using System.Text.Unicode;
using TrainGuard.Parsing;
using TrainGuard.Pickle.Opcodes;
using Op = TrainGuard.Pickle.Opcodes.PickleOp;

namespace TrainGuard.Pickle.Machine;

/// <summary>Imports, calls, persistent loads, and what can be resolved statically about them.</summary>
internal sealed partial class Interpreter
{
    private const int MaxNameBytes = 4096;

    /// <summary>Functions that unpickle their first argument (bytes, or a file over bytes).</summary>
    private static readonly HashSet<string> LoadFunctions = new(StringComparer.Ordinal)
    {
        "pickle.loads", "_pickle.loads", "pickle._loads", "cPickle.loads",
        "pickle.load", "_pickle.load", "pickle._load", "cPickle.load",
        "dill.loads", "dill._dill.loads", "dill.load", "dill._dill.load",
        "cloudpickle.loads", "cloudpickle.load",
        "numpy.loads", "numpy.core.numeric.loads", "numpy.ma.loads",
        "joblib.load", "joblib.numpy_pickle.load",
        "torch.load", "torch.serialization.load",
        "pandas.read_pickle",
    };

    private static readonly HashSet<string> UnpicklerClasses = new(StringComparer.Ordinal)
    {
        "pickle.Unpickler", "_pickle.Unpickler", "pickle._Unpickler", "dill.Unpickler", "dill._dill.Unpickler",
        "joblib.numpy_pickle.NumpyUnpickler",
    };

    /// <summary>Whether a torch.fx GraphModule reduce function was called (its code is then rebuilt from the values).</summary>
    public bool HasGraphModuleCalls { get; private set; }

    private readonly List<string> _globalPaths = [];
    private readonly List<string> _globalRendered = [];
    private readonly List<PickleGlobal[]> _globalArrays = [];

    /// <summary>The persistent id of each persistent load (a persistent-load value carries its index here).</summary>
    private readonly List<ulong> _persistentIds = [];
    private Dictionary<int, string>? _names;
    private Dictionary<int, string>? _plain;
    private HashSet<int>? _nestedSeen;

    // ---------------------------------------------------------------- imports

    private static string DecodeNameLine(ReadOnlySpan<byte> line, byte code, int op)
    {
        if (!Utf8.IsValid(line))
        {
            Fail($"{Op.Name(code)} names must be valid UTF-8", op);
        }

        return line.Length > MaxNameBytes
            ? TextCodecs.DecodeUtf8SurrogatePass(line[..MaxNameBytes]) + "…"
            : Encoding.UTF8.GetString(line);
    }

    private ulong NewGlobal(string module, string name, byte code, int op, bool mapped)
    {
        if (mapped && _proto < 3)
        {
            (module, name) = PythonNames.Map(module, name);
        }

        CountRecord(op);
        var g = new PickleGlobal(module, name, op, Op.Name(code));
        if (_redirects is not null && Redirect(g.FullName) is { } redirect)
        {
            g = g with { Target = redirect.Target, Via = redirect.Via };
        }

        _a.Globals.Add(g);
        var path = g.EffectiveName;
        _globalPaths.Add(path);
        _globalRendered.Add(module == "builtins" ? Findings.TextSanitizer.Escape(name, 200) : Findings.TextSanitizer.Escape(path, 400));
        _globalArrays.Add([g]);
        return V.Make(ValKind.Global, _a.Globals.Count - 1);
    }

    private string StackGlobalPart(ReadOnlySpan<byte> data, ulong v, string what, int op)
    {
        var kind = V.Kind(v);
        if (kind == ValKind.Str)
        {
            return DecodeName(data, V.Offset(v));
        }

        // A value only known at load time could be a str (os.name is 'posix'): record it as dynamic,
        // which no allowlist matches.
        if (V.IsObject(kind) || kind == ValKind.Opaque)
        {
            return $"<dynamic: {Render(data, v, 160)}>";
        }

        Fail($"STACK_GLOBAL requires str {what}, got {Describe(kind)}", op);
        return string.Empty;
    }

    private ulong NewPersistentLoad(ReadOnlySpan<byte> data, ulong pid, int op)
    {
        CountRecord(op);
        var rendered = Render(data, pid, 300);
        _a.PersistentIds.Add(new PicklePersistentId(op, rendered, PersistentParts(data, pid)));
        _persistentIds.Add(pid);
        return V.Make(ValKind.PersistentLoad, _persistentIds.Count - 1);
    }

    private string[] PersistentParts(ReadOnlySpan<byte> data, ulong pid)
    {
        if (V.Kind(pid) != ValKind.Tuple)
        {
            return [PlainText(data, pid)];
        }

        Span<ulong> kids = stackalloc ulong[ObjectStore.MaxKept];
        var n = _store.CopyKept(V.Node(pid), kids);
        var parts = new string[n];
        for (var i = 0; i < n; i++)
        {
            parts[i] = PlainText(data, kids[i]);
        }

        return parts;
    }

    /// <summary>A value as a bare word: strings without quotes, globals as dotted names.</summary>
    private string PlainText(ReadOnlySpan<byte> data, ulong v) => V.Kind(v) switch
    {
        ValKind.Str => PlainString(data, V.Offset(v)),
        ValKind.Global => _globalPaths[V.Node(v)],
        _ => Render(data, v, 200),
    };

    /// <summary>A string as a bare word, sanitized; memoized strings (torch's 'storage', 'cpu') are rendered once.</summary>
    private string PlainString(ReadOnlySpan<byte> data, int off)
    {
        _plain ??= [];
        if (!_plain.TryGetValue(off, out var text))
        {
            text = Findings.TextSanitizer.Escape(DecodeStr(data, off, 200));
            _plain[off] = text;
        }

        return text;
    }

    // ---------------------------------------------------------------- state the pickle changes

    /// <summary>Names the pickle redirected (a module attribute set by BUILD, a sys.modules entry): dotted name to what it now is.</summary>
    private Dictionary<string, (string Target, string Via)>? _redirects;

    /// <summary>Extension codes registered by the pickle itself (copyreg.add_extension, copyreg._inverted_registry).</summary>
    private Dictionary<long, (string Module, string Name)>? _extensions;

    /// <summary>Values the pickle put into copyreg._extension_cache, by code.</summary>
    private Dictionary<long, ulong>? _extensionCache;

    /// <summary>The longest redirected prefix of <paramref name="fullName"/>, applied: <c>mylib.alias.system</c> with <c>mylib.alias</c> set to <c>posixpath.os</c> is <c>posixpath.os.system</c>.</summary>
    private (string Target, string Via)? Redirect(string fullName)
    {
        for (var end = fullName.Length; end > 0; end = fullName.LastIndexOf('.', end - 1))
        {
            if (_redirects!.TryGetValue(fullName[..end], out var hit))
            {
                return (hit.Target + fullName[end..], $"{fullName[..end]} {hit.Via}");
            }

            if (end == 0 || fullName.LastIndexOf('.', end - 1) < 0)
            {
                break;
            }
        }

        return null;
    }

    /// <summary>What a value stored into shared state makes a later lookup resolve to: its static path, else a rendering no allowlist matches.</summary>
    private string RedirectTarget(ReadOnlySpan<byte> data, ulong value)
    {
        if (StaticPath(value, out _) is { } path)
        {
            return path;
        }

        return V.IsObject(V.Kind(value)) ? $"<dynamic: {Render(data, value, 120)}>" : $"<data: {Render(data, value, 80)}>";
    }

    private void AddRedirect(ReadOnlySpan<byte> data, string name, ulong value, string via)
    {
        if (name.Length == 0 || name.Length > MaxNameBytes)
        {
            return;
        }

        (_redirects ??= new Dictionary<string, (string, string)>(StringComparer.Ordinal))[name] = (RedirectTarget(data, value), via);
    }

    /// <summary>The dotted name of an import or module a BUILD or SETITEM changes, or null for an object the pickle built.</summary>
    private string? SharedPath(ulong target)
    {
        var kind = V.Kind(target);
        if (kind == ValKind.Global)
        {
            return _globalPaths[V.Node(target)];
        }

        return kind == ValKind.Call && CallOf(target)!.Sem is Semantic.Module or Semantic.Attribute ? StaticPath(target, out _) : null;
    }

    /// <summary>
    /// SETITEM(S), APPEND(S) or ADDITEMS into an import: recorded as a call that changes shared state, and what it
    /// stores is remembered where a later lookup goes through it (extension registries, <c>sys.modules</c>, a
    /// module's <c>__dict__</c>).
    /// </summary>
    private void MutateShared(ReadOnlySpan<byte> data, ulong target, int from, int to, ValKind expected, byte code, int op)
    {
        if (SharedPath(target) is not { } path)
        {
            return;
        }

        CountRecord(op);
        var via = $"was set by {Op.Name(code)} at offset 0x{op:x}";
        if (expected == ValKind.Dict)
        {
            for (var i = from; i + 1 < to; i += 2)
            {
                var key = _stack[i];
                var value = _stack[i + 1];
                switch (path)
                {
                    case "copyreg._inverted_registry" when V.Kind(key) == ValKind.Int && V.Kind(value) == ValKind.Tuple && _store.ChildCount(V.Node(value)) == 2:
                        {
                            Span<ulong> pair = stackalloc ulong[ObjectStore.MaxKept];
                            if (_store.CopyKept(V.Node(value), pair) == 2 && V.Kind(pair[0]) == ValKind.Str && V.Kind(pair[1]) == ValKind.Str)
                            {
                                (_extensions ??= [])[V.IntValue(key)] = (DecodeName(data, V.Offset(pair[0])), DecodeName(data, V.Offset(pair[1])));
                            }

                            break;
                        }

                    case "copyreg._extension_cache" when V.Kind(key) == ValKind.Int:
                        (_extensionCache ??= [])[V.IntValue(key)] = value;
                        break;
                    case "sys.modules" when V.Kind(key) == ValKind.Str:
                        AddRedirect(data, DecodeName(data, V.Offset(key)), value, via);
                        break;
                    default:
                        if (path.EndsWith(".__dict__", StringComparison.Ordinal) && V.Kind(key) == ValKind.Str)
                        {
                            AddRedirect(data, path[..^".__dict__".Length] + "." + DecodeName(data, V.Offset(key)), value, via);
                        }

                        break;
                }
            }
        }

        List<PickleGlobal>? acc = null;
        var budget = 4096;
        Collect(target, ref acc, ref budget, 0);
        for (var i = from; i < to; i++)
        {
            Collect(_stack[i], ref acc, ref budget, 0);
        }

        var method = expected switch { ValKind.Dict => "__setitem__", ValKind.List => "append", _ => "add" };
        var sb = RentBuilder();
        sb.Append(Render(data, target, 160)).Append('.').Append(method).Append('(');
        for (var i = from; i < to && sb.Length < 400; i++)
        {
            if (i > from)
            {
                sb.Append(", ");
            }

            RenderInto(data, sb, _stack[i], 1, 400);
        }

        sb.Append(')');
        var rendered = ReturnBuilder(sb);
        _a.Calls.Add(new PickleCall(path + "." + method, null, rendered, Op.Name(code), op, acc is null ? [] : [.. acc]) { Mutates = path });
    }

    /// <summary>BUILD on an import or module: the state's names become attributes a later lookup resolves through.</summary>
    private void RedirectState(ReadOnlySpan<byte> data, string path, ulong state, int op)
    {
        var via = $"was set by BUILD at offset 0x{op:x}";
        Span<ulong> parts = stackalloc ulong[ObjectStore.MaxKept];
        var dicts = new List<ulong>(2);
        if (V.Kind(state) == ValKind.Dict)
        {
            dicts.Add(state);
        }
        else if (V.Kind(state) == ValKind.Tuple && _store.CopyKept(V.Node(state), parts) == 2)
        {
            // (state, slotstate): the first updates __dict__, the second is setattr'd.
            dicts.AddRange(parts[..2].ToArray().Where(p => V.Kind(p) == ValKind.Dict));
        }

        Span<ulong> items = stackalloc ulong[ObjectStore.MaxKept];
        foreach (var dict in dicts)
        {
            var n = _store.CopyKept(V.Node(dict), items);
            for (var i = 0; i + 1 < n; i += 2)
            {
                if (V.Kind(items[i]) == ValKind.Str)
                {
                    AddRedirect(data, path + "." + DecodeName(data, V.Offset(items[i])), items[i + 1], via);
                }
            }
        }
    }

    // ---------------------------------------------------------------- calls

    private ulong MakeCall(ReadOnlySpan<byte> data, ulong callable, ulong args, ulong kwargs, byte code, int op)
    {
        CountRecord(op);
        var info = new CallInfo { Callable = callable, Args = args, Kwargs = kwargs, Opcode = code, Offset = op };
        var path = StaticPath(callable, out var isModule);
        info.Resolved = isModule ? null : path;
        if (code != Op.Reduce)
        {
            info.ClassPath = info.Resolved;
        }
        else if (info.Resolved is "copyreg._reconstructor" or "copyreg.__newobj__" or "copyreg.__newobj_ex__")
        {
            info.ClassPath = StaticPath(Arg(args, 0), out var m) is { } cls && !m ? cls : null;
        }

        var id = _calls.Count;
        _calls.Add(info);
        info.Globals = CollectGlobals(callable, args, kwargs);
        Evaluate(data, info);
        var callableText = Render(data, callable, 200);
        info.Rendered = RenderCall(data, info);
        _a.Calls.Add(new PickleCall(callableText, info.Resolved, info.Rendered, Op.Name(code), op, info.Globals) { Mutates = info.Mutates });
        return V.Make(ValKind.Call, id);
    }

    private CallInfo? CallOf(ulong v) => V.Kind(v) == ValKind.Call ? _calls[V.Node(v)] : null;

    private PickleGlobal GlobalOf(ulong v) => _a.Globals[V.Node(v)];

    /// <summary>The dotted name a value statically is: a global, a module from an import call, an attribute of either.</summary>
    private string? StaticPath(ulong v, out bool isModule)
    {
        isModule = false;
        switch (V.Kind(v))
        {
            case ValKind.Global:
                return _globalPaths[V.Node(v)];
            case ValKind.Call:
                var info = CallOf(v)!;
                if (info.Sem == Semantic.Module)
                {
                    isModule = true;
                    return info.SemText;
                }

                return info.Sem == Semantic.Attribute ? info.SemText : null;
            default:
                return null;
        }
    }

    /// <summary>Static evaluation of the calls that matter to a scanner: dynamic imports, getattr, nested loads.</summary>
    private void Evaluate(ReadOnlySpan<byte> data, CallInfo info)
    {
        var args = info.Args;
        if (CallOf(info.Callable) is { } inner)
        {
            switch (inner.Sem)
            {
                case Semantic.AttrGetter when StaticPath(Arg(args, 0), out _) is { } target:
                    info.Sem = Semantic.Attribute;
                    info.SemText = target + "." + inner.SemText;
                    return;
                case Semantic.UnpicklerLoad:
                    AnalyzeNested(data, inner.SemValue, "pickle.Unpickler.load");
                    return;
            }
        }

        var resolved = info.Resolved;
        if (resolved is null)
        {
            return;
        }

        switch (resolved)
        {
            case "importlib.import_module":
                if (StrArg(data, args, 0) is { Length: > 0 } module && module[0] != '.')
                {
                    info.Sem = Semantic.Module;
                    info.SemText = module;
                }

                break;
            case "builtins.__import__" or "importlib.__import__":
                if (StrArg(data, args, 0) is { Length: > 0 } imported)
                {
                    var fromList = Arg(args, 3);
                    var full = fromList != 0 && IsNonEmpty(fromList);
                    info.Sem = Semantic.Module;
                    info.SemText = full ? imported : imported.Split('.')[0];
                }

                break;
            case "builtins.getattr":
                {
                    var target = Arg(args, 0);
                    var attribute = StrArg(data, args, 1);
                    if (attribute is null)
                    {
                        break;
                    }

                    if (CallOf(target) is { Sem: Semantic.Unpickler } unpickler && attribute == "load")
                    {
                        info.Sem = Semantic.UnpicklerLoad;
                        info.SemValue = unpickler.SemValue;
                    }
                    else if (StaticPath(target, out _) is { } basePath)
                    {
                        info.Sem = Semantic.Attribute;
                        info.SemText = basePath + "." + attribute;
                    }

                    break;
                }

            case "operator.getitem" or "_operator.getitem":
                if (StaticPath(Arg(args, 0), out _) == "sys.modules" && StrArg(data, args, 1) is { Length: > 0 } key)
                {
                    info.Sem = Semantic.Module;
                    info.SemText = key;
                }

                break;
            case "torch.fx.graph_module.reduce_graph_module" or "torch.fx.graph_module.reduce_package_graph_module" or "torch.fx.graph_module.reduce_deploy_graph_module":
                HasGraphModuleCalls = true; // their code is attached once the pickle has been read (GraphModuleCode)
                break;
            case "copyreg.add_extension":
                info.Mutates = "copyreg._inverted_registry";
                if (StrArg(data, args, 0) is { } extModule && StrArg(data, args, 1) is { } extName && V.Kind(Arg(args, 2)) == ValKind.Int)
                {
                    (_extensions ??= [])[V.IntValue(Arg(args, 2))] = (extModule, extName);
                }

                break;
            case "operator.attrgetter" or "_operator.attrgetter":
                if (ArgCount(args) == 1 && StrArg(data, args, 0) is { Length: > 0 } attr)
                {
                    info.Sem = Semantic.AttrGetter;
                    info.SemText = attr;
                }

                break;
            case "_codecs.encode" or "codecs.encode":
                if (V.Kind(Arg(args, 0)) == ValKind.Str)
                {
                    info.Sem = Semantic.EncodedBytes;
                    info.SemValue = Arg(args, 0);
                    info.SemText = ArgCount(args) > 1 ? StrArg(data, args, 1) ?? "?" : "utf-8";
                }

                break;
            case "builtins.bytes" or "builtins.bytearray" or "io.BytesIO" or "_io.BytesIO":
                if (Arg(args, 0) is var wrapped && wrapped != 0)
                {
                    info.Sem = Semantic.BytesWrapper;
                    info.SemValue = wrapped;
                }

                break;
            default:
                if (UnpicklerClasses.Contains(resolved))
                {
                    info.Sem = Semantic.Unpickler;
                    info.SemValue = Arg(args, 0);
                }
                else if (LoadFunctions.Contains(resolved))
                {
                    AnalyzeNested(data, Arg(args, 0), resolved);
                }
                else if (_limits.Deserializers.TryGetValue(resolved, out var position))
                {
                    AnalyzeNested(data, Arg(args, position), resolved);
                }

                break;
        }
    }

    private bool IsNonEmpty(ulong v)
    {
        var kind = V.Kind(v);
        if (V.IsContainer(kind))
        {
            return _store.ChildCount(V.Node(v)) > 0;
        }

        return kind is not (ValKind.None or ValKind.Empty);
    }

    private ulong Arg(ulong args, int index)
    {
        if (V.Kind(args) != ValKind.Tuple)
        {
            return 0;
        }

        var id = V.Node(args);
        if (index == 0)
        {
            return _store.Kept(id) > 0 ? _store.GetC0(id) : 0;
        }

        Span<ulong> kids = stackalloc ulong[ObjectStore.MaxKept];
        return index < _store.CopyKept(id, kids) ? kids[index] : 0;
    }

    private int ArgCount(ulong args) => V.Kind(args) == ValKind.Tuple ? _store.ChildCount(V.Node(args)) : -1;

    private string? StrArg(ReadOnlySpan<byte> data, ulong args, int index)
    {
        var v = Arg(args, index);
        return V.Kind(v) == ValKind.Str ? DecodeName(data, V.Offset(v)) : null;
    }

    /// <summary>Every import the given values are built from (deduplicated, bounded).</summary>
    private PickleGlobal[] CollectGlobals(ulong a, ulong b, ulong c)
    {
        // The usual case: a global called with plain arguments shares one array per global.
        if (V.Kind(a) == ValKind.Global && !_store.IsInteresting(b) && !_store.IsInteresting(c))
        {
            return _globalArrays[V.Node(a)];
        }

        if (V.Kind(a) == ValKind.Call && !_store.IsInteresting(b) && !_store.IsInteresting(c))
        {
            return CallOf(a)!.Globals;
        }

        List<PickleGlobal>? acc = null;
        var budget = 4096;
        Collect(a, ref acc, ref budget, 0);
        Collect(b, ref acc, ref budget, 0);
        Collect(c, ref acc, ref budget, 0);
        return acc is null ? [] : [.. acc];
    }

    private void Collect(ulong v, ref List<PickleGlobal>? acc, ref int budget, int depth)
    {
        if (v == 0 || budget-- <= 0 || depth > 32)
        {
            return;
        }

        var kind = V.Kind(v);
        switch (kind)
        {
            case ValKind.Global:
                AddGlobal(GlobalOf(v), ref acc);
                return;
            case ValKind.Call:
                foreach (var g in CallOf(v)!.Globals)
                {
                    AddGlobal(g, ref acc);
                }

                return;
            case ValKind.PersistentLoad:
                Collect(_persistentIds[V.Node(v)], ref acc, ref budget, depth + 1);
                return;
        }

        if (!V.IsContainer(kind) || !_store.IsInteresting(v))
        {
            return;
        }

        var id = V.Node(v);
        Span<ulong> kids = stackalloc ulong[ObjectStore.MaxKept];
        var n = _store.CopyKept(id, kids);
        for (var i = 0; i < n; i++)
        {
            if (_store.IsInteresting(kids[i]))
            {
                Collect(kids[i], ref acc, ref budget, depth + 1);
            }
        }

        if (_store.Extras(id) is { } extras)
        {
            foreach (var e in extras)
            {
                Collect(e, ref acc, ref budget, depth + 1);
            }
        }
    }

    private static void AddGlobal(PickleGlobal g, ref List<PickleGlobal>? acc)
    {
        acc ??= [];
        if (acc.Count < 64 && !acc.Contains(g))
        {
            acc.Add(g);
        }
    }

    // ---------------------------------------------------------------- BUILD

    private int Build(ReadOnlySpan<byte> data, int op, int pos)
    {
        NeedStack(2, Op.Build, op);
        var state = _stack[--_sp];
        var inst = _stack[_sp - 1];
        CountRecord(op);
        var target = CallOf(inst);
        if (target is not null && target.State == 0)
        {
            target.State = state;
        }

        var callable = Render(data, inst, 160) + ".__setstate__";
        var resolved = target?.ClassPath is { } cls ? cls + ".__setstate__" : null;
        var globals = CollectGlobals(inst, state, 0);
        var rendered = callable + "(" + Render(data, state, 240) + ")";
        var shared = SharedPath(inst);
        if (shared is not null)
        {
            // BUILD on an import (a class, function or module): its __dict__ (and, with slot state, its attributes)
            // change for every later lookup, the pickle's own included.
            RedirectState(data, shared, state, op);
        }

        _a.Calls.Add(new PickleCall(callable, resolved, rendered, "BUILD", op, globals) { Mutates = shared });

        // joblib's loader replaces any wrapper instance after BUILD, however it was constructed.
        if (target is not null && (target.ClassPath ?? target.Resolved) is { } path && JoblibArrays.IsArrayWrapper(path))
        {
            pos = JoblibArray(data, target, state, op, pos);
            _stack[_sp - 1] = V.Make(ValKind.Opaque, 0);
        }

        return pos;
    }

    // ---------------------------------------------------------------- nested pickles

    private void AnalyzeNested(ReadOnlySpan<byte> data, ulong v, string via)
    {
        if (!TryGetBytes(data, v, 0, out var bytes))
        {
            return;
        }

        if (!(_nestedSeen ??= []).Add(bytes.Origin))
        {
            return;
        }

        var span = bytes.Array is { } array ? array : data.Slice(bytes.Start, bytes.Length);
        PickleAnalysis sub;
        if (span.Length > _limits.MaxValueBytes)
        {
            sub = Failed(MalformedInputException.Create(InputErrorKind.OverLimit, $"the bytes passed to {via} ({span.Length:N0}) exceed the limit of {_limits.MaxValueBytes:N0} for values analysed", 0));
        }
        else if (_depth + 1 > _limits.MaxNestingDepth)
        {
            sub = Failed(MalformedInputException.Create(InputErrorKind.OverLimit, $"pickle nesting depth exceeds the limit of {_limits.MaxNestingDepth}", 0));
        }
        else if (span.StartsWith("PK\x03\x04"u8))
        {
            sub = Failed(MalformedInputException.Create(InputErrorKind.Unsupported, $"the bytes passed to {via} are a zip archive (a torch zip checkpoint), not a bare pickle; they are not analysed here", 0));
        }
        else
        {
            sub = PickleMachine.AnalyzeCore(span, null, _limits, _ct, _depth + 1, _deadline);
        }

        _a.Nested.Add(new NestedPickle(bytes.Origin, via, sub));
    }

    private static PickleAnalysis Failed(MalformedInputException error) => new() { Error = error };

    private readonly record struct BytesRef(int Start, int Length, byte[]? Array, int Origin);

    /// <summary>The bytes a value stands for, when static analysis knows them.</summary>
    private bool TryGetBytes(ReadOnlySpan<byte> data, ulong v, int depth, out BytesRef result)
    {
        result = default;
        var kind = V.Kind(v);
        switch (kind)
        {
            case ValKind.Bytes or ValKind.ByteArray or ValKind.Str:
                {
                    var off = V.Offset(v);
                    if (TryPayload(data, off, out var start, out var length))
                    {
                        result = new BytesRef(start, length, null, off);
                        return true;
                    }

                    var decoded = DecodeStr(data, off, _limits.MaxValueBytes);
                    var array = data[off] == Op.String ? Encoding.Latin1.GetBytes(decoded) : Encoding.UTF8.GetBytes(decoded);
                    result = new BytesRef(0, array.Length, array, off);
                    return true;
                }

            case ValKind.Call when depth < 4:
                {
                    var info = CallOf(v)!;
                    if (info.Sem == Semantic.BytesWrapper)
                    {
                        return TryGetBytes(data, info.SemValue, depth + 1, out result);
                    }

                    if (info.Sem != Semantic.EncodedBytes)
                    {
                        return false;
                    }

                    var off = V.Offset(info.SemValue);
                    var text = DecodeStr(data, off, _limits.MaxValueBytes);
                    var encoding = (info.SemText ?? "utf-8").ToLowerInvariant().Replace('_', '-');
                    byte[] bytes;
                    if (encoding is "latin1" or "latin-1" or "iso-8859-1" or "iso8859-1" or "l1")
                    {
                        foreach (var ch in text)
                        {
                            if (ch > 0xff)
                            {
                                return false;
                            }
                        }

                        bytes = Encoding.Latin1.GetBytes(text);
                    }
                    else if (encoding is "utf-8" or "utf8")
                    {
                        bytes = Encoding.UTF8.GetBytes(text);
                    }
                    else
                    {
                        return false;
                    }

                    result = new BytesRef(0, bytes.Length, bytes, off);
                    return true;
                }

            default:
                return false;
        }
    }

    // ---------------------------------------------------------------- strings, lazily

    /// <summary>Where the raw payload of a counted string/bytes opcode is (the opcode was decoded and checked when it was pushed).</summary>
    private static bool TryPayload(ReadOnlySpan<byte> data, int off, out int start, out int length)
    {
        var ins = new PickleOpcodeReader(data, off).Read();
        if (PickleOpcodes.Lookup(ins.Opcode) is { IsCounted: true })
        {
            start = ins.ArgumentOffset;
            length = ins.Argument.Length;
            return true;
        }

        start = 0;
        length = 0;
        return false;
    }

    /// <summary>Decodes the string pushed by the opcode at <paramref name="off"/>, at most about <paramref name="maxBytes"/> of it.</summary>
    private static string DecodeStr(ReadOnlySpan<byte> data, int off, int maxBytes)
    {
        var ins = new PickleOpcodeReader(data, off).Read();
        var arg = ins.Argument;
        switch (ins.Opcode)
        {
            case Op.ShortBinString or Op.BinString:
                return TextCodecs.DecodeLatin1(arg[..Math.Min(arg.Length, maxBytes)]);
            case Op.String:
                {
                    var body = arg[1..^1];
                    var bytes = TextCodecs.EscapeDecode(body.Length > maxBytes + 8 ? body[..(maxBytes + 8)] : body, out _)
                        ?? TextCodecs.EscapeDecode(body, out _) ?? [];
                    return TextCodecs.DecodeLatin1(bytes.AsSpan(0, Math.Min(bytes.Length, maxBytes)));
                }

            case Op.Unicode:
                {
                    var text = TextCodecs.RawUnicodeEscapeDecode(arg.Length > maxBytes + 16 ? arg[..(maxBytes + 16)] : arg, out _)
                        ?? TextCodecs.RawUnicodeEscapeDecode(arg, out _) ?? string.Empty;
                    return text.Length > maxBytes ? text[..maxBytes] : text;
                }

            case Op.PersId:
                return TextCodecs.DecodeLatin1(arg.Length > maxBytes ? arg[..maxBytes] : arg);
            default:
                return TextCodecs.DecodeUtf8SurrogatePass(arg[..Math.Min(arg.Length, maxBytes)]);
        }
    }

    /// <summary>A string used as a name (module, attribute): decoded once per opcode, bounded.</summary>
    private string DecodeName(ReadOnlySpan<byte> data, int off)
    {
        _names ??= [];
        if (!_names.TryGetValue(off, out var name))
        {
            name = DecodeStr(data, off, MaxNameBytes);
            _names[off] = name;
        }

        return name;
    }
}
