using System.Globalization;
using TrainGuard.Findings;
using TrainGuard.Review.Parsing;
using TrainGuard.Review.Rules;

namespace TrainGuard.Review.Analysis;

/// <summary>
/// Reads one version of a Python file (its <see cref="PyNode"/> tree) and reports every sabotage pattern of the
/// <c>review</c> rules in it, and the safeguards it holds. Names are resolved through the file's imports
/// (<c>import torch.optim as optim</c>, <c>from os import kill</c>). The caller compares two versions.
/// </summary>
public sealed class PythonAnalyzer
{
    private static readonly string[] RankZeroCalls = ["is_main_process", "is_local_main_process", "is_world_process_zero", "is_rank_zero"];
    private static readonly string[] ClockCalls = ["time.time", "time.perf_counter", "time.monotonic", "time.time_ns", "time.perf_counter_ns", "time.monotonic_ns"];

    private readonly ReviewRule _patch = ReviewRules.ByDetector("patch");
    private readonly ReviewRule _kill = ReviewRules.ByDetector("kill");
    private readonly ReviewRule _spawn = ReviewRules.ByDetector("spawn");
    private readonly ReviewRule _listener = ReviewRules.ByDetector("listener");
    private readonly ReviewRule _persistence = ReviewRules.ByDetector("persistence");
    private readonly ReviewRule _dynamic = ReviewRules.ByDetector("dynamic-code");
    private readonly ReviewRule _hijack = ReviewRules.ByDetector("import-hijack");
    private readonly ReviewRule _unsafeLoad = ReviewRules.ByDetector("unsafe-load");
    private readonly ReviewRule _negation = ReviewRules.ByDetector("negation");
    private readonly ReviewRule _seed = ReviewRules.ByDetector("entropy-seed");
    private readonly ReviewRule _trigger = ReviewRules.ByDetector("trigger");
    private readonly ReviewRule _stall = ReviewRules.ByDetector("stall");
    private readonly ReviewRule _weightsOnly = ReviewRules.ByDetector("safeguard-weights-only");
    private readonly ReviewRule _seedKept = ReviewRules.ByDetector("safeguard-seed");
    private readonly ReviewRule _setEpoch = ReviewRules.ByDetector("safeguard-set-epoch");
    private readonly ReviewRule _deterministic = ReviewRules.ByDetector("safeguard-deterministic");

    /// <summary>Every hit and safeguard in <paramref name="module"/>.</summary>
    public IReadOnlyList<CodeHit> Analyze(PyNode module)
    {
        ArgumentNullException.ThrowIfNull(module);
        var walk = new Walk(this, module);
        walk.Visit(module, 0);
        return walk.Hits;
    }

    private sealed class Walk
    {
        private readonly PythonAnalyzer _a;
        private readonly Dictionary<string, string> _imports = new(StringComparer.Ordinal);
        private readonly HashSet<string> _tainted = new(StringComparer.Ordinal);
        private readonly List<string> _functions = [];
        private readonly HashSet<PyNode> _docstrings = [];
        private readonly bool _usesSockets;
        private int _rankZeroGuards;

        public Walk(PythonAnalyzer analyzer, PyNode module)
        {
            _a = analyzer;
            var all = module.DescendantsAndSelf().ToList();
            foreach (var node in all)
            {
                switch (node.Kind)
                {
                    case "Import":
                        foreach (var alias in node.Children.Where(c => c.Name is { Length: > 0 }))
                        {
                            if (alias.Value is { } asName)
                            {
                                _imports[asName] = alias.Name!;
                            }
                            else
                            {
                                var top = alias.Name!.Split('.')[0];
                                _imports.TryAdd(top, top);
                            }
                        }

                        break;
                    case "ImportFrom":
                        var module_ = node.Value ?? string.Empty;
                        foreach (var alias in node.Children.Where(c => c.Name is { Length: > 0 } && c.Name != "*"))
                        {
                            _imports[alias.Value ?? alias.Name!] = module_.Length == 0 ? alias.Name! : module_ + "." + alias.Name;
                        }

                        break;
                    case "Block":
                        foreach (var statement in node.Children)
                        {
                            if (statement is { Kind: "Expr", Children: [{ Kind: "Str" } doc] })
                            {
                                _docstrings.Add(doc);
                            }
                        }

                        break;
                }
            }

            // Names assigned from what reads the environment (world size, rank, hostname...), twice for chains.
            for (var round = 0; round < 2; round++)
            {
                foreach (var node in all.Where(n => n.Kind == "Assign" && n.Children.Count >= 2))
                {
                    if (ReadsEnvironment(node.Children[^1]))
                    {
                        foreach (var target in node.Children.Take(node.Children.Count - 1).SelectMany(t => t.DescendantsAndSelf()).Where(t => t.Kind == "Name"))
                        {
                            _tainted.Add(target.Name!);
                        }
                    }
                }
            }

            _usesSockets = all.Any(n => n.Kind == "Call" && Qualified(n.Children[0]) is "socket.socket" or "socket.create_connection");
        }

        public List<CodeHit> Hits { get; } = [];

        public void Visit(PyNode node, int depth)
        {
            if (depth > 300)
            {
                return;
            }

            switch (node.Kind)
            {
                case "FunctionDef":
                    _functions.Add(node.Name ?? string.Empty);
                    VisitChildren(node, depth);
                    _functions.RemoveAt(_functions.Count - 1);
                    return;
                case "If":
                case "While":
                    VisitBranch(node, depth);
                    return;
                case "Call":
                    CheckCall(node);
                    break;
                case "Assign":
                    CheckAssign(node);
                    break;
                case "AugAssign":
                    CheckAugAssign(node);
                    break;
                case "Str" when !_docstrings.Contains(node):
                    CheckString(node);
                    break;
            }

            VisitChildren(node, depth);
        }

        private void VisitChildren(PyNode node, int depth)
        {
            foreach (var child in node.Children)
            {
                Visit(child, depth + 1);
            }
        }

        private void VisitBranch(PyNode node, int depth)
        {
            var test = node.Child(0);
            var trigger = test is null ? null : TriggerIn(test);
            var rankZero = test is not null && IsRankZeroGuard(test);
            if (node.Kind == "While" && test is not null)
            {
                CheckBusyLoop(node, test);
            }

            var index = -1;
            if (trigger is not null)
            {
                index = Hits.Count;
                Add(_a._trigger, node, $"branch taken only when {trigger}", _a._trigger.Severity);
            }

            if (test is not null)
            {
                Visit(test, depth + 1);
            }

            if (rankZero)
            {
                _rankZeroGuards++;
            }

            var before = Hits.Count;
            foreach (var child in node.Children.Skip(1))
            {
                Visit(child, depth + 1);
            }

            if (rankZero)
            {
                _rankZeroGuards--;
            }

            if (index >= 0 && Hits.Skip(before).Any(h => !h.IsSafeguard))
            {
                var inner = Hits.Skip(before).First(h => !h.IsSafeguard);
                Hits[index] = Hits[index] with
                {
                    Severity = Severity.Critical,
                    Message = Hits[index].Message + $"; the branch holds {inner.Rule.Id} ({inner.Rule.Title}) at line {inner.Line}",
                };
            }
        }

        private void Add(ReviewRule rule, PyNode node, string message, Severity? severity = null, bool safeguard = false) =>
            Hits.Add(new CodeHit(rule, node.Line, safeguard || node.Kind is "If" or "While" ? message : PyNodeText.Render(node), message, severity ?? rule.Severity, safeguard));

        // ---- calls -------------------------------------------------------------------------------------------------

        private void CheckCall(PyNode call)
        {
            var callee = call.Children[0];
            var q = Qualified(callee);
            var method = callee.Kind == "Attribute" ? callee.Name : callee.Kind == "Name" ? callee.Name : null;
            var args = call.Children.Skip(1).Where(c => c.Kind != "Keyword").ToList();
            var text = PyNodeText.Render(call);

            // Patching and global hooks.
            if (_a._patch.MatchesCall(q))
            {
                Add(_a._patch, call, $"installs a global hook: {text}");
            }
            else if (q == "setattr" && args.Count >= 1 && Qualified(args[0]) is { } patched && IsPatchedTarget(patched))
            {
                Add(_a._patch, call, $"replaces an attribute of {patched}: {text}");
            }

            // Processes.
            var kills = _a._kill.MatchesCall(q);
            if (kills)
            {
                Add(_a._kill, call, $"kills a process: {text}");
            }
            else if (_a._spawn.MatchesCall(q))
            {
                var program = CommandWords(args.FirstOrDefault());
                if (program.Any(w => _a._kill.Names.Contains(Path.GetFileName(w), StringComparer.Ordinal)))
                {
                    Add(_a._kill, call, $"runs a kill command: {text}");
                }
                else if (program.Count == 0 || !IsLiteralCommand(args.FirstOrDefault()) || !_a._spawn.Names.Contains(Path.GetFileName(program[0]), StringComparer.Ordinal))
                {
                    Add(_a._spawn, call, $"starts a process: {text}");
                }
            }

            // Listeners, ptys, redirected descriptors.
            if (_a._listener.MatchesCall(q))
            {
                Add(_a._listener, call, $"opens remote access: {text}");
            }
            else if (_usesSockets && callee.Kind == "Attribute" && _a._listener.Names.Contains(method ?? string.Empty, StringComparer.Ordinal))
            {
                Add(_a._listener, call, $"a socket {method}s: {text}");
            }

            if (_a._persistence.MatchesCall(q))
            {
                Add(_a._persistence, call, $"locates the interpreter's start-up folders: {text}");
            }

            CheckDynamicCode(call, q, args, text);

            if (_a._hijack.MatchesCall(q))
            {
                Add(_a._hijack, call, $"changes the import machinery: {text}");
            }
            else if (q == "__import__" && args.Count > 0 && args[0].Kind != "Str")
            {
                Add(_a._hijack, call, $"imports a computed name: {text}");
            }

            CheckLoad(call, q, text);
            CheckNegationCall(call, callee, method, args, text);

            // Seeds.
            if (_a._seed.MatchesCall(q) && args.Concat(Keywords(call).Select(k => k.Children[0])).SelectMany(a => a.DescendantsAndSelf()).FirstOrDefault(n => n.Kind == "Call" && _a._seed.MatchesName(Qualified(n.Children[0]))) is { } entropy)
            {
                Add(_a._seed, call, $"seeds from {PyNodeText.Render(entropy)}: {text}");
            }
            else if (_a._seedKept.MatchesCall(q) && args.Count > 0)
            {
                Add(_a._seedKept, call, $"{ShortName(q!)}(...)", safeguard: true);
            }

            // Stalls in the hot path.
            if (_a._stall.MatchesCall(q) && InHotFunction() is { } function)
            {
                var constant = args.FirstOrDefault() is { Kind: "Num" } n && double.TryParse(n.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) ? seconds : (double?)null;
                if (!(_rankZeroGuards > 0 && constant is <= 10))
                {
                    Add(_a._stall, call, $"sleeps inside {function}(): {text}");
                }
            }

            // Safeguards.
            if (q == "torch.load" && Keyword(call, "weights_only") is { Kind: "Const", Name: "True" })
            {
                Add(_a._weightsOnly, call, "torch.load(weights_only=True)", safeguard: true);
            }

            if (method == "set_epoch" && callee.Kind == "Attribute")
            {
                Add(_a._setEpoch, call, "set_epoch(...)", safeguard: true);
            }

            if (q == "torch.use_deterministic_algorithms" && args.FirstOrDefault() is { Kind: "Const" } flag)
            {
                if (flag.Name == "True")
                {
                    Add(_a._deterministic, call, "torch.use_deterministic_algorithms(True)", safeguard: true);
                }
                else
                {
                    Add(_a._deterministic, call, $"turns determinism off: {text}");
                }
            }
        }

        private void CheckDynamicCode(PyNode call, string? q, List<PyNode> args, string text)
        {
            if (!_a._dynamic.MatchesCall(q))
            {
                return;
            }

            if (q is "marshal.loads" or "types.FunctionType" or "types.CodeType")
            {
                Add(_a._dynamic, call, $"builds code objects at run time: {text}");
                return;
            }

            var first = args.FirstOrDefault();
            if (first is null || first.Kind == "Str")
            {
                return;
            }

            var built = first.DescendantsAndSelf().Any(n => n.Kind is "BinOp" or "FString"
                || (n.Kind == "Call" && _a._dynamic.Names.Contains(n.Children[0].Kind == "Attribute" ? n.Children[0].Name ?? string.Empty : n.Children[0].Name ?? string.Empty, StringComparer.Ordinal)));
            var isCompileResult = first.Kind == "Call" && Qualified(first.Children[0]) is "compile" or "builtins.compile";
            Add(_a._dynamic, call, built || isCompileResult ? $"runs decoded or assembled text: {text}" : $"runs text computed at run time: {text}",
                built || isCompileResult ? Severity.Critical : Severity.High);
        }

        private void CheckLoad(PyNode call, string? q, string text)
        {
            if (Keyword(call, "trust_remote_code") is { Kind: "Const", Name: "True" })
            {
                Add(_a._unsafeLoad, call, $"runs code from the model hub: {text}");
                return;
            }

            if (!_a._unsafeLoad.MatchesCall(q))
            {
                return;
            }

            switch (q)
            {
                case "torch.load":
                    if (Keyword(call, "weights_only") is { Kind: "Const", Name: "False" })
                    {
                        Add(_a._unsafeLoad, call, $"unpickles arbitrary objects: {text}");
                    }

                    break;
                case "numpy.load":
                    if (Keyword(call, "allow_pickle") is { Kind: "Const", Name: "True" })
                    {
                        Add(_a._unsafeLoad, call, $"unpickles arbitrary objects: {text}");
                    }

                    break;
                default:
                    if (!q!.EndsWith(".from_pretrained", StringComparison.Ordinal))
                    {
                        Add(_a._unsafeLoad, call, $"deserialises with pickle: {text}");
                    }

                    break;
            }
        }

        private void CheckNegationCall(PyNode call, PyNode callee, string? method, List<PyNode> args, string text)
        {
            if (callee.Kind == "Attribute" && method == "neg_" && Mentions(callee.Children[0], "grad"))
            {
                Add(_a._negation, call, $"negates gradients: {text}");
            }
            else if (callee.Kind == "Attribute" && method is "mul_" or "div_" && args.FirstOrDefault() is { } factor && IsNegativeNumber(factor))
            {
                Add(_a._negation, call, $"flips the sign in place: {text}");
            }

            if (Keyword(call, "maximize") is { Kind: "Const", Name: "True" })
            {
                Add(_a._negation, call, $"optimizer climbs the loss (maximize=True): {text}");
            }

            foreach (var keyword in Keywords(call).Where(k => k.Name is "lr" or "learning_rate"))
            {
                if (IsNegativeNumber(keyword.Children[0]))
                {
                    Add(_a._negation, call, $"negative learning rate: {text}");
                }
            }
        }

        // ---- assignments -------------------------------------------------------------------------------------------

        private void CheckAssign(PyNode assign)
        {
            var value = assign.Children[^1];
            foreach (var target in assign.Children.Take(assign.Children.Count - 1))
            {
                var q = Qualified(target);
                if (q is not null && IsPatchedTarget(q))
                {
                    Add(_a._patch, assign, $"replaces {q}: {PyNodeText.Render(assign)}");
                }

                if (target.Kind == "Subscript" && Qualified(target.Children[0]) == "sys.modules")
                {
                    Add(_a._hijack, assign, $"replaces a loaded module: {PyNodeText.Render(assign)}");
                }
                else if (q is not null && _a._hijack.Names.Contains(q, StringComparer.Ordinal))
                {
                    Add(_a._hijack, assign, $"replaces {q}: {PyNodeText.Render(assign)}");
                }

                if (value is { Kind: "UnaryOp", Name: "-" } && (IsLearningRate(target) || Mentions(target, "grad") || (target.Kind == "Name" && target.Name == "loss" && Mentions(value, "loss"))))
                {
                    Add(_a._negation, assign, $"negates {PyNodeText.Render(target)}: {PyNodeText.Render(assign)}");
                }
                else if (IsLearningRate(target) && IsNegativeNumber(value))
                {
                    Add(_a._negation, assign, $"negative learning rate: {PyNodeText.Render(assign)}");
                }

                if (q == "torch.backends.cudnn.deterministic" && value.Kind == "Const")
                {
                    if (value.Name == "True")
                    {
                        Add(_a._deterministic, assign, "torch.backends.cudnn.deterministic = True", safeguard: true);
                    }
                    else
                    {
                        Add(_a._deterministic, assign, $"turns determinism off: {PyNodeText.Render(assign)}");
                    }
                }
            }
        }

        private void CheckAugAssign(PyNode assign)
        {
            var target = assign.Children[0];
            if (assign.Name is "*=" or "/=" && IsNegativeNumber(assign.Children[1]) && (Mentions(target, "grad") || IsLearningRate(target)))
            {
                Add(_a._negation, assign, $"flips the sign of {PyNodeText.Render(target)}: {PyNodeText.Render(assign)}");
            }

            if (Qualified(target) is { } q && IsPatchedTarget(q))
            {
                Add(_a._patch, assign, $"changes {q}: {PyNodeText.Render(assign)}");
            }
        }

        private void CheckString(PyNode node)
        {
            var value = node.Value ?? string.Empty;
            if (value.Length is 0 or > 4096)
            {
                return;
            }

            if (_a._persistence.Names.FirstOrDefault(n => value.Contains(n, StringComparison.Ordinal)) is { } location)
            {
                Add(_a._persistence, node, $"names {location}: {PyNodeText.Render(node)}");
            }
        }

        private void CheckBusyLoop(PyNode loop, PyNode test)
        {
            var clock = test.DescendantsAndSelf().Any(n => n.Kind == "Call" && ClockCalls.Contains(Qualified(n.Children[0]) ?? string.Empty, StringComparer.Ordinal));
            var body = loop.Child(1);
            var idle = body is not null && body.Children.All(s => s.Kind is "pass_statement" or "Pass" or "continue_statement" or "Continue" || s is { Kind: "Expr", Children: [{ Kind: "Str" or "Num" or "Const" }] });
            if (clock && idle && InHotFunction() is { } function)
            {
                Add(_a._stall, loop, $"busy-waits inside {function}(): while {PyNodeText.Render(test)}");
            }
        }

        // ---- conditions --------------------------------------------------------------------------------------------

        /// <summary>What makes <paramref name="test"/> depend on scale, place, person or date, or null.</summary>
        private string? TriggerIn(PyNode test)
        {
            foreach (var node in test.DescendantsAndSelf())
            {
                if (node.Kind == "Compare" && node.Children.Count >= 2)
                {
                    var reads = node.Children.FirstOrDefault(ReadsEnvironment);
                    var constant = node.Children.FirstOrDefault(IsTriggerConstant);
                    if (reads is not null && constant is not null && !ReferenceEquals(reads, constant))
                    {
                        return PyNodeText.Render(node);
                    }
                }
                else if (node.Kind == "Call" && node.Children[0] is { Kind: "Attribute", Name: "startswith" or "endswith" } method
                    && ReadsEnvironment(method.Children[0]) && node.Children.Skip(1).Any(a => a.Kind == "Str"))
                {
                    return PyNodeText.Render(node);
                }
            }

            return null;
        }

        private bool ReadsEnvironment(PyNode expression)
        {
            foreach (var node in expression.DescendantsAndSelf())
            {
                switch (node.Kind)
                {
                    case "Subscript" when Qualified(node.Children[0]) == "os.environ" && node.Child(1) is { Kind: "Str" } key && _a._trigger.MatchesName(key.Value):
                        return true;
                    case "Call":
                        var q = Qualified(node.Children[0]);
                        if (q is "os.environ.get" or "os.getenv" or "os.environ.__getitem__" && node.Child(1) is { Kind: "Str" } envKey && _a._trigger.MatchesName(envKey.Value))
                        {
                            return true;
                        }

                        if (_a._trigger.MatchesCall(q))
                        {
                            return true;
                        }

                        break;
                    case "Name" when _tainted.Contains(node.Name!) || _a._trigger.MatchesName(node.Name):
                        return true;
                    case "Attribute" when _a._trigger.MatchesName(node.Name):
                        return true;
                }
            }

            return false;
        }

        private static bool IsTriggerConstant(PyNode node) => node.Kind switch
        {
            "Num" => !(double.TryParse(node.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v is 0 or 1),
            "UnaryOp" when node.Name == "-" && node.Child(0) is { Kind: "Num" } n => n.Value is not ("1" or "1.0"),
            "Str" => node.Value is not ("0" or "1" or "-1" or ""),
            "Call" => node.Children.Skip(1).Any() && node.Children.Skip(1).All(a => a.Kind is "Num" or "Str") && (node.Children[0].Name ?? string.Empty) is "datetime" or "date",
            _ => false,
        };

        private bool IsRankZeroGuard(PyNode test) =>
            test.DescendantsAndSelf().Any(n =>
                (n.Kind == "Compare" && n.Name is "==" or "in" && n.Children.Any(c => c is { Kind: "Num", Value: "0" } || (c.Kind is "Tuple" or "tuple" or "list" && c.Children.Any(x => x is { Kind: "Num", Value: "0" })))
                    && n.Children.Any(c => Mentions(c, "rank")))
                || (n.Kind is "Attribute" or "Name" && RankZeroCalls.Contains(n.Name ?? string.Empty, StringComparer.Ordinal)));

        // ---- names -------------------------------------------------------------------------------------------------

        /// <summary>The dotted name an expression refers to, resolved through the imports (<c>np.load</c> is <c>numpy.load</c>), or null.</summary>
        public string? Qualified(PyNode node, int depth = 0)
        {
            if (depth > 64)
            {
                return null;
            }

            return node.Kind switch
            {
                "Name" => node.Name is { } name ? _imports.GetValueOrDefault(name, name) : null,
                "Attribute" => Qualified(node.Children[0], depth + 1) is { } parent ? parent + "." + node.Name : null,
                "Call" => Qualified(node.Children[0], depth + 1) is { } function ? function + "()" : null,
                _ => null,
            };
        }

        private bool IsPatchedTarget(string qualified) =>
            (qualified.StartsWith("torch.", StringComparison.Ordinal) || qualified == "torch")
            && !qualified.EndsWith("()", StringComparison.Ordinal)
            && !_a._patch.MatchesName(qualified);

        private string? InHotFunction()
        {
            for (var i = _functions.Count - 1; i >= 0; i--)
            {
                if (_a._stall.MatchesName(_functions[i]) || _functions[i].Contains("collate", StringComparison.Ordinal))
                {
                    return _functions[i];
                }
            }

            return null;
        }

        private static IEnumerable<PyNode> Keywords(PyNode call) => call.Children.Where(c => c.Kind == "Keyword" && c.Children.Count > 0);

        private static PyNode? Keyword(PyNode call, string name) => Keywords(call).FirstOrDefault(k => k.Name == name)?.Children[0];

        private static bool Mentions(PyNode node, string word) =>
            node.DescendantsAndSelf().Any(n => n.Kind is "Name" or "Attribute" && (n.Name ?? string.Empty).Contains(word, StringComparison.Ordinal)
                || (n.Kind == "Str" && n.Value == word));

        private static bool IsLearningRate(PyNode target) =>
            target switch
            {
                { Kind: "Subscript" } => target.Child(1) is { Kind: "Str", Value: "lr" or "learning_rate" },
                { Kind: "Attribute" or "Name" } => target.Name is "lr" or "learning_rate",
                _ => false,
            };

        private static bool IsNegativeNumber(PyNode node) =>
            (node is { Kind: "UnaryOp", Name: "-" } && node.Child(0) is { Kind: "Num" })
            || (node.Kind == "Num" && node.Value is { } v && v.StartsWith('-'));

        private static bool IsLiteralCommand(PyNode? command) =>
            command is not null && (command.Kind == "Str" || (command.Kind is "List" or "list" or "Tuple" or "tuple" && command.Children.All(c => c.Kind == "Str")));

        /// <summary>The words of a command given as a literal string or list (the program first), or none.</summary>
        private static List<string> CommandWords(PyNode? command)
        {
            if (command is null)
            {
                return [];
            }

            if (command.Kind == "Str")
            {
                return (command.Value ?? string.Empty).Split([' ', '\t', ';', '|', '&', '\n'], StringSplitOptions.RemoveEmptyEntries).ToList();
            }

            return command.Kind is "List" or "list" or "Tuple" or "tuple"
                ? command.Children.Where(c => c.Kind == "Str").Select(c => c.Value ?? string.Empty).ToList()
                : [];
        }

        private static string ShortName(string qualified) => qualified.Length <= 80 ? qualified : qualified[^80..];
    }
}
